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

export function bytesToHex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
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
