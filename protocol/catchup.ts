import * as dagCbor from '@ipld/dag-cbor'
import { decodeCertificate } from './certificate.ts'
import { ProtocolError } from './errors.ts'
import { decodeWire, type WireShape } from './wire/envelope.ts'

/**
 * The certificate catch-up messages (PROTOCOL.md §8.9), pure: "give me your
 * certificates for blocks >= from", answered one bounded page at a time with
 * a cursor (`next`). Each message is one length-prefixed frame (unsigned
 * varint, then dag-cbor) so neither side waits for the other to close. The
 * libp2p transport is node/p2p/catchup.ts; the answer is untrusted: the
 * caller verifies every certificate against its operator set before keeping it.
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
  /**
   * pages in a row, per catch-up from one peer, that brought nothing new to the client (only
   * certificates it already holds) before the client stops asking that peer (PROTOCOL.md §8.9)
   */
  maxStalePages: number
}

export const CATCHUP_LIMITS: Readonly<CatchupLimits> = Object.freeze({
  maxRequestBytes: 64,
  maxCertificates: 256,
  maxResponseBytes: 1024 * 1024,
  timeoutMs: 10_000,
  maxPages: 1024,
  maxStalePages: 4,
})

export interface CatchupPage {
  /** certificate blocks, ascending by block number, all >= the requested `from` */
  certificates: Uint8Array[]
  /** where the next page starts (a block number > every block in this page); absent on the last page */
  next?: bigint
}

/** Certificates the server holds from a block on, ascending by block: at least `limit` of them when it has that many (more is fine). */
export type CertificatesFrom = (from: bigint, limit: number) => Iterable<Uint8Array>

/** Bytes of a frame's varint length prefix at most. */
const MAX_PREFIX = 4

export function encodeFrame(message: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = message.length
  for (; n >= 0x80; n = Math.floor(n / 0x80)) prefix.push((n % 0x80) | 0x80)
  prefix.push(n)
  return Buffer.concat([Uint8Array.from(prefix), message])
}

/** Where a frame's message starts and how long it is; undefined while the prefix is incomplete. */
export function frameHeader(buf: Uint8Array, max: number): { offset: number; length: number } | undefined {
  let length = 0
  for (let i = 0, scale = 1; i < buf.length; i++, scale *= 0x80) {
    if (i >= MAX_PREFIX) throw new ProtocolError('MALFORMED', 'catch-up frame length prefix too long')
    length += (buf[i]! & 0x7f) * scale
    if ((buf[i]! & 0x80) === 0) {
      if (length > max) throw new ProtocolError('OVERSIZED', `catch-up message of ${length} bytes is over the limit of ${max}`)
      return { offset: i + 1, length }
    }
  }
  return undefined
}

function uint(v: unknown, what: string): bigint {
  if ((typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n)) return BigInt(v)
  throw new ProtocolError('MALFORMED', `catch-up ${what} must be a non-negative integer`)
}

export interface CatchupRequest {
  from: bigint
  limit: number | undefined
}

export const CATCHUP_REQUEST_WIRE: WireShape = { name: 'catch-up request', maxBytes: CATCHUP_LIMITS.maxRequestBytes, fields: ['from'], optional: ['limit'] }
export const CATCHUP_PAGE_WIRE: WireShape = { name: 'catch-up page', maxBytes: CATCHUP_LIMITS.maxResponseBytes, fields: ['certificates'], optional: ['next'] }

export function encodeCatchupRequest(from: bigint, limit?: number): Uint8Array {
  return dagCbor.encode(limit === undefined ? { from } : { from, limit })
}

export function decodeCatchupRequest(bytes: Uint8Array, maxBytes = CATCHUP_LIMITS.maxRequestBytes): CatchupRequest {
  return decodeWire(
    bytes,
    { ...CATCHUP_REQUEST_WIRE, maxBytes },
    (v) => {
      const limit = v.limit === undefined ? undefined : uint(v.limit, 'limit')
      if (limit !== undefined && limit > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('MALFORMED', 'catch-up limit is out of range')
      return { from: uint(v.from, 'from'), limit: limit === undefined ? undefined : Number(limit) }
    },
    (r) => encodeCatchupRequest(r.from, r.limit),
  )
}

export function encodeCatchupPage(page: CatchupPage): Uint8Array {
  return dagCbor.encode(page.next === undefined ? { certificates: page.certificates } : { certificates: page.certificates, next: page.next })
}

/**
 * A page answering `from` with at most `limit` certificates: the envelope, then the rules a client
 * holds the server to (PROTOCOL.md §8.9) — a list of byte strings, no more than asked for, each a
 * certificate block for a block >= `from`, ascending by block, no (block, kind) twice,
 * and a cursor past `from` and past every block sent. A page that breaks one of them ends the
 * catch-up from that peer. Signatures are the caller's to verify, one certificate at a time.
 */
export function decodeCatchupPage(bytes: Uint8Array, request: { from: bigint; limit: number }, maxBytes = CATCHUP_LIMITS.maxResponseBytes): CatchupPage {
  return decodeWire(bytes, { ...CATCHUP_PAGE_WIRE, maxBytes }, (v) => pageFromValue(v, request), encodeCatchupPage)
}

function pageFromValue(v: Record<string, unknown>, request: { from: bigint; limit: number }): CatchupPage {
  const certs = v.certificates
  if (!Array.isArray(certs) || !certs.every((c) => c instanceof Uint8Array)) throw new ProtocolError('MALFORMED', 'catch-up page certificates must be a list of byte strings')
  if (certs.length > request.limit) throw new ProtocolError('MALFORMED', `catch-up page holds ${certs.length} certificates, over the ${request.limit} asked for`)
  let last: { block: bigint; kinds: Set<number> } | undefined
  for (const c of certs as Uint8Array[]) {
    const { blockNumber: block, kind } = decodeCertificate(c).body
    if (block < request.from) throw new ProtocolError('MALFORMED', `catch-up page goes backwards: block ${block} is before the requested ${request.from}`)
    if (last !== undefined && (block < last.block || (block === last.block && last.kinds.has(kind)))) throw new ProtocolError('MALFORMED', `catch-up page repeats or is out of order at block ${block} kind ${kind}`)
    if (last?.block === block) last.kinds.add(kind)
    else last = { block, kinds: new Set([kind]) }
  }
  if (v.next === undefined) return { certificates: certs as Uint8Array[] }
  const next = uint(v.next, 'next')
  if (next <= request.from) throw new ProtocolError('MALFORMED', `catch-up cursor ${next} does not move past ${request.from}`)
  if (last !== undefined && next <= last.block) throw new ProtocolError('MALFORMED', `catch-up cursor ${next} does not move past block ${last.block} of its own page`)
  return { certificates: certs as Uint8Array[], next }
}

/**
 * One page of the answer to `from`: certificates in ascending block order up
 * to `maxCertificates` and about `maxResponseBytes` encoded, cut between
 * blocks (a block's certificates, one per kind, stay together; a first block
 * always goes in whole), with `next` = the first block left out when
 * anything is. `available` may be cut short at `hint` entries (the server
 * asks its store for one more than a page), so when all of a full hint was
 * used the page still says where to go on.
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
