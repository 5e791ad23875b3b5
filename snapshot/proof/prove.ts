import { abiEncode } from '../abi/encode.ts'
import { keccak256 } from '../codec/keccak.ts'
import { bytesToHex } from '../codec/hex.ts'
import { ArkError } from '../ark-error.ts'
import { accountProofSuffix } from '../merkle/composed-root.ts'
import { findLeaf, HASH, processProof, standardLeafHash, treeProof } from '../merkle/standard-tree.ts'
import type { Snapshot } from '../state/snapshot.ts'
import { abiValueToJSON, PROOF_FORMAT, type AccountProof } from './format.ts'

function header(s: Snapshot<unknown, unknown>): Omit<AccountProof, 'value' | 'proof' | 'record'> {
  return {
    format: PROOF_FORMAT,
    snapshot: s.cid.toString(),
    chainId: s.root.block.chainId.toString(),
    blockNumber: s.root.block.number.toString(),
    blockHash: s.root.block.hash,
    stateRoot: s.root.stateRoot,
    leafEncoding: [...s.root.schema.leafEncoding],
  }
}

/** The tree rebuilt from the records must give the stateRoot the root block claims, or no proof (nor proof index) is issued. */
export async function checkedMerkle(s: Snapshot<unknown, unknown>): Promise<Awaited<ReturnType<Snapshot<unknown, unknown>['merkle']>>> {
  const merkle = await s.merkle()
  const root = await s.computedStateRoot()
  if (root !== s.root.stateRoot) throw new ArkError('ROOT_MISMATCH', `snapshot ${s.cid.toString()}: stateRoot recomputed from the records is ${root} but the root block says ${s.root.stateRoot}; the snapshot is corrupt or forged, fetch it again from another source`)
  return merkle
}

/** One account's record, leaf values and leaf hash (a few block reads); KEY_NOT_FOUND if it is not in the snapshot. */
async function accountLeaf<R>(s: Snapshot<R, unknown>, key: Uint8Array): Promise<{ record: R; values: unknown[]; leaf: Uint8Array }> {
  const raw = await s.getRaw(key)
  if (raw === undefined) throw new ArkError('KEY_NOT_FOUND', `account ${bytesToHex(key)} is not in snapshot ${s.cid.toString()} (block ${s.root.block.number}); check the address and the block`)
  const record = s.schema.decode(raw, `record of ${bytesToHex(key)}`)
  const values = s.schema.leaf(key, record, keccak256(raw))
  return { record, values, leaf: standardLeafHash(abiEncode(s.schema.leafEncoding, values)) }
}

/**
 * A snapshot's Merkle tree in buildStandardTree's array layout (2n-1 nodes of
 * 32 bytes, root first, sorted leaf i at 2n-2-i) read one node at a time: a
 * proof index kept on disk beside a stored snapshot answers a proof with
 * about 2·log2(n) node reads instead of rebuilding the tree.
 */
export interface TreeNodes {
  readonly n: number
  node(position: number): Promise<Uint8Array>
}

/** Thrown when a TreeNodes does not hold the snapshot's tree (the index is stale or corrupt: rebuild it). */
export class TreeNodesMismatchError extends ArkError {
  override readonly name = 'TreeNodesMismatchError'
  constructor(message: string) {
    super('ROOT_MISMATCH', message, { retryable: true })
  }
}

/**
 * Proof for one account from a stored tree: the record and leaf from the
 * snapshot, the leaf's position by binary search over the leaf layer, the
 * siblings by position. The proof is checked against the snapshot's stateRoot
 * before it is returned, so a wrong tree can cost a rebuild, never a wrong proof.
 */
export async function proveAccountFromTree<R>(s: Snapshot<R, unknown>, key: Uint8Array, tree: TreeNodes): Promise<AccountProof> {
  const { record, values, leaf } = await accountLeaf(s, key)
  const n = tree.n
  const len = 2 * n - 1
  let lo = 0
  let hi = n - 1
  let i = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const c = Buffer.compare(await tree.node(len - 1 - mid), leaf)
    if (c === 0) {
      i = mid
      break
    }
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  if (i < 0) throw new TreeNodesMismatchError(`the leaf of ${bytesToHex(key)} is not in the stored tree of snapshot ${s.cid.toString()}; rebuild the proof index`)
  const proof: Uint8Array[] = []
  for (let j = len - 1 - i; j > 0; j = (j - 1) >> 1) proof.push(await tree.node(j % 2 === 1 ? j + 1 : j - 1))
  const root = bytesToHex(processProof(leaf, proof))
  if (root !== s.root.stateRoot) throw new TreeNodesMismatchError(`the stored tree of snapshot ${s.cid.toString()} gives root ${root}, not its stateRoot ${s.root.stateRoot}; rebuild the proof index`)
  return {
    ...header(s as Snapshot<unknown, unknown>),
    value: values.map(abiValueToJSON),
    proof: proof.map(bytesToHex),
    record: s.schema.toJSON(key, record),
  }
}

