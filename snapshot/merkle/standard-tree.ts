import { doubleKeccak256Into, hashPairsInto, keccak256Pair, PAIR_BATCH } from '../codec/keccak.ts'
import { permute, sortOrder } from '../codec/sort.ts'
import { InvalidInputError } from '../errors.ts'

/**
 * Merkle tree computed exactly as OpenZeppelin's StandardMerkleTree (v1):
 * leaf = keccak256(keccak256(abi.encode(values))); leaves sorted by hash;
 * a complete binary tree in an array with leaf i at position len-1-i; a
 * parent hashes its two children sorted (commutative keccak). Hashes live in
 * one flat buffer (32 bytes each) so 1M leaves stay cheap.
 */
export const HASH = 32

/**
 * Optional fast path a RecordSchema may carry: the standard leaf hash straight
 * from a record's canonical bytes (no decoded values, no bigints), equal to
 * standardLeafHash(abiEncode(leafEncoding, leaf(key, decode(bytes), keccak256(bytes)))).
 * It names the `leaf` and `leafEncoding` it reproduces and is used only while
 * the schema still has exactly those (a copy of the schema with another leaf
 * falls back to the generic path). `into` returns false when it cannot handle
 * the input, which then also takes the generic path.
 */
export interface LeafHashFromBytes {
  readonly leafHash: {
    readonly leaf: unknown
    readonly leafEncoding: readonly string[]
    into(key: Uint8Array, bytes: Uint8Array, out: Uint8Array, offset: number): boolean
  }
}

/** The schema's bytes-to-leaf-hash fast path, if it has one that matches its leaf. */
export function leafHashFast(schema: { leaf: unknown; leafEncoding: readonly string[] }): LeafHashFromBytes['leafHash'] | undefined {
  const f = (schema as Partial<LeafHashFromBytes>).leafHash
  return f !== undefined && f.leaf === schema.leaf && f.leafEncoding === schema.leafEncoding ? f : undefined
}

export function standardLeafHash(encoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH)
  doubleKeccak256Into(encoded, out, 0)
  return out
}

/** Sort n 32-byte hashes ascending (codec/sort.ts: bucket by prefix, no per-hash slices). */
export function sortHashes(hashes: Uint8Array): Uint8Array {
  return permute(hashes, HASH, sortOrder(hashes, HASH))
}

/**
 * Build the array tree from leaf hashes already sorted ascending. Internal
 * nodes are hashed in batches by the keccak module: parents [lo, hi) have
 * their children in the contiguous range [2lo+1, 2hi+1), all of them already
 * computed when 2lo+1 >= hi. Going down from the last parent, each batch is
 * capped by that and by PAIR_BATCH (near the top batches halve in size).
 */
export function buildStandardTree(sortedLeaves: Uint8Array): Uint8Array {
  const n = sortedLeaves.length / HASH
  if (n === 0) throw new InvalidInputError('a Merkle tree needs at least one leaf')
  const len = 2 * n - 1
  const tree = new Uint8Array(len * HASH)
  // sorted leaf i sits at len-1-i: the last n slots hold the leaves in reverse
  const reversed = new Uint32Array(n)
  for (let j = 0; j < n; j++) reversed[j] = n - 1 - j
  permute(sortedLeaves, HASH, reversed, tree.subarray((n - 1) * HASH))
  for (let hi = n - 1; hi > 0; ) {
    const lo = Math.max(Math.ceil((hi - 1) / 2), hi - PAIR_BATCH)
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
