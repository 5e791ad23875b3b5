import { doubleKeccak256Into, hashPairsInto, hashTreeTop, keccak256Pair, PAIR_BATCH } from '../codec/keccak.ts'
import { InvalidInputError } from '../errors.ts'

/**
 * Merkle tree computed exactly as OpenZeppelin's StandardMerkleTree (v1):
 * leaf = keccak256(keccak256(abi.encode(values))); leaves sorted by hash;
 * a complete binary tree in an array with leaf i at position len-1-i; a
 * parent hashes its two children sorted (commutative keccak). Hashes live in
 * one flat buffer (32 bytes each) so 1M leaves stay cheap.
 */
export const HASH = 32

export function standardLeafHash(encoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH)
  doubleKeccak256Into(encoded, out, 0)
  return out
}

/** Copy hash `from` of `src` to slot `to` of `dst`, 32-bit words when both are 4-byte aligned. */
function copier(src: Uint8Array, dst: Uint8Array): (from: number, to: number) => void {
  if (src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    const s = new Uint32Array(src.buffer, src.byteOffset, src.length >> 2)
    const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length >> 2)
    return (from, to) => {
      const a = from * 8
      const b = to * 8
      for (let k = 0; k < 8; k++) d[b + k] = s[a + k]!
    }
  }
  return (from, to) => dst.set(src.subarray(from * HASH, from * HASH + HASH), to * HASH)
}

/**
 * Sort n 32-byte hashes ascending: bucket by the first two bytes, then order
 * each bucket by the next six bytes as a number (full compare on a tie), and
 * copy each hash once. Works on an index array so no hash is sliced.
 */
export function sortHashes(hashes: Uint8Array): Uint8Array {
  const n = hashes.length / HASH
  const counts = new Uint32Array(65537)
  const key = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const o = i * HASH
    counts[((hashes[o]! << 8) | hashes[o + 1]!) + 1]!++
    key[i] = hashes[o + 2]! * 2 ** 40 + hashes[o + 3]! * 2 ** 32 + hashes[o + 4]! * 2 ** 24 + hashes[o + 5]! * 2 ** 16 + hashes[o + 6]! * 2 ** 8 + hashes[o + 7]!
  }
  for (let b = 1; b <= 65536; b++) counts[b]! += counts[b - 1]!
  const starts = counts.slice()
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[counts[(hashes[i * HASH]! << 8) | hashes[i * HASH + 1]!]!++] = i
  const cmp = (x: number, y: number): number => key[x]! - key[y]! || Buffer.compare(hashes.subarray(x * HASH + 8, x * HASH + HASH), hashes.subarray(y * HASH + 8, y * HASH + HASH))
  for (let b = 0; b < 65536; b++) {
    const lo = starts[b]!
    const hi = starts[b + 1]!
    if (hi - lo > 32) {
      // Ground hashes can crowd one bucket; keep that O(k log k), not O(k^2).
      order.subarray(lo, hi).set(Array.from(order.subarray(lo, hi)).sort(cmp))
      continue
    }
    for (let i = lo + 1; i < hi; i++) {
      const x = order[i]!
      let j = i
      while (j > lo && cmp(order[j - 1]!, x) > 0) {
        order[j] = order[j - 1]!
        j--
      }
      order[j] = x
    }
  }
  const out = new Uint8Array(hashes.length)
  const copy = copier(hashes, out)
  for (let i = 0; i < n; i++) copy(order[i]!, i)
  return out
}

/**
 * Build the array tree from leaf hashes already sorted ascending. Internal
 * nodes are hashed in batches by the keccak module: the parents [lo, hi) of a
 * batch have their children in the contiguous range [2lo+1, 2hi+1), all
 * already computed as long as 2lo+1 >= hi; the last (top) batch, where that
 * fails, is hashed in place.
 */
export function buildStandardTree(sortedLeaves: Uint8Array): Uint8Array {
  const n = sortedLeaves.length / HASH
  if (n === 0) throw new InvalidInputError('a Merkle tree needs at least one leaf')
  const len = 2 * n - 1
  const tree = new Uint8Array(len * HASH)
  const copy = copier(sortedLeaves, tree)
  for (let i = 0; i < n; i++) copy(i, len - 1 - i)
  let hi = n - 1
  while (hi > 0) {
    const lo = Math.max(0, hi - PAIR_BATCH)
    if (2 * lo + 1 < hi) {
      hashTreeTop(tree, hi)
      break
    }
    hashPairsInto(tree, (2 * lo + 1) * HASH, hi - lo, tree, lo * HASH)
    hi = lo
  }
  return tree
}

export function treeRoot(tree: Uint8Array): Uint8Array {
  return tree.slice(0, HASH)
}

/** Proof for the leaf with sorted index `i` (siblings bottom-up, as OpenZeppelin returns them). */
export function treeProof(tree: Uint8Array, n: number, i: number): Uint8Array[] {
  const len = 2 * n - 1
  let j = len - 1 - i
  const proof: Uint8Array[] = []
  while (j > 0) {
    const s = j % 2 === 1 ? j + 1 : j - 1
    proof.push(tree.slice(s * HASH, s * HASH + HASH))
    j = (j - 1) >> 1
  }
  return proof
}

/** Index of `leaf` among sorted leaves, or -1. */
export function findLeaf(sortedLeaves: Uint8Array, leaf: Uint8Array): number {
  let lo = 0
  let hi = sortedLeaves.length / HASH - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const c = Buffer.compare(sortedLeaves.subarray(mid * HASH, mid * HASH + HASH), leaf)
    if (c === 0) return mid
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

/** MerkleProof.verify: fold the proof with commutative keccak. */
export function processProof(leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  let h = leaf
  for (const p of proof) h = Buffer.compare(h, p) <= 0 ? keccak256Pair(h, p) : keccak256Pair(p, h)
  return h
}
