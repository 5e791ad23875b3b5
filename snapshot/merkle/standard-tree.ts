import { keccak256, keccak256Pair } from '../codec/keccak.ts'
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
  return keccak256(keccak256(encoded))
}

/** Sort n 32-byte hashes ascending (bucket by the first two bytes, then insertion sort). */
export function sortHashes(hashes: Uint8Array): Uint8Array {
  const n = hashes.length / HASH
  const counts = new Uint32Array(65537)
  for (let i = 0; i < n; i++) counts[((hashes[i * HASH]! << 8) | hashes[i * HASH + 1]!) + 1]!++
  for (let b = 1; b <= 65536; b++) counts[b]! += counts[b - 1]!
  const starts = counts.slice()
  const out = new Uint8Array(hashes.length)
  for (let i = 0; i < n; i++) {
    const b = (hashes[i * HASH]! << 8) | hashes[i * HASH + 1]!
    out.set(hashes.subarray(i * HASH, i * HASH + HASH), counts[b]!++ * HASH)
  }
  const tmp = new Uint8Array(HASH)
  for (let b = 0; b < 65536; b++) {
    const lo = starts[b]!
    const hi = starts[b + 1]!
    if (hi - lo > 32) {
      // Ground hashes can crowd one bucket; keep that O(k log k), not O(k^2).
      const items: Uint8Array[] = []
      for (let i = lo; i < hi; i++) items.push(out.slice(i * HASH, i * HASH + HASH))
      items.sort((x, y) => Buffer.compare(x, y))
      items.forEach((h, i) => out.set(h, (lo + i) * HASH))
      continue
    }
    for (let i = lo + 1; i < hi; i++) {
      let j = i
      tmp.set(out.subarray(i * HASH, i * HASH + HASH))
      while (j > lo && Buffer.compare(out.subarray((j - 1) * HASH, j * HASH), tmp) > 0) {
        out.copyWithin(j * HASH, (j - 1) * HASH, j * HASH)
        j--
      }
      out.set(tmp, j * HASH)
    }
  }
  return out
}

/** Build the array tree from leaf hashes already sorted ascending. */
export function buildStandardTree(sortedLeaves: Uint8Array): Uint8Array {
  const n = sortedLeaves.length / HASH
  if (n === 0) throw new InvalidInputError('a Merkle tree needs at least one leaf')
  const len = 2 * n - 1
  const tree = new Uint8Array(len * HASH)
  for (let i = 0; i < n; i++) tree.set(sortedLeaves.subarray(i * HASH, i * HASH + HASH), (len - 1 - i) * HASH)
  for (let i = len - 1 - n; i >= 0; i--) {
    const a = tree.subarray((2 * i + 1) * HASH, (2 * i + 2) * HASH)
    const b = tree.subarray((2 * i + 2) * HASH, (2 * i + 3) * HASH)
    tree.set(Buffer.compare(a, b) <= 0 ? keccak256Pair(a, b) : keccak256Pair(b, a), i * HASH)
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
