import { instantiateKeccak, SCRATCH } from './keccak-wasm.ts'

/**
 * keccak256 is the hottest function in a snapshot build (record hashes, proof
 * leaves, the Merkle tree). It runs in our own small WebAssembly module
 * (keccak-wasm.ts): input is copied into the module's memory, hashed there,
 * and the 32-byte result copied out. The *Into variants write the result into
 * a caller's buffer so bulk paths allocate nothing per hash.
 */
const wasm = instantiateKeccak()

/** Result slot, then a second 32-byte slot (inner hash of a double hash), then input. */
const OUT = SCRATCH
const OUT2 = SCRATCH + 32
const IN = SCRATCH + 64

let mem = new Uint8Array(wasm.memory.buffer)
/** the result slot, as a view kept rather than made per call */
let result = mem.subarray(OUT, OUT + 32)

/** Make mem[IN, IN + n) addressable; growing memory detaches the old views, so re-take them. */
function room(n: number): void {
  const need = IN + n
  if (need <= mem.length) return
  wasm.memory.grow(Math.ceil((need - mem.length) / 65536))
  mem = new Uint8Array(wasm.memory.buffer)
  result = mem.subarray(OUT, OUT + 32)
}

export function keccak256(data: Uint8Array): Uint8Array {
  room(data.length)
  mem.set(data, IN)
  wasm.hash(IN, data.length, OUT)
  return mem.slice(OUT, OUT + 32)
}

/** keccak256(data) written to out[offset .. offset + 32). */
export function keccak256Into(data: Uint8Array, out: Uint8Array, offset: number): void {
  room(data.length)
  mem.set(data, IN)
  wasm.hash(IN, data.length, OUT)
  out.set(result, offset)
}

/** keccak256(keccak256(data)) (OpenZeppelin's standard leaf) written to out[offset .. offset + 32). */
export function doubleKeccak256Into(data: Uint8Array, out: Uint8Array, offset: number): void {
  room(data.length)
  mem.set(data, IN)
  wasm.hash(IN, data.length, OUT2)
  wasm.hash(OUT2, 32, OUT)
  out.set(result, offset)
}

/** keccak256(a || b) without concatenating in JS. */
export function keccak256Pair(a: Uint8Array, b: Uint8Array): Uint8Array {
  room(a.length + b.length)
  mem.set(a, IN)
  mem.set(b, IN + a.length)
  wasm.hash(IN, a.length + b.length, OUT)
  return mem.slice(OUT, OUT + 32)
}

/** Pairs per wasm call when hashing Merkle levels: bounds the module's memory (~400 KiB). */
export const PAIR_BATCH = 4096

/**
 * For k < count: dst[dstOff + 32k ..] = keccak256(min(x, y) || max(x, y)) where
 * x, y are the 32-byte hashes at src[srcOff + 64k] and src[srcOff + 64k + 32]
 * (OpenZeppelin's commutative hashPair). count <= PAIR_BATCH.
 */
export function hashPairsInto(src: Uint8Array, srcOff: number, count: number, dst: Uint8Array, dstOff: number): void {
  room(96 * count)
  mem.set(src.subarray(srcOff, srcOff + 64 * count), IN)
  wasm.pairs(IN, IN + 64 * count, count)
  dst.set(mem.subarray(IN + 64 * count, IN + 96 * count), dstOff)
}