/** Node count of a tree over n leaves, in bytes (what a proof index holds). */
export const treeBytes = (n: number): number => (2 * n - 1) * HASH

/** Proof for one account. Builds (and caches) the Merkle tree over every leaf of the snapshot. */
export async function proveAccount<R>(s: Snapshot<R, unknown>, key: Uint8Array): Promise<AccountProof> {
  const { record, values, leaf } = await accountLeaf(s, key)
  const merkle = await checkedMerkle(s as Snapshot<unknown, unknown>)
  const i = merkle === null ? -1 : findLeaf(merkle.sortedLeaves, leaf)
  if (merkle === null || i < 0) throw new ArkError('ROOT_MISMATCH', `the leaf of ${bytesToHex(key)} is not in the snapshot's Merkle tree; the snapshot is corrupt, run verify`)
  return {
    ...header(s as Snapshot<unknown, unknown>),
    value: values.map(abiValueToJSON),
    proof: [...treeProof(merkle.tree, merkle.sortedLeaves.length / 32, i), ...accountProofSuffix(await s.marketsTree())].map(bytesToHex),
    record: s.schema.toJSON(key, record),
  }
}

/** Every account's proof (a claims file), in key order, without the full records. */
export async function* proveAll<R>(s: Snapshot<R, unknown>): AsyncGenerator<{ value: unknown[]; proof: string[] }> {
  const merkle = await checkedMerkle(s as Snapshot<unknown, unknown>)
  if (merkle === null) return
  const n = merkle.sortedLeaves.length / 32
  const suffix = accountProofSuffix(await s.marketsTree())
  for await (const e of s.rawEntries()) {
    const record = s.schema.decode(e.value, `record of ${bytesToHex(e.key)}`)
    const values = s.schema.leaf(e.key, record, keccak256(e.value))
    const i = findLeaf(merkle.sortedLeaves, standardLeafHash(abiEncode(s.schema.leafEncoding, values)))
    yield { value: values.map(abiValueToJSON), proof: [...treeProof(merkle.tree, n, i), ...suffix].map(bytesToHex) }
  }
}

export function claimsHeader(s: Snapshot<unknown, unknown>): Omit<AccountProof, 'value' | 'proof' | 'record' | 'format'> & { format: string; accountCount: number } {
  return { ...header(s), format: 'ark.claims.v1', accountCount: s.root.accountCount }
}

/**
 * OpenZeppelin's `standard-v1` tree dump of the snapshot, as JSON text in
 * chunks (StandardMerkleTree.load reads it back): the whole tree (root first,
 * the layout the stateRoot is computed in) and every account's leaf values in
 * key order with its position in the tree. Issued only when the tree rebuilt
 * from the records gives the stateRoot.
 */
export async function* standardTreeDump<R>(s: Snapshot<R, unknown>): AsyncGenerator<string> {
  const merkle = await checkedMerkle(s as Snapshot<unknown, unknown>)
  if (merkle === null) throw new ArkError('INVALID_INPUT', `snapshot ${s.cid.toString()} has no accounts: a standard-v1 tree needs at least one leaf`)
  if ((await s.marketsTree()) !== null) throw new ArkError('INVALID_INPUT', `snapshot ${s.cid.toString()} uses schema ${s.schema.id} v${s.schema.version}, whose stateRoot also commits to the market state (SPEC §1.5): a standard-v1 dump of the account tree alone would not give it; use the ark.claims.v1 format`)
  const len = merkle.tree.length / 32
  let buf = `{"format":"standard-v1","leafEncoding":${JSON.stringify(s.root.schema.leafEncoding)},"tree":[`
  for (let i = 0; i < len; i++) {
    buf += `${i === 0 ? '' : ','}"${bytesToHex(merkle.tree.subarray(i * 32, i * 32 + 32))}"`
    if (buf.length > 1 << 20) {
      yield buf
      buf = ''
    }
  }
  buf += '],"values":['
  let first = true
  for await (const e of s.rawEntries()) {
    const record = s.schema.decode(e.value, `record of ${bytesToHex(e.key)}`)
    const values = s.schema.leaf(e.key, record, keccak256(e.value))
    const i = findLeaf(merkle.sortedLeaves, standardLeafHash(abiEncode(s.schema.leafEncoding, values)))
    if (i < 0) throw new ArkError('ROOT_MISMATCH', `the leaf of ${bytesToHex(e.key)} is not in the snapshot's Merkle tree; the snapshot is corrupt, run verify`)
    // sorted leaf i sits at len-1-i (buildStandardTree)
    buf += `${first ? '' : ','}\n${JSON.stringify({ value: values.map(abiValueToJSON), treeIndex: len - 1 - i })}`
    first = false
    if (buf.length > 1 << 20) {
      yield buf
      buf = ''
    }
  }
  yield `${buf}\n]}\n`
}
