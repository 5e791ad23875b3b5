import { abiEncode } from '../abi/encode.ts'
import { bytesToHex, hexToBytes } from '../codec/hex.ts'
import { keccak256Pair } from '../codec/keccak.ts'
import type { MarketLeaf, RecordSchema } from '../schema/types.ts'
import type { BlockRef } from '../state/root.ts'
import { buildStandardTree, findLeaf, HASH, sortHashes, standardLeafHash, treeProof, treeRoot } from './standard-tree.ts'

/**
 * The composed stateRoot of schemas whose market state is in the proof (SPEC §1.5):
 *
 *   stateRoot = hashPair(accountsRoot, marketsRoot)
 *
 * with hashPair OpenZeppelin's commutative keccak (the parent rule of §5), accountsRoot the §5
 * tree over account leaves (32 zero bytes when there are none) and marketsRoot the same tree over
 * the schema's market leaves. So an account proof is its §5 proof plus marketsRoot, a market proof
 * its proof in the market tree plus accountsRoot, and both are plain MerkleProof.verify proofs.
 * Schemas without market leaves keep stateRoot = accountsRoot (versions 1–3).
 */

const ZERO = new Uint8Array(HASH)

export interface MarketsTree {
  leaves: (MarketLeaf & { hash: Uint8Array })[]
  sortedLeaves: Uint8Array
  tree: Uint8Array
  root: Uint8Array
}

export function marketsTree(leaves: readonly MarketLeaf[]): MarketsTree {
  const hashed = leaves.map((l) => ({ ...l, hash: standardLeafHash(abiEncode(l.encoding, l.values)) }))
  const flat = new Uint8Array(hashed.length * HASH)
  hashed.forEach((l, i) => flat.set(l.hash, i * HASH))
  const sortedLeaves = sortHashes(flat)
  const tree = buildStandardTree(sortedLeaves)
  return { leaves: hashed, sortedLeaves, tree, root: treeRoot(tree) }
}

export function composeRoot(accountsRoot: Uint8Array | null, marketsRoot: Uint8Array): Uint8Array {
  const a = accountsRoot ?? ZERO
  return Buffer.compare(a, marketsRoot) <= 0 ? keccak256Pair(a, marketsRoot) : keccak256Pair(marketsRoot, a)
}

/** The market tree of a schema that has one, for this (decoded) market state and block; else null. */
export function schemaMarketsTree<M>(schema: RecordSchema<unknown, M>, markets: M, block: BlockRef): MarketsTree | null {
  return schema.marketLeaves === undefined ? null : marketsTree(schema.marketLeaves(markets, block))
}

/** The stateRoot (0x-hex) from the account tree's root (hex, or null for no accounts) and the market tree, if any. */
export function stateRootOf(accountsRoot: string | null, markets: MarketsTree | null): string {
  if (markets === null) return accountsRoot ?? bytesToHex(ZERO)
  return bytesToHex(composeRoot(accountsRoot === null ? null : hexToBytes(accountsRoot), markets.root))
}

/** Proof of market leaf `i` (index into `t.leaves`) against the composed stateRoot: bottom-up siblings, accountsRoot last. */
export function marketLeafProof(t: MarketsTree, i: number, accountsRoot: string | null): Uint8Array[] {
  const at = findLeaf(t.sortedLeaves, t.leaves[i]!.hash)
  return [...treeProof(t.tree, t.leaves.length, at), accountsRoot === null ? ZERO : hexToBytes(accountsRoot)]
}

/** What an account proof needs after its §5 siblings: marketsRoot for a composed root, nothing otherwise. */
export function accountProofSuffix(markets: MarketsTree | null): Uint8Array[] {
  return markets === null ? [] : [markets.root]
}
