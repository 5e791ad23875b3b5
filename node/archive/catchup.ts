import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { decodeCertificate } from '../../protocol/certificate.ts'

/**
 * Certificate catch-up over a libp2p request/response protocol: "give me your
 * certificates for blocks >= from", answered one bounded page at a time with
 * a cursor (`next`) to ask for the rest. Both messages are length-prefixed
 * (unsigned varint, then dag-cbor), so neither side waits for the other to
 * close its end. The answer is untrusted: the caller verifies every
 * certificate against its operator set before keeping it.
 */
export const CATCHUP_PROTOCOL = '/ark/certificates/2.0.0'
export interface CatchupLimits {
  maxRequestBytes: number
  /** certificates per page */
  maxCertificates: number
  /** bytes per page (the encoded response); a page always holds at least one block's certificates */
  maxResponseBytes: number
  /** one request/response exchange, each side */
  timeoutMs: number
  /** pages one catch-up follows from one peer */
  maxPages: number
}

export const CATCHUP_LIMITS: Readonly<CatchupLimits> = Object.freeze({
  maxRequestBytes: 64,
  maxCertificates: 256,
  maxResponseBytes: 1024 * 1024,
  timeoutMs: 10_000,
  maxPages: 1024,
})

export interface CatchupPage {
  /** certificate blocks, ascending by block number, all >= the requested `from` */
  certificates: Uint8Array[]
  /** where the next page starts (a block number > every block in this page); absent on the last page */
  next?: bigint
}

/** Certificates the server holds from a block on, ascending by block: at least `limit` of them when it has that many (more is fine). */
export type CertificatesFrom = (from: bigint, limit: number) => Iterable<Uint8Array>

export class CatchupError extends Error {
  override readonly name = 'CatchupError'
}

function varint(n: number): Uint8Array {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80)
  out.push(n)
  return Uint8Array.from(out)
}

/** Length of a frame from its prefix: undefined while the prefix is incomplete. */
function frameHeader(buf: Uint8Array, max: number): { offset: number; length: number } | undefined {
  let length = 0
  for (let i = 0, scale = 1; i < buf.length; i++, scale *= 0x80) {
    if (i >= 4) throw new CatchupError('catch-up frame length prefix too long')
    length += (buf[i]! & 0x7f) * scale
    if ((buf[i]! & 0x80) === 0) {
      if (length > max) throw new CatchupError(`catch-up message of ${length} bytes is over the limit of ${max}`)
      return { offset: i + 1, length }
    }
  }
  return undefined
}

