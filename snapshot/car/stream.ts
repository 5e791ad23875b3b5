import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { CID_BYTES, cidFromBinary } from '../codec/block.ts'
import { hasArkPrefix } from '../codec/links.ts'
import { MalformedCarError } from './malformed-car-error.ts'

export interface CarBlock {
  cid: CID
  /** a view of the received bytes (not copied) */
  bytes: Uint8Array
}

/** Sections larger than this are refused before they are buffered (a block is at most 1 MiB). */
export const MAX_CAR_SECTION = (1 << 20) + 256

/**
 * The one CARv1 parser (readCar feeds it a whole file as one chunk).
 * Incremental CARv1 reader: feed it chunks as they arrive (`push`), take the
 * complete blocks each chunk finishes, and call `end()` when the stream ends
 * (it throws if the stream stopped inside a section). Checks framing only:
 * hash-check and place each block yourself. A block's bytes are a view of the
 * chunk they arrived in.
 */
export class CarStreamReader {
  roots: CID[] | undefined
  /** bytes consumed so far (header and complete sections) */
  offset = 0
  private pending: Uint8Array = new Uint8Array(0)
  private readonly maxSection: number
  /** how errors name the input: a file is re-downloaded or re-exported, a stream was cut short */
  private readonly source: 'file' | 'stream'

  constructor(options: { maxSection?: number; source?: 'file' | 'stream' } = {}) {
    this.maxSection = options.maxSection ?? MAX_CAR_SECTION
    this.source = options.source ?? 'stream'
  }

  /** Blocks completed by this chunk, in stream order. */
  push(chunk: Uint8Array): CarBlock[] {
    let buf: Uint8Array
    if (this.pending.length === 0) buf = chunk
    else {
      buf = new Uint8Array(this.pending.length + chunk.length)
      buf.set(this.pending)
      buf.set(chunk, this.pending.length)
    }
    const out: CarBlock[] = []
    let o = 0
    for (;;) {
      const v = readVarint(buf, o)
      if (v === undefined) break
      const [len, start] = v
      if (len === 0) throw new MalformedCarError(`CAR stream has an empty section at byte ${this.offset + o}`)
      if (len > this.maxSection) throw new MalformedCarError(`CAR stream section at byte ${this.offset + o} claims ${len} bytes, over the ${this.maxSection}-byte limit`)
      if (start + len > buf.length) break
      const body = buf.subarray(start, start + len)
      if (this.roots === undefined) this.roots = parseHeader(body)
      else out.push(parseSection(body, this.offset + o))
      o = start + len
    }
    this.offset += o
    // keep the unfinished tail as its own copy so the chunk it came from can be released
    this.pending = o === buf.length ? new Uint8Array(0) : buf.slice(o)
    return out
  }

  /** The stream ended: anything left over is a truncated section. */
  end(): void {
    if (this.source === 'file') {
      if (this.roots === undefined) throw new MalformedCarError('CAR file is truncated inside its header; re-download or re-export it')
      if (this.pending.length > 0) throw new MalformedCarError(`CAR file is truncated in a section at byte ${this.offset} (${this.pending.length} bytes of it); re-download or re-export it`)
      return
    }
    if (this.roots === undefined) throw new MalformedCarError('CAR stream ended before its header was complete')
    if (this.pending.length > 0) throw new MalformedCarError(`CAR stream ended inside a section at byte ${this.offset} (${this.pending.length} bytes of it); the transfer was cut short`)
  }

  /** Bytes received but not yet part of a complete section. */
  get buffered(): number {
    return this.pending.length
  }
}

/** [value, offset after it], or undefined when the buffer ends inside the varint. */
function readVarint(bytes: Uint8Array, offset: number): [number, number] | undefined {
  let value = 0
  let shift = 0
  for (let i = offset; i < offset + 8; i++) {
    if (i >= bytes.length) return undefined
    const b = bytes[i]!
    value += (b & 0x7f) * 2 ** shift
    shift += 7
    if ((b & 0x80) === 0) return [value, i + 1]
  }
  throw new MalformedCarError(`CAR stream has a bad section length at byte ${offset}`)
}

function parseHeader(body: Uint8Array): CID[] {
  let header: { roots?: unknown; version?: unknown }
  try {
    header = dagCbor.decode(body) as typeof header
  } catch (cause) {
    throw new MalformedCarError('CAR header is not valid dag-cbor; this is not a CAR stream', { cause })
  }
  if (header?.version !== 1) throw new MalformedCarError(`CAR version ${String(header?.version)} is not supported; Ark reads CARv1`)
  if (!Array.isArray(header.roots) || header.roots.length === 0) throw new MalformedCarError('CAR header has no roots')
  return header.roots.map((r) => {
    const cid = CID.asCID(r)
    if (cid === null) throw new MalformedCarError('CAR header root is not a CID')
    return cid
  })
}

function parseSection(body: Uint8Array, at: number): CarBlock {
  if (body.length >= CID_BYTES && hasArkPrefix(body, 0)) return { cid: cidFromBinary(body.subarray(0, CID_BYTES)), bytes: body.subarray(CID_BYTES) }
  try {
    const [cid, bytes] = CID.decodeFirst(body)
    return { cid, bytes }
  } catch (cause) {
    throw new MalformedCarError(`CAR section at byte ${at} has an unreadable CID`, { cause })
  }
}
