import { MalformedBlockError } from '../errors.ts'
import { CBOR_INT_MAX, CBOR_INT_MIN, checkInt, rangeOf, type IntKind } from './int.ts'

/**
 * Strict reader for hand-written decoders of hot record types. It accepts only
 * what the canonical writer (cbor-write.ts) produces: shortest heads, definite
 * lengths, integers under the integer rule and in range; anything else throws
 * MalformedBlockError. A decoder built from these calls that also checks order
 * and shape therefore needs no decode-then-re-encode round trip.
 */
const MIN_ARG = [0, 24, 0x100, 0, 0x10000]

export class CborReader {
  bytes: Uint8Array = new Uint8Array(0)
  pos = 0
  /** used in messages: "record of 0x…" */
  what = ''
  /**
   * A view of the whole underlying buffer, kept while records come from the
   * same block (it holds on to the last buffer read until the next reset).
   */
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))
  private base = 0

  /** Start reading `bytes` (one reader is reused: records of a leaf share one buffer and view). */
  reset(bytes: Uint8Array, what: string): this {
    if (this.view.buffer !== bytes.buffer) this.view = new DataView(bytes.buffer)
    this.bytes = bytes
    this.base = bytes.byteOffset
    this.pos = 0
    this.what = what
    return this
  }

  /** `${what}.${list}[${i}].${field}`, built only for an error message. */
  label(list: string, i: number, field: string): string {
    return `${this.what}.${list}[${i}].${field}`
  }

  /** Not valid dag-cbor at all (truncated, indefinite, non-minimal, trailing bytes). */
  invalid(why: string): never {
    throw new MalformedBlockError(`${this.what} is not valid dag-cbor: ${why}`)
  }

  get done(): boolean {
    return this.pos === this.bytes.length
  }

  /** Next initial byte without consuming it. */
  peek(): number {
    if (this.pos >= this.bytes.length) this.invalid('truncated')
    return this.bytes[this.pos]!
  }

  /**
   * Head of major type `major` with an argument below 2^32; returns the
   * argument, or -1 (consuming nothing) when the next item has another major
   * type. 8-byte arguments are not lengths Ark uses and are rejected here.
   */
  head(major: number): number {
    const ib = this.peek()
    if (ib >> 5 !== major) return -1
    const info = ib & 31
    if (info < 24) {
      this.pos++
      return info
    }
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0
    if (size === 0) this.invalid(info === 27 ? 'length beyond 2^32' : 'indefinite-length or reserved item')
    if (this.pos + 1 + size > this.bytes.length) this.invalid('truncated')
    const b = this.bytes
    const p = this.pos + 1
    const n = size === 1 ? b[p]! : size === 2 ? (b[p]! << 8) | b[p + 1]! : this.view.getUint32(this.base + p)
    if (n < MIN_ARG[size]!) this.invalid('non-minimal integer or length')
    this.pos = p + size
    return n
  }

  /** Array head; -1 when the next item is not an array. */
  array(): number {
    return this.head(4)
  }

  /** Byte string of exactly `length` bytes; returns its offset, or -1 when the next item is not one. */
  fixedBytes(length: number): number {
    const start = this.pos
    if (this.head(2) !== length) {
      this.pos = start
      return -1
    }
    if (this.pos + length > this.bytes.length) this.invalid('truncated')
    const at = this.pos
    this.pos += length
    return at
  }

  /** true, false, or undefined (consuming nothing) for anything else. */
  bool(): boolean | undefined {
    const ib = this.peek()
    if (ib !== 0xf4 && ib !== 0xf5) return undefined
    this.pos++
    return ib === 0xf5
  }

  /**
   * An integer under the integer rule, range-checked against `kind`. Errors
   * read like intFromIpld's: `${label} is not an integer` and so on, where
   * label is `${what}.${list}[${i}].${field}`.
   */
  int(kind: IntKind, list: string, i: number, field: string): bigint {
    const ib = this.peek()
    const major = ib >> 5
    let v: bigint
    if (major === 0 || major === 1) {
      let n: bigint
      if ((ib & 31) === 27) {
        if (this.pos + 9 > this.bytes.length) this.invalid('truncated')
        n = this.view.getBigUint64(this.base + this.pos + 1)
        if (n < 0x100000000n) this.invalid('non-minimal integer')
        this.pos += 9
      } else n = BigInt(this.head(major))
      v = major === 0 ? n : -1n - n
    } else if (major === 2) {
      const len = this.head(2)
      if (this.pos + len > this.bytes.length) this.invalid('truncated')
      const b = this.bytes
      const p = this.pos
      if (len < 2 || (b[p] !== 0 && b[p] !== 1) || b[p + 1] === 0) {
        throw new MalformedBlockError(`${this.label(list, i, field)} is a malformed big-integer byte string; the block is not canonical Ark data`)
      }
      let mag = 0n
      let q = p + 1
      for (; q + 8 <= p + len; q += 8) mag = (mag << 64n) | this.view.getBigUint64(this.base + q)
      for (; q < p + len; q++) mag = (mag << 8n) | BigInt(b[q]!)
      v = b[p] === 1 ? -mag : mag
      this.pos = p + len
      if (v >= CBOR_INT_MIN && v <= CBOR_INT_MAX) {
        throw new MalformedBlockError(`${this.label(list, i, field)} is encoded as a byte string but fits a CBOR integer; the block is not canonical Ark data`)
      }
    } else if (major === 7 && (ib & 31) >= 25 && (ib & 31) <= 27) {
      throw new MalformedBlockError(`${this.label(list, i, field)} is not an integer (a float); the block is not canonical Ark data`)
    } else {
      throw new MalformedBlockError(`${this.label(list, i, field)} must be an integer; the block is not canonical Ark data`)
    }
    const r = rangeOf(kind)
    if (v >= r[0] && v <= r[1]) return v
    const name = this.label(list, i, field)
    try {
      return checkInt(v, kind, name)
    } catch (cause) {
      throw new MalformedBlockError(`${name} is out of range in a stored block; the block is not valid Ark data`, { cause })
    }
  }
}