/** Read exactly one length-prefixed message; the signal aborts the stream (and so the read). */
async function readFrame(stream: Stream, max: number, signal: AbortSignal): Promise<Uint8Array> {
  signal.throwIfAborted()
  const onAbort = (): void => stream.abort(signal.reason instanceof Error ? signal.reason : new CatchupError('catch-up aborted'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    let buf: Uint8Array = new Uint8Array(0)
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      buf = buf.length === 0 ? bytes : Buffer.concat([buf, bytes])
      const h = frameHeader(buf, max)
      if (h === undefined) continue
      if (buf.length > h.offset + h.length) throw new CatchupError('catch-up peer sent bytes after its message')
      if (buf.length === h.offset + h.length) return buf.subarray(h.offset)
    }
    signal.throwIfAborted()
    throw new CatchupError('catch-up stream ended before a complete message')
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function writeFrame(stream: Stream, message: Uint8Array, signal: AbortSignal): Promise<void> {
  const frame = Buffer.concat([varint(message.length), message])
  for (let i = 0; i < frame.length; i += 64 * 1024) {
    signal.throwIfAborted()
    if (!stream.send(frame.subarray(i, i + 64 * 1024))) {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          stream.removeEventListener('drain', done)
          signal.removeEventListener('abort', done)
          if (signal.aborted) reject(signal.reason as Error)
          else resolve()
        }
        stream.addEventListener('drain', done, { once: true })
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }
}

function uint(v: unknown, what: string): bigint {
  if ((typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n)) return BigInt(v)
  throw new CatchupError(`catch-up ${what} must be a non-negative integer`)
}

export function encodeCatchupRequest(from: bigint, limit?: number): Uint8Array {
  return dagCbor.encode(limit === undefined ? { from } : { from, limit })
}

export function decodeCatchupRequest(bytes: Uint8Array): { from: bigint; limit: number | undefined } {
  const req = dagCbor.decode(bytes) as Record<string, unknown> | null
  if (req === null || typeof req !== 'object' || Array.isArray(req) || Object.keys(req).some((k) => k !== 'from' && k !== 'limit')) throw new CatchupError('catch-up request must be {from, limit?}')
  return { from: uint(req.from, 'from'), limit: req.limit === undefined ? undefined : Number(uint(req.limit, 'limit')) }
}

/**
 * One page of the answer to `from`: certificates in ascending block order up
 * to `maxCertificates` and about `maxResponseBytes` encoded, cut between
 * blocks (a block's certificates, one per kind, stay together; a first block
 * always goes in whole), with `next` = the first block left out when
 * anything is. `available` may be cut short at `hint` entries (the server
 * asks its store for one more than a page), so when all of a full hint was
 * used the page still says where to go on. Pure.
 */
export function catchupPage(available: Iterable<Uint8Array>, from: bigint, limits: Pick<CatchupLimits, 'maxCertificates' | 'maxResponseBytes'> = CATCHUP_LIMITS, hint = Number.POSITIVE_INFINITY): CatchupPage {
  const items: { block: bigint; bytes: Uint8Array }[] = []
  let seen = 0
  for (const bytes of available) {
    seen++
    const block = decodeCertificate(bytes).body.blockNumber
    if (block >= from) items.push({ block, bytes })
  }
  const page: Uint8Array[] = []
  // the envelope {certificates, next} and each entry's byte-string header
  let size = 64
  let i = 0
  while (i < items.length && page.length < limits.maxCertificates) {
    let j = i
    let groupSize = 0
    for (; j < items.length && items[j]!.block === items[i]!.block; j++) groupSize += items[j]!.bytes.length + 9
    if (page.length > 0 && (page.length + (j - i) > limits.maxCertificates || size + groupSize > limits.maxResponseBytes)) break
    for (let k = i; k < j; k++) page.push(items[k]!.bytes)
    size += groupSize
    i = j
  }
  if (i < items.length) return { certificates: page, next: items[i]!.block }
  if (seen >= hint && items.length > 0) return { certificates: page, next: items[items.length - 1]!.block + 1n }
  return { certificates: page }
}

/** Answer catch-up requests from this node's certificates. */
export async function serveCatchup(libp2p: Libp2p, certificatesFrom: CertificatesFrom, limits: Partial<CatchupLimits> = {}): Promise<void> {
  const l = { ...CATCHUP_LIMITS, ...limits }
  await libp2p.handle(CATCHUP_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(l.timeoutMs)
    try {
      const req = decodeCatchupRequest(await readFrame(stream, l.maxRequestBytes, signal))
      const max = Math.min(req.limit ?? l.maxCertificates, l.maxCertificates)
      if (max < 1) throw new CatchupError('catch-up limit must be at least 1')
      const page = catchupPage(certificatesFrom(req.from, max + 1), req.from, { maxCertificates: max, maxResponseBytes: l.maxResponseBytes }, max + 1)
      await writeFrame(stream, dagCbor.encode(page.next === undefined ? { certificates: page.certificates } : page), signal)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

/** One page of a peer's certificates from `from` on; the signal bounds the whole exchange. */
export async function requestCertificatePage(libp2p: Libp2p, peer: PeerId, from: bigint, signal: AbortSignal, options: { limit?: number; maxResponseBytes?: number } = {}): Promise<CatchupPage> {
  const stream = await libp2p.dialProtocol(peer, CATCHUP_PROTOCOL, { signal })
  try {
    await writeFrame(stream, encodeCatchupRequest(from, options.limit), signal)
    const res = dagCbor.decode(await readFrame(stream, options.maxResponseBytes ?? CATCHUP_LIMITS.maxResponseBytes, signal)) as Record<string, unknown> | null
    await stream.close({ signal }).catch(() => {})
    const certs = res?.certificates
    if (!Array.isArray(certs) || !certs.every((c) => c instanceof Uint8Array)) throw new CatchupError('malformed catch-up response: certificates must be a list of byte strings')
    const max = options.limit ?? CATCHUP_LIMITS.maxCertificates
    if (certs.length > max) throw new CatchupError(`catch-up response holds ${certs.length} certificates, over the ${max} asked for`)
    if (res!.next === undefined) return { certificates: certs as Uint8Array[] }
    const next = uint(res!.next, 'next')
    if (next <= from) throw new CatchupError(`catch-up cursor ${next} does not move past ${from}`)
    return { certificates: certs as Uint8Array[], next }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** The first page of a peer's certificates from `from` on (see requestCertificatePage, certificatePages). */
export async function requestCertificates(libp2p: Libp2p, peer: PeerId, from: bigint, signal: AbortSignal): Promise<Uint8Array[]> {
  return (await requestCertificatePage(libp2p, peer, from, signal)).certificates
}

/**
 * Every certificate a peer holds from `from` on, page by page (each page
 * bounded by `pageTimeoutMs` and the signal), at most `maxPages` pages.
 */
export async function* certificatePages(libp2p: Libp2p, peer: PeerId, from: bigint, options: { signal: AbortSignal; pageTimeoutMs?: number; maxPages?: number; limit?: number }): AsyncGenerator<Uint8Array[]> {
  let cursor: bigint | undefined = from
  for (let pages = 0; cursor !== undefined && pages < (options.maxPages ?? CATCHUP_LIMITS.maxPages); pages++) {
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.pageTimeoutMs ?? CATCHUP_LIMITS.timeoutMs)])
    const page = await requestCertificatePage(libp2p, peer, cursor, signal, options.limit === undefined ? {} : { limit: options.limit })
    yield page.certificates
    cursor = page.next
  }
}
