import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import { checkBlock, CID_BYTES, cidFromBinary } from '../codec/block.ts'
import { hasArkPrefix } from '../codec/links.ts'
import { ArkError, type ArkErrorOptions } from '../ark-error.ts'
import { MemoryBlockStore, type BlockStore } from '../store.ts'

export class MalformedCarError extends ArkError {
  override readonly name = 'MalformedCarError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('MALFORMED_CAR', message, options)
  }
}

/**
 * The one CARv1 framer (issue 16): the header {roots, version: 1} behind its
 * varint length. Every CAR Ark writes (files, gateway streams, the staging
 * file of a fetch) is framed by carHeader and carSection, so they are
 * byte-identical for the same blocks.
 */
export function carHeader(roots: readonly CID[]): Uint8Array {
  const header = dagCbor.encode({ roots, version: 1 })
  return concat([varint.encodeTo(header.length, new Uint8Array(varint.encodingLength(header.length))), header])
}

/** One block's section: varint(len(cid)+len(bytes)) || cid || bytes, as parts (no copy of the block). */
export function carSection(cid: CID, bytes: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const len = cid.bytes.length + bytes.length
  const v = new Uint8Array(varint.encodingLength(len))
  varint.encodeTo(len, v)
  return [v, cid.bytes, bytes]
}

/**
 * Frames blocks as they come into chunks of about `chunkBytes` (the last may
 * be smaller): the caller decides where they go (file, HTTP response, hash).
 */
export async function* frameCar(roots: readonly CID[], blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }> | Iterable<{ cid: CID; bytes: Uint8Array }>, chunkBytes = 1 << 20): AsyncGenerator<Uint8Array> {
  let batch: Uint8Array[] = [carHeader(roots)]
  let size = batch[0]!.length
  for await (const { cid, bytes } of blocks) {
    for (const p of carSection(cid, bytes)) {
      batch.push(p)
      size += p.length
    }
    if (size >= chunkBytes) {
      yield concat(batch)
      batch = []
      size = 0
    }
  }
  if (batch.length > 0) yield concat(batch)
}

/** CARv1 of the blocks `cids` names, read from `store` in that order. */
export async function* writeCar(roots: CID[], cids: AsyncIterable<CID> | Iterable<CID>, store: BlockStore): AsyncGenerator<Uint8Array> {
  yield* frameCar(roots, (async function* () {
    for await (const cid of cids) {
      const got = store.get(cid)
      yield { cid, bytes: got instanceof Promise ? await got : got }
    }
  })())
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function readVarint(bytes: Uint8Array, offset: number, what: string): [number, number] {
  let value = 0
  let shift = 0
  for (let i = offset; i < bytes.length && i < offset + 8; i++) {
    const b = bytes[i]!
    value += (b & 0x7f) * 2 ** shift
    shift += 7
    if ((b & 0x80) === 0) return [value, i + 1]
  }
  throw new MalformedCarError(`CAR file is truncated or corrupt: bad varint in ${what} at byte ${offset}; re-download or re-export it`)
}

export interface CarContents {
  roots: CID[]
  store: MemoryBlockStore
  blocks: number
  bytes: number
}

/**
 * Parse a whole CARv1 and hash-check every block before accepting it. Any
 * problem (truncation, bad header, a block whose bytes don't match its CID,
 * a non-dag-cbor block) rejects the whole file.
 */
export function readCar(bytes: Uint8Array, into: MemoryBlockStore = new MemoryBlockStore()): CarContents {
  const [hlen, hstart] = readVarint(bytes, 0, 'the header length')
  if (hlen === 0 || hstart + hlen > bytes.length) throw new MalformedCarError('CAR file is truncated inside its header; re-download or re-export it')
  let header: { roots?: unknown; version?: unknown }
  try {
    header = dagCbor.decode(bytes.subarray(hstart, hstart + hlen)) as typeof header
  } catch (cause) {
    throw new MalformedCarError('CAR header is not valid dag-cbor; this is not a CAR file', { cause })
  }
  if (header?.version !== 1) throw new MalformedCarError(`CAR version ${String(header?.version)} is not supported; Ark reads CARv1`)
  if (!Array.isArray(header.roots) || header.roots.length === 0) throw new MalformedCarError('CAR header has no roots; an Ark CAR names its snapshot root')
  const roots = header.roots.map((r) => CID.asCID(r) ?? (() => {
    throw new MalformedCarError('CAR header root is not a CID')
  })())
  // CID bytes are plain Uint8Array views (as CID.decodeFirst makes them) even when the file is a Buffer
  const plain = bytes instanceof Buffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes
  let o = hstart + hlen
  let blocks = 0
  let total = 0
  while (o < bytes.length) {
    const [len, start] = readVarint(bytes, o, `block ${blocks}`)
    if (len === 0 || start + len > bytes.length) throw new MalformedCarError(`CAR file is truncated in block ${blocks} (needs ${len} bytes at offset ${start}, file has ${bytes.length}); re-download or re-export it`)
    let cid: CID
    let rest: Uint8Array
    if (len >= CID_BYTES && hasArkPrefix(bytes, start)) {
      // The only CID form an Ark block may have: build it around views of the
      // file, as CID.decodeFirst would return for these bytes, without its varint walk.
      cid = cidFromBinary(plain.subarray(start, start + CID_BYTES))
      rest = bytes.subarray(start + CID_BYTES, start + len)
    } else {
      try {
        ;[cid, rest] = CID.decodeFirst(bytes.subarray(start, start + len))
      } catch (cause) {
        throw new MalformedCarError(`CAR block ${blocks} at offset ${start} has an unreadable CID`, { cause })
      }
    }
    checkBlock(cid, rest)
    into.put({ cid, bytes: rest })
    blocks++
    total += rest.length
    o = start + len
  }
  return { roots, store: into, blocks, bytes: total }
}
