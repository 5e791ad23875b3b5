import type { Certificate } from '../../protocol/certificate.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { decodeBlock } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { MalformedBlockError } from '../../snapshot/errors.ts'
import { buildStandardTree, findLeaf, HASH, leafHashFast, sortHashes, treeRoot } from '../../snapshot/merkle/standard-tree.ts'
import { leafHashOf, ZERO_ROOT } from '../../snapshot/state/leaves.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { diffTrees, type EntryChange } from '../../snapshot/tree/diff.ts'
import { TREE_PARAMS_V1 } from '../../snapshot/tree/params.ts'
import { iterateLeaves, readLeaf } from '../../snapshot/tree/read.ts'
import { updateTree } from '../../snapshot/tree/update.ts'
import { checkCertifiedRoot } from './verify.ts'

/** An earlier snapshot verified in full (by `ark fetch`), with its Merkle leaf layer. */
export interface VerifiedPrevious {
  snapshot: Snapshot<unknown, unknown>
  /** the earlier snapshot's proof-leaf hashes, sorted (the OpenZeppelin tree's leaf layer); it merkle-roots to its stateRoot */
  sortedLeaves: Uint8Array
}

/** Proof-leaf hash of one record (schema fast path when it has one). */
function leafHash(s: Snapshot<unknown, unknown>, key: Uint8Array, value: Uint8Array, fast: ReturnType<typeof leafHashFast>): Uint8Array {
  const out = new Uint8Array(HASH)
  if (fast?.into(key, value, out, 0) === true) return out
  return leafHashOf(s.schema, key, s.schema.decode(value, `record of ${bytesToHex(key)}`), value)
}

/**
 * The sorted leaf layer of a snapshot whose records are known canonical (it
 * was verified), checked against its own stateRoot: the base an incremental
 * verification patches. Records are hashed straight from their bytes when
 * the schema has a fast path (no decode).
 */
export async function sortedLeafLayer(s: Snapshot<unknown, unknown>): Promise<Uint8Array> {
  const hashes = new Uint8Array(s.root.accountCount * HASH)
  const fast = leafHashFast(s.schema)
  let n = 0
  for await (const leaf of iterateLeaves(s.reader, await s.rootRef())) {
    for (const e of leaf) {
      if (n >= s.root.accountCount) throw new ArkError('ROOT_MISMATCH', `snapshot ${s.cid.toString()} holds more accounts than the ${s.root.accountCount} its root says`)
      if (fast?.into(e.key, e.value, hashes, n * HASH) !== true) hashes.set(leafHash(s, e.key, e.value, undefined), n * HASH)
      n++
    }
  }
  if (n !== s.root.accountCount) throw new ArkError('ROOT_MISMATCH', `snapshot ${s.cid.toString()} says ${s.root.accountCount} accounts but holds ${n}`)
  const sorted = sortHashes(hashes)
  const root = n === 0 ? ZERO_ROOT : bytesToHex(treeRoot(buildStandardTree(sorted)))
  if (root !== s.root.stateRoot) throw new ArkError('ROOT_MISMATCH', `snapshot ${s.cid.toString()}: stateRoot recomputed from the leaves is ${root}, the root says ${s.root.stateRoot}`)
  return sorted
}

/**
 * A cached sorted leaf layer (merkle-leaves.bin) for the verified snapshot
 * `s`, used only when it is sorted, one hash per account, and merkle-roots to
 * the snapshot's stateRoot; undefined otherwise (then sortedLeafLayer).
 */
export function checkedLeafLayer(s: Snapshot<unknown, unknown>, layer: Uint8Array): Uint8Array | undefined {
  const n = s.root.accountCount
  if (n === 0 || layer.length !== n * HASH) return undefined
  for (let i = 1; i < n; i++) if (Buffer.compare(layer.subarray((i - 1) * HASH, i * HASH), layer.subarray(i * HASH, (i + 1) * HASH)) >= 0) return undefined
  return bytesToHex(treeRoot(buildStandardTree(layer))) === s.root.stateRoot ? layer : undefined
}

/**
 * `layer` (sorted) without the hashes in `removed` and with those in
 * `added`, sorted. A removed hash the layer lacks means the earlier snapshot
 * is not the one the changes were read against: an error.
 */
