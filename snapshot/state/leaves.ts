import { abiEncodeScratch } from '../abi/encode.ts'
import { doubleKeccak256Into, keccak256 } from '../codec/keccak.ts'
import { bytesToHex } from '../codec/hex.ts'
import { buildStandardTree, HASH, leafHashFast, sortHashes, treeRoot } from '../merkle/standard-tree.ts'
import type { RecordSchema } from '../schema/types.ts'

/**
 * Every key with its proof-leaf hash, in key order, in two flat buffers.
 * This is what stateRoot is computed from and what an incremental update
 * patches, so it never needs to re-read unchanged records.
 */
export interface LeafIndex {
  n: number
  keyLength: number
  keys: Uint8Array
  hashes: Uint8Array
}

export const ZERO_ROOT = `0x${'00'.repeat(32)}` as const

/** Proof-leaf hash of an entry; `record` must be schema.decode(value). */
export function leafHashOf<R>(schema: RecordSchema<R, unknown>, key: Uint8Array, record: R, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH)
  if (leafHashFast(schema)?.into(key, value, out, 0) !== true) {
    doubleKeccak256Into(abiEncodeScratch(schema.leafEncoding, schema.leaf(key, record, keccak256(value))), out, 0)
  }
  return out
}

export class LeafIndexBuilder {
  private keys: Uint8Array
  private hashes: Uint8Array
  private n = 0
  private readonly keyLength: number

  constructor(keyLength: number, capacity = 1024) {
    this.keyLength = keyLength
    this.keys = new Uint8Array(capacity * keyLength)
    this.hashes = new Uint8Array(capacity * HASH)
  }

  push(key: Uint8Array, hash: Uint8Array): void {
    if ((this.n + 1) * HASH > this.hashes.length) {
      const k = new Uint8Array(this.keys.length * 2)
      k.set(this.keys)
      this.keys = k
      const h = new Uint8Array(this.hashes.length * 2)
      h.set(this.hashes)
      this.hashes = h
    }
    this.keys.set(key, this.n * this.keyLength)
    this.hashes.set(hash, this.n * HASH)
    this.n++
  }

  finish(): LeafIndex {
    return { n: this.n, keyLength: this.keyLength, keys: this.keys.subarray(0, this.n * this.keyLength), hashes: this.hashes.subarray(0, this.n * HASH) }
  }
}

/** Merge sorted changes (hash null = delete) into a leaf index. */
export function patchLeafIndex(old: LeafIndex, changes: readonly { key: Uint8Array; hash: Uint8Array | null }[]): LeafIndex {
  const kl = old.keyLength
  const out = new LeafIndexBuilder(kl, Math.max(1, old.n + changes.length))
  let i = 0
  let j = 0
  while (i < old.n || j < changes.length) {
    const ok = i < old.n ? old.keys.subarray(i * kl, (i + 1) * kl) : undefined
    const ch = changes[j]
    const c = ok === undefined ? 1 : ch === undefined ? -1 : Buffer.compare(ok, ch.key)
    if (c < 0) {
      out.push(ok!, old.hashes.subarray(i * HASH, (i + 1) * HASH))
      i++
    } else {
      if (c === 0) i++
      if (ch!.hash !== null) out.push(ch!.key, ch!.hash)
      j++
    }
  }
  return out.finish()
}

export function findKey(idx: LeafIndex, key: Uint8Array): number {
  let lo = 0
  let hi = idx.n - 1
  const kl = idx.keyLength
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const c = Buffer.compare(idx.keys.subarray(mid * kl, (mid + 1) * kl), key)
    if (c === 0) return mid
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

export interface MerkleState {
  sortedLeaves: Uint8Array
  tree: Uint8Array
  root: string
}

export function merkleOf(idx: LeafIndex): MerkleState | null {
  if (idx.n === 0) return null
  const sortedLeaves = sortHashes(idx.hashes)
  const tree = buildStandardTree(sortedLeaves)
  return { sortedLeaves, tree, root: bytesToHex(treeRoot(tree)) }
}
