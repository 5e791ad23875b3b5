/**
 * Allocation-free canonicality check of a derivatives account record (the
 * `isCanonical` of the derivatives schema): walks the bytes once, building no
 * record, no bigint and no string. It answers true only for bytes that
 * decodeAccount accepts; anything unusual (or any doubt, e.g. an INT256 at
 * its 2^255 boundary) answers false, and the caller then runs decodeAccount,
 * which accepts it or throws its precise error. test/snapshot/encoder-
 * equivalence.test.ts checks the one-way agreement on valid and mutated bytes.
 *
 * Order checks compare encodings as bytes: shortest-form CBOR encodings of
 * unsigned integers (small, then 1/2/4/8-byte heads, then big-integer byte
 * strings with a 0x00 sign byte and no leading zero, longer = larger) sort
 * bytewise exactly as the values do, and they are self-delimiting, so an
 * option series (market, isCall, strike, expiry) compares as one byte range.
 */

const UINT64 = 0
const UINT256 = 1
const INT256 = 2

/**
 * End offset of a canonical integer of `kind` starting at p, or -1 (not
 * canonical, out of range, or not handled here). With nonZero, zero is
 * refused too.
 */
function intEnd(b: Uint8Array, p: number, kind: number, nonZero: boolean): number {
  if (p >= b.length) return -1
  const ib = b[p]!
  const major = ib >> 5
  if (major === 0 || major === 1) {
    if (major === 1 && kind !== INT256) return -1
    const info = ib & 31
    if (info < 24) return nonZero && ib === 0 ? -1 : p + 1
    if (info === 24) return p + 2 <= b.length && b[p + 1]! >= 24 ? p + 2 : -1
    if (info === 25) return p + 3 <= b.length && b[p + 1] !== 0 ? p + 3 : -1
    if (info === 26) return p + 5 <= b.length && (b[p + 1] !== 0 || b[p + 2] !== 0) ? p + 5 : -1
    if (info === 27) return p + 9 <= b.length && (b[p + 1] !== 0 || b[p + 2] !== 0 || b[p + 3] !== 0 || b[p + 4] !== 0) ? p + 9 : -1
    return -1
  }
  if (major !== 2 || kind === UINT64) return -1
  let len: number
  let at: number
  if (ib >= 0x40 && ib < 0x58) {
    len = ib - 0x40
    at = p + 1
  } else if (ib === 0x58 && p + 1 < b.length && b[p + 1]! >= 24) {
    len = b[p + 1]!
    at = p + 2
  } else return -1
  const m = len - 1 // magnitude bytes after the sign byte
  if (at + len > b.length || m < 9 || m > 32) return -1
  const sign = b[at]!
  const first = b[at + 1]!
  if (first === 0 || sign > 1 || (sign === 1 && kind !== INT256)) return -1
  // a magnitude of exactly 2^64 negated is -2^64, which fits a CBOR integer: leave it to the decoder
  if (sign === 1 && m === 9 && first === 1) {
    let rest = 0
    for (let i = at + 2; i < at + len; i++) rest |= b[i]!
    if (rest === 0) return -1
  }
  if (kind === INT256 && m === 32 && first >= 0x80) return -1
  return at + len
}

function compare(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0)
  for (let i = 0; i < n; i++) {
    const d = b[a0 + i]! - b[b0 + i]!
    if (d !== 0) return d
  }
  return a1 - a0 - (b1 - b0)
}

/** Array head of a list (short or one-byte length): [count, offset after], or undefined. */
function listHead(b: Uint8Array, p: number): [number, number] | undefined {
  const ib = b[p]
  if (ib === undefined) return undefined
  if (ib >= 0x80 && ib < 0x98) return [ib - 0x80, p + 1]
  if (ib === 0x98 && p + 1 < b.length && b[p + 1]! >= 24) return [b[p + 1]!, p + 2]
  return undefined
}

/** True only if decodeAccount(bytes) would accept them (false: unsure, decode to find out). */
export function isCanonicalAccount(b: Uint8Array): boolean {
  if (b[0] !== 0x83) return false
  let total = 0
  // collateral: [[asset(20 bytes), amount uint256 != 0], ...], assets strictly increasing
  let h = listHead(b, 1)
  if (h === undefined) return false
  let p = h[1]
  let prev = -1
  for (let i = 0; i < h[0]; i++) {
    if (p + 22 > b.length || b[p] !== 0x82 || b[p + 1] !== 0x54) return false
    const asset = p + 2
    if (prev >= 0 && compare(b, prev, prev + 20, asset, asset + 20) >= 0) return false
    prev = asset
    p = intEnd(b, asset + 20, UINT256, true)
    if (p < 0) return false
  }
  total += h[0]
  // perps: [[market uint64, size int256 != 0, entryPrice uint256, fundingIndex int256], ...], markets strictly increasing
  h = listHead(b, p)
  if (h === undefined) return false
  p = h[1]
  let prevStart = -1
  let prevEnd = -1
  for (let i = 0; i < h[0]; i++) {
    if (b[p] !== 0x84) return false
    const start = p + 1
    const end = intEnd(b, start, UINT64, false)
    if (end < 0 || (prevStart >= 0 && compare(b, prevStart, prevEnd, start, end) >= 0)) return false
    prevStart = start
    prevEnd = end
    p = intEnd(b, end, INT256, true)
    if (p >= 0) p = intEnd(b, p, UINT256, false)
    if (p >= 0) p = intEnd(b, p, INT256, false)
    if (p < 0) return false
  }
  total += h[0]
  // options: [[market uint64, isCall bool, strike uint256, expiry uint64, size int256 != 0], ...], series strictly increasing
  h = listHead(b, p)
  if (h === undefined) return false
  p = h[1]
  prevStart = -1
  for (let i = 0; i < h[0]; i++) {
    if (b[p] !== 0x85) return false
    const start = p + 1
    let q = intEnd(b, start, UINT64, false)
    if (q < 0 || (b[q] !== 0xf4 && b[q] !== 0xf5)) return false
    q = intEnd(b, q + 1, UINT256, false)
    if (q >= 0) q = intEnd(b, q, UINT64, false)
    if (q < 0 || (prevStart >= 0 && compare(b, prevStart, prevEnd, start, q) >= 0)) return false
    prevStart = start
    prevEnd = q
    p = intEnd(b, q, INT256, true)
    if (p < 0) return false
  }
  total += h[0]
  return p === b.length && total > 0
}
