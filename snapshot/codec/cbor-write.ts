import { CBOR_INT_MAX, CBOR_INT_MIN } from './int.ts'

/**
 * Canonical CBOR writer for hand-written encoders of hot record types (SPEC
 * §2.1: shortest heads, definite lengths; §2.2: the integer rule). The output
 * must equal @ipld/dag-cbor's encoding of the same IPLD value byte for byte;
 * test/snapshot/encoder-equivalence.test.ts checks that for random values.
 *
 * Output goes into shared slabs: each finished value is a view of its slab
 * rather than its own allocation (a 100-byte typed array with its own buffer
 * costs more to allocate and collect than to fill). A view keeps its slab
 * alive, so values that outlive their neighbours hold up to one slab.
 */
const SLAB = 1 << 18
const U32 = 0x100000000n

export class CborWriter {
  buf = new Uint8Array(SLAB)
  view = new DataView(this.buf.buffer)
  pos = 0
  private start = 0

  /** Start a value; everything written until finish() is one result. */
  begin(): void {
    this.start = this.pos
  }

  /** Room for n more bytes: continue in a fresh slab, carrying the value written so far. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const partial = this.buf.subarray(this.start, this.pos)
    const next = new Uint8Array(Math.max(SLAB, 2 * (partial.length + n)))
    next.set(partial)
    this.buf = next
    this.view = new DataView(next.buffer)
    this.pos = partial.length
    this.start = 0
  }

  finish(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos)
    this.start = this.pos
    return out
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  /** Shortest head for an argument below 2^32. */
  head(major: number, n: number): void {
    this.ensure(5)
    const m = major << 5
    const b = this.buf
    if (n < 24) b[this.pos++] = m | n
    else if (n < 0x100) {
      b[this.pos++] = m | 24
      b[this.pos++] = n
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25
      b[this.pos++] = n >>> 8
      b[this.pos++] = n & 0xff
    } else {
      b[this.pos++] = m | 26
      this.view.setUint32(this.pos, n)
      this.pos += 4
    }
  }

  /** A byte string: head then the bytes. */
  bytes(v: Uint8Array): void {
    this.head(2, v.length)
    this.ensure(v.length)
    this.buf.set(v, this.pos)
    this.pos += v.length
  }

  /**
   * An integer under the integer rule: a CBOR integer (major 0, or major 1
   * with argument -1-v) within [-2^64, 2^64-1], otherwise the byte string
   * sign byte || big-endian magnitude without leading zeros.
   */
  int(v: bigint): void {
    if (v >= 0n) {
      if (v < U32) this.head(0, Number(v))
      else if (v <= CBOR_INT_MAX) this.u64(0, v)
      else this.big(0, v)
    } else if (v >= -U32) this.head(1, Number(-1n - v))
    else if (v >= CBOR_INT_MIN) this.u64(1, -1n - v)
    else this.big(1, -v)
  }

  private u64(major: number, n: bigint): void {
    this.ensure(9)
    this.buf[this.pos++] = (major << 5) | 27
    this.view.setBigUint64(this.pos, n)
    this.pos += 8
  }

  /** Big form for a magnitude >= 2^64 (and < 2^256 + a margin: any width works). */
  private big(sign: number, mag: bigint): void {
    const from = magnitudeInto(mag)
    const n = scratch.length - from
    this.head(2, 1 + n)
    this.ensure(1 + n)
    const b = this.buf
    b[this.pos++] = sign
    for (let i = 0; i < n; i++) b[this.pos + i] = scratch[from + i]!
    this.pos += n
  }
}

const scratch = new Uint8Array(64)
const scratchView = new DataView(scratch.buffer)

/** Big-endian bytes of mag > 0 without leading zeros, written to the end of `scratch`; returns where they start. */
function magnitudeInto(mag: bigint): number {
  let o = scratch.length
  while (mag > 0n) {
    if (o === 0) throw new RangeError('integer wider than 512 bits')
    o -= 8
    scratchView.setBigUint64(o, BigInt.asUintN(64, mag))
    mag >>= 64n
  }
  while (scratch[o] === 0) o++
  return o
}

/**
 * Write 0 <= x < 2^256 as a 32-byte big-endian word at out[offset..] (the ABI
 * form of uint256 and, after two's complement, int256).
 */
export function writeWord256(x: bigint, out: Uint8Array, offset: number, view: DataView): void {
  if (x < U32) {
    out.fill(0, offset, offset + 28)
    view.setUint32(offset + 28, Number(x))
    return
  }
  for (let o = offset + 24; o >= offset; o -= 8) {
    view.setBigUint64(o, BigInt.asUintN(64, x))
    x >>= 64n
  }
}