function patchLayer(layer: Uint8Array, removed: Uint8Array[], added: Uint8Array[]): Uint8Array {
  const n = layer.length / HASH
  const drops: number[] = []
  for (const h of removed) {
    const i = findLeaf(layer, h)
    if (i < 0) throw new ArkError('ROOT_MISMATCH', `the earlier snapshot's leaf layer lacks the leaf ${bytesToHex(h)} of a record it holds; verify it with "ark verify"`)
    drops.push(i)
  }
  drops.sort((x, y) => x - y)
  for (let k = 1; k < drops.length; k++) if (drops[k] === drops[k - 1]) throw new ArkError('ROOT_MISMATCH', `the earlier snapshot's leaf layer holds a leaf once that two of its records hash to; verify it with "ark verify"`)
  const adds = new Uint8Array(added.length * HASH)
  added.forEach((h, i) => adds.set(h, i * HASH))
  const sortedAdds = sortHashes(adds)
  // where each new hash goes: before the first old hash that is not smaller (binary search); then copy runs between the events
  const at = (h: Uint8Array): number => {
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (Buffer.compare(layer.subarray(mid * HASH, (mid + 1) * HASH), h) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const out = new Uint8Array((n - removed.length + added.length) * HASH)
  let o = 0
  let from = 0
  const copyTo = (end: number): void => {
    out.set(layer.subarray(from * HASH, end * HASH), o * HASH)
    o += end - from
    from = end
  }
  let d = 0
  for (let j = 0; j <= added.length; j++) {
    const h = j < added.length ? sortedAdds.subarray(j * HASH, (j + 1) * HASH) : undefined
    const pos = h === undefined ? n : at(h)
    for (; d < drops.length && drops[d]! < pos; d++) {
      copyTo(drops[d]!)
      from++
    }
    copyTo(pos)
    if (h !== undefined) out.set(h, o++ * HASH)
  }
  return out
}

/**
 * Verify the certified snapshot in `store` against an earlier, fully
 * verified snapshot, doing work in proportion to what changed, with the same
 * outcome as openCertifiedSnapshot (verify.ts) — the same snapshot accepted,
 * every forged one refused:
 *
 * - the changed records are found by walking both trees, never opening a
 *   subtree both hold (content addressing: a shared CID is a subtree
 *   verified with the earlier snapshot); each new or changed record is
 *   checked canonical and within size, keys strictly increasing;
 * - the canonical tree of (earlier entries + these changes) is computed with
 *   the incremental tree update (identical to a full rebuild by
 *   construction) and its root CID must be the stored one: so the new DAG is
 *   byte for byte the canonical layout of exactly those entries;
 * - stateRoot is recomputed from the earlier leaf layer minus the changed
 *   records' old leaves plus their new ones, and must equal the root's;
 * - the market state decodes, and the root's fields equal the certificate's.
 *
 * Returns the snapshot with its tree index and Merkle tree cached (the base
 * of the next incremental verification), or undefined when the record
 * schema differs from the earlier one's (the caller verifies in full).
 */
export async function verifyIncrementally(certificate: Certificate, store: BlockStore, prev: VerifiedPrevious): Promise<{ snapshot: Snapshot<unknown, unknown>; sortedLeaves: Uint8Array } | undefined> {
  const cid = certificate.body.snapshotCid
  const root = decodeRoot(cid, await store.get(cid))
  const p = prev.snapshot
  const schema = p.schema
  if (root.schema.id !== schema.id || root.schema.version !== schema.version || root.schema.leafEncoding.join() !== schema.leafEncoding.join()) return undefined
  checkCertifiedRoot(root, certificate)
  const snapshot = new Snapshot({ cid, root, store, schema, verifyBlocks: false })
  const marketBytes = await store.get(root.markets)
  if (!root.markets.equals(p.root.markets)) schema.markets.decode(decodeBlock(root.markets, marketBytes), marketBytes)

  const changes: EntryChange[] = []
  let last: Uint8Array | undefined
  for await (const c of diffTrees(p.reader, await p.rootRef(), snapshot.reader, await snapshot.rootRef())) {
    // a key twice (or out of order) among the new leaves' entries: the DAG is forged
    if (last !== undefined && Buffer.compare(last, c.key) >= 0) throw new MalformedBlockError(`snapshot ${cid.toString()}: account tree keys are not strictly increasing at ${bytesToHex(c.key)}`)
    last = c.key
    if (c.after !== null) {
      if (c.after.length > TREE_PARAMS_V1.maxRecordBytes) throw new MalformedBlockError(`record of ${bytesToHex(c.key)} is ${c.after.length} bytes, over the ${TREE_PARAMS_V1.maxRecordBytes}-byte limit`)
      if (schema.isCanonical?.(c.after) !== true) schema.decode(c.after, `record of ${bytesToHex(c.key)}`)
    }
    changes.push(c)
  }

  const index = await updateTree(await p.treeIndex(), changes.map((c) => ({ key: c.key, value: c.after })), (ref) => readLeaf(p.reader, ref), () => {})
  const top = index.levels[index.levels.length - 1]?.refs[0]
  const rebuilt = top?.cid ?? null
  if ((rebuilt === null) !== (root.accounts === null) || (rebuilt !== null && !rebuilt.equals(root.accounts!))) {
    throw new MalformedBlockError(`snapshot ${cid.toString()}: the account tree is not laid out canonically (rebuilt root ${rebuilt?.toString() ?? 'none'}, stored ${root.accounts?.toString() ?? 'none'})`)
  }
  const count = top?.count ?? 0
  if (count !== root.accountCount) throw new ArkError('ROOT_MISMATCH', `snapshot ${cid.toString()} says ${root.accountCount} accounts but holds ${count}`)

  const fast = leafHashFast(schema)
  const removed: Uint8Array[] = []
  const added: Uint8Array[] = []
  for (const c of changes) {
    if (c.before !== null) removed.push(leafHash(p, c.key, c.before, fast))
    if (c.after !== null) added.push(leafHash(p, c.key, c.after, fast))
  }
  const sortedLeaves = patchLayer(prev.sortedLeaves, removed, added)
  // a changed key the diff took as new although a shared subtree holds it would leave one leaf too many
  if (sortedLeaves.length / HASH !== count) throw new MalformedBlockError(`snapshot ${cid.toString()}: its changed records do not account for its ${count} accounts (${sortedLeaves.length / HASH} leaves); the account tree is forged`)
  const tree = count === 0 ? undefined : buildStandardTree(sortedLeaves)
  const stateRoot = tree === undefined ? ZERO_ROOT : bytesToHex(treeRoot(tree))
  if (stateRoot !== root.stateRoot) throw new ArkError('ROOT_MISMATCH', `snapshot ${cid.toString()}: stateRoot recomputed from the leaves is ${stateRoot}, the root says ${root.stateRoot}; the snapshot is corrupt or forged`)
  const verified = new Snapshot({ cid, root, store, schema, verifyBlocks: false, index, merkle: tree === undefined ? null : { sortedLeaves, tree, root: stateRoot } })
  return { snapshot: verified, sortedLeaves }
}
