import { InvalidInputError, MalformedBlockError } from '../errors.ts'

/**
 * The integer rule (SPEC §2.2). CBOR major types 0/1 hold integers in
 * [-2^64, 2^64-1]; such values MUST be encoded as CBOR integers. Values outside
 * that range (possible for uint256/int256) MUST be encoded as a byte string:
 * one sign byte (0x00 positive, 0x01 negative) followed by the magnitude,
 * big-endian, with no leading zero byte. A decoder rejects a "big" byte string
 * whose value would have fitted a CBOR integer, so every integer has exactly
 * one encoding.
 */
export const CBOR_INT_MAX = (1n << 64n) - 1n
export const CBOR_INT_MIN = -(1n << 64n)

export type IntKind = { signed: boolean; bits: number }

const kinds = new Map<string, IntKind>()

/**
 * The Solidity integer kind uint<bits> / int<bits> for bits in 8..256 in steps of 8, as one shared
 * frozen object per kind (so range lookups are memoized). Anything else is a programming error.
 */
function kindOf(signed: boolean, bits: number): IntKind {
  if (!Number.isInteger(bits) || bits < 8 || bits > 256 || bits % 8 !== 0) {
    throw new InvalidInputError(`${signed ? 'int' : 'uint'}${bits} is not a Solidity integer type; widths are 8..256 in steps of 8`)
  }
  const id = `${signed ? 'i' : 'u'}${bits}`
  let k = kinds.get(id)
  if (k === undefined) kinds.set(id, (k = Object.freeze({ signed, bits })))
  return k
}
/** uint<bits>, e.g. `uint(128)` for a Solidity uint128. */
export const uint = (bits: number): IntKind => kindOf(false, bits)
/** int<bits>, e.g. `int(24)` for a Solidity int24. */
export const int = (bits: number): IntKind => kindOf(true, bits)

export const UINT256: IntKind = uint(256)
export const INT256: IntKind = int(256)
export const UINT128: IntKind = uint(128)
export const INT128: IntKind = int(128)
export const UINT64: IntKind = uint(64)
export const INT64: IntKind = int(64)
export const UINT32: IntKind = uint(32)
export const UINT8: IntKind = uint(8)

const bounds = new Map<string, [bigint, bigint]>()
function computeRange(kind: IntKind): [bigint, bigint] {
  const id = `${kind.signed ? 'i' : 'u'}${kind.bits}`
  let r = bounds.get(id)
  if (r === undefined) {
    r = kind.signed ? [-(1n << BigInt(kind.bits - 1)), (1n << BigInt(kind.bits - 1)) - 1n] : [0n, (1n << BigInt(kind.bits)) - 1n]
    bounds.set(id, r)
  }
  return r
}
const R_UINT256 = computeRange(UINT256)
const R_INT256 = computeRange(INT256)
const R_UINT64 = computeRange(UINT64)

const frozenRanges = new WeakMap<IntKind, [bigint, bigint]>()

/**
 * [min, max] of a kind. This is on every field of every record, so the shared
 * kinds skip the lookup and other frozen kinds are memoized per object (a
 * frozen kind cannot change its width afterwards).
 */
export function rangeOf(kind: IntKind): [bigint, bigint] {
  if (kind === UINT256) return R_UINT256
  if (kind === INT256) return R_INT256
  if (kind === UINT64) return R_UINT64
  if (!Object.isFrozen(kind)) return computeRange(kind)
  let r = frozenRanges.get(kind)
  if (r === undefined) frozenRanges.set(kind, (r = computeRange(kind)))
  return r
}

export function checkInt(value: unknown, kind: IntKind, what: string): bigint {
  let v: bigint
  if (typeof value === 'bigint') v = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value)
  else if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) v = BigInt(value)
  else {
    throw new InvalidInputError(`${what} must be an integer (bigint, safe integer or decimal string), got ${describe(value)}; floats and hex strings are not accepted`)
  }
  const range = rangeOf(kind)
  const min = range[0]
  const max = range[1]
  if (v < min || v > max) {
    throw new InvalidInputError(`${what} = ${v} is out of range for ${kind.signed ? 'int' : 'uint'}${kind.bits} [${min}, ${max}]`)
  }
  return v
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** bigint -> IPLD value under the integer rule. */
export function intToIpld(v: bigint): number | bigint | Uint8Array {
  if (v >= CBOR_INT_MIN && v <= CBOR_INT_MAX) {
    return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v
  }
  const neg = v < 0n
  let mag = neg ? -v : v
  const out: number[] = []
  while (mag > 0n) {
    out.push(Number(mag & 0xffn))
    mag >>= 8n
  }
  out.push(neg ? 1 : 0)
  return Uint8Array.from(out.reverse())
}

/** IPLD value -> bigint, rejecting anything the integer rule forbids. */
export function intFromIpld(value: unknown, kind: IntKind, what: string): bigint {
  let v: bigint
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new MalformedBlockError(`${what} is not an integer (${value}); the block is not canonical Ark data`)
    v = BigInt(value)
  } else if (typeof value === 'bigint') {
    v = value
  } else if (value instanceof Uint8Array) {
    if (value.length < 2 || (value[0] !== 0 && value[0] !== 1) || value[1] === 0) {
      throw new MalformedBlockError(`${what} is a malformed big-integer byte string; the block is not canonical Ark data`)
    }
    let mag = 0n
    for (let i = 1; i < value.length; i++) mag = (mag << 8n) | BigInt(value[i]!)
    v = value[0] === 1 ? -mag : mag
    if (v >= CBOR_INT_MIN && v <= CBOR_INT_MAX) {
      throw new MalformedBlockError(`${what} is encoded as a byte string but fits a CBOR integer; the block is not canonical Ark data`)
    }
  } else {
    throw new MalformedBlockError(`${what} must be an integer, got ${describe(value)}; the block is not canonical Ark data`)
  }
  try {
    return checkInt(v, kind, what)
  } catch (cause) {
    throw new MalformedBlockError(`${what} is out of range in a stored block; the block is not valid Ark data`, { cause })
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return `the number ${value}`
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`
  if (value === null) return 'null'
  return typeof value
}
