import { InvalidInputError } from '../errors.ts'

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/

export function hexToBytes(hex: string, what = 'value', length?: number): Uint8Array {
  // Buffer.from stops at the first non-hex digit, so a length check is a full validity check.
  const bytes = typeof hex === 'string' && hex.length % 2 === 0 && hex.startsWith('0x') ? Buffer.from(hex.slice(2), 'hex') : undefined
  if (bytes === undefined || bytes.length * 2 !== hex.length - 2 || (bytes.length === 0 && !HEX.test(hex))) {
    throw new InvalidInputError(`${what} must be a 0x-prefixed hex string with an even number of digits, got ${JSON.stringify(String(hex).slice(0, 80))}`)
  }
  if (length !== undefined && bytes.length !== length) {
    throw new InvalidInputError(`${what} must be ${length} bytes, got ${bytes.length} bytes (${hex.slice(0, 80)}); pass a ${length}-byte value`)
  }
  return bytes
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')
const hexOut = Buffer.alloc(2 + 2 * 64)

export function bytesToHex(bytes: Uint8Array): `0x${string}` {
  if (bytes.length > 64) return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
  // Short values (keys, addresses, hashes) are the common case: one string allocation, no Buffer wrapper.
  hexOut[0] = 0x30
  hexOut[1] = 0x78
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    hexOut[2 + 2 * i] = HEX_DIGITS[b >> 4]!
    hexOut[3 + 2 * i] = HEX_DIGITS[b & 15]!
  }
  return hexOut.toString('latin1', 0, 2 + 2 * bytes.length) as `0x${string}`
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Address (20 bytes) from hex; case is ignored, length is not. */
export function addressToBytes(address: string, what = 'address'): Uint8Array {
  return hexToBytes(address, what, 20)
}

/** Nibble value of each char code, -1 for non-hex. */
const NIBBLE = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i
for (let i = 0; i < 6; i++) {
  NIBBLE[97 + i] = 10 + i
  NIBBLE[65 + i] = 10 + i
}

/**
 * `0x` + 40 hex digits (any case) as 20 bytes, or undefined for anything
 * else — exactly the strings addressToBytes accepts, parsed without the
 * Buffer round trip (it runs for every collateral entry of every record).
 */
export function parseAddress(s: unknown): Uint8Array | undefined {
  if (typeof s !== 'string' || s.length !== 42 || s.charCodeAt(0) !== 48 || s.charCodeAt(1) !== 120) return undefined
  const out = new Uint8Array(20)
  for (let i = 0; i < 20; i++) {
    const hi = s.charCodeAt(2 + 2 * i)
    const lo = s.charCodeAt(3 + 2 * i)
    const h = hi < 128 ? NIBBLE[hi]! : -1
    const l = lo < 128 ? NIBBLE[lo]! : -1
    if (h < 0 || l < 0) return undefined
    out[i] = (h << 4) | l
  }
  return out
}
