/**
 * Account-tree parameters (SPEC §3). Consensus-critical: changing any of
 * these changes every root CID, so they are part of spec version 1.
 */
export interface TreeParams {
  /** A level-0 (leaf) chunk ends after an entry whose boundary hash is < 2^32 / leafTarget. */
  leafTarget: number
  /** A branch chunk ends after a child whose boundary hash is < 2^32 / branchTarget. */
  branchTarget: number
  /** Forced cut: a chunk never holds more items than this. */
  maxItems: number
  /** Forced cut: a chunk is cut once its items reach this many bytes. */
  maxChunkBytes: number
  /** Largest single record accepted (bytes of its canonical encoding). */
  maxRecordBytes: number
}

export const TREE_PARAMS_V1: Readonly<TreeParams> = Object.freeze({
  leafTarget: 4,
  branchTarget: 8,
  maxItems: 1024,
  maxChunkBytes: 256 * 1024,
  maxRecordBytes: 64 * 1024,
})

/**
 * Boundary hash: FNV-1a over (level byte, key bytes), finished with the
 * murmur3 32-bit mixer. Integer-only and endian-free, so every machine agrees.
 * Keys are not secret and can be ground, which is why forced cuts exist.
 */
export function boundaryHash(level: number, key: Uint8Array): number {
  let h = 0x811c9dc5 ^ (level & 0xff)
  h = Math.imul(h, 0x01000193)
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h)
}

/** murmur3's 32-bit finalizer: a bijection on uint32 with full avalanche (part of the tree's consensus rules). */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export function isBoundary(params: TreeParams, level: number, key: Uint8Array): boolean {
  const target = level === 0 ? params.leafTarget : params.branchTarget
  return boundaryHash(level, key) < Math.floor(0x100000000 / target)
}
