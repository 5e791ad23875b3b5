import { MalformedBlockError } from '../errors.ts'

/**
 * Minimal CBOR head writer/reader. Tree nodes are assembled from already
 * canonical record bytes instead of re-encoding every record; canonical
 * dag-cbor of an array is exactly its head followed by its items' encodings,
 * so the result is byte-identical to encoding the whole structure (tested).
 */
export function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  if (n < 0x100000000) return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  throw new RangeError('CBOR head length over 2^32 is not used by Ark')
}

export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

export interface Head {
  major: number
  /** argument: length, count or integer value (as number; <= 2^53) */
  value: number
  /** offset just after the head */
  end: number
}

/** Argument of the head last read by scan() (a module variable so hot loops allocate nothing). */
let arg = 0

/** Read one head at `offset`, leaving its argument in `arg`; returns the offset after it. */
function scan(bytes: Uint8Array, offset: number): number {
  if (offset >= bytes.length) throw new MalformedBlockError('CBOR item truncated')
  const b = bytes[offset]!
  const info = b & 31
  if (info < 24) {
    arg = info
    return offset + 1
  }
  let size: number
  if (info === 24) size = 1
  else if (info === 25) size = 2
  else if (info === 26) size = 4
  else if (info === 27) size = 8
  else throw new MalformedBlockError('indefinite-length or reserved CBOR item; dag-cbor forbids it')
  if (offset + 1 + size > bytes.length) throw new MalformedBlockError('CBOR item truncated')
  let value = 0
  for (let i = 1; i <= size; i++) value = value * 256 + bytes[offset + i]!
  const min = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000
  if (b >> 5 !== 7 && value < min) throw new MalformedBlockError('non-minimal CBOR integer or length; the block is not canonical dag-cbor')
  arg = value
  return offset + 1 + size
}

/** Read one head, rejecting non-minimal or indefinite encodings (dag-cbor strictness). */
export function readHead(bytes: Uint8Array, offset: number): Head {
  const end = scan(bytes, offset)
  return { major: bytes[offset]! >> 5, value: arg, end }
}

/** Offset just past the CBOR item starting at `offset`. */
export function skipItem(bytes: Uint8Array, offset: number): number {
  let o = scan(bytes, offset)
  const value = arg
  switch (bytes[offset]! >> 5) {
    case 2:
    case 3:
      if (o + value > bytes.length) throw new MalformedBlockError('CBOR string truncated')
      return o + value
    case 4:
      for (let i = 0; i < value; i++) o = skipItem(bytes, o)
      return o
    case 5:
      for (let i = 0; i < 2 * value; i++) o = skipItem(bytes, o)
      return o
    case 6:
      return skipItem(bytes, o)
    default:
      // integers, and simple values and floats (rejected later by schema decoding)
      return o
  }
}
