import type { CID } from 'multiformats/cid'
import { checkBlock, decodeBlock } from '../codec/block.ts'
import { bytesToHex } from '../codec/hex.ts'
import { ArkError } from '../ark-error.ts'
import { MalformedBlockError } from '../errors.ts'
import type { RecordSchema } from '../schema/types.ts'
import type { BlockStore } from '../store.ts'
import { TreeBuilder } from '../tree/build.ts'
import { TREE_PARAMS_V1 } from '../tree/params.ts'
import type { TreeIndex } from '../tree/index.ts'
import type { ChildRef, Entry } from '../tree/node.ts'
import { schemaMarketsTree, stateRootOf, type MarketsTree } from '../merkle/composed-root.ts'
import { HASH, leafHashFast } from '../merkle/standard-tree.ts'
import { getEntry, iterateEntries, iterateLeaves, loadIndex, readNode, treeCids, type TreeReader } from '../tree/read.ts'
import { LeafIndexBuilder, leafHashOf, merkleOf, type LeafIndex, type MerkleState } from './leaves.ts'
import { decodeRoot, type SnapshotRoot } from './root.ts'

export interface OpenOptions {
  /** hash-check every block read (default true: stores are untrusted unless said otherwise) */
  verifyBlocks?: boolean
}

export interface VerifyOptions {
  /**
   * Every block in the store was already hash-checked against its CID when it
   * was put there (a fetch checks each block on arrival), so verify() does not
   * hash them again; every other check still runs. Default false: a store of
   * unknown origin (a CAR on disk, a blockstore) is hash-checked in full.
   */
  blocksChecked?: boolean
}

export const VERIFY_DEFAULTS: Readonly<Required<VerifyOptions>> = Object.freeze({ blocksChecked: false })

/**
 * A snapshot in a block store: its root plus lazily loaded, cached views
 * (tree index, leaf index, Merkle tree). Built snapshots arrive with those
 * views already filled.
 */
export class Snapshot<R = unknown, M = unknown> {
  readonly cid: CID
  readonly root: SnapshotRoot
  readonly store: BlockStore
  readonly schema: RecordSchema<R, M>
  readonly reader: TreeReader
  private rootRefCache: ChildRef | null | undefined
  private indexCache: TreeIndex | undefined
  private leavesCache: LeafIndex | undefined
  private merkleCache: MerkleState | null | undefined
  private marketsTreeCache: MarketsTree | null | undefined

  constructor(init: { cid: CID; root: SnapshotRoot; store: BlockStore; schema: RecordSchema<R, M>; verifyBlocks?: boolean; rootRef?: ChildRef | null; index?: TreeIndex; leaves?: LeafIndex; merkle?: MerkleState | null; marketsTree?: MarketsTree | null }) {
    this.cid = init.cid
    this.root = init.root
    this.store = init.store
    this.schema = init.schema
    this.reader = { store: init.store, keyLength: init.schema.keyLength, verify: init.verifyBlocks ?? true }
    this.rootRefCache = init.rootRef
    this.indexCache = init.index
    this.leavesCache = init.leaves
    this.merkleCache = init.merkle
    this.marketsTreeCache = init.marketsTree
  }

  static async open<R, M>(store: BlockStore, cid: CID, schema: RecordSchema<R, M>, options: OpenOptions = {}): Promise<Snapshot<R, M>> {
    const bytes = await store.get(cid)
    if (options.verifyBlocks ?? true) checkBlock(cid, bytes)
    const root = decodeRoot(cid, bytes)
    if (root.schema.id !== schema.id || root.schema.version !== schema.version || root.schema.leafEncoding.join() !== schema.leafEncoding.join()) {
      throw new ArkError('UNSUPPORTED_VERSION', `snapshot ${cid.toString()} uses record schema ${root.schema.id} v${root.schema.version}, but ${schema.id} v${schema.version} was requested; open it with the adapter that wrote it`)
    }
    return new Snapshot({ cid, root, store, schema, verifyBlocks: options.verifyBlocks ?? true })
  }

  async rootRef(): Promise<ChildRef | null> {
    if (this.rootRefCache !== undefined) return this.rootRefCache
    const cid = this.root.accounts
    if (cid === null) return (this.rootRefCache = null)
    const node = await readNode(this.reader, cid)
    const firstKey = node.level === 0 ? (node as { entries: Entry[] }).entries[0]!.key : (node as { children: ChildRef[] }).children[0]!.firstKey
    return (this.rootRefCache = { cid, level: node.level, firstKey: firstKey.slice(), count: this.root.accountCount })
  }

  async markets(): Promise<M> {
    const bytes = await this.store.get(this.root.markets)
    if (this.reader.verify === true) checkBlock(this.root.markets, bytes)
    return this.schema.markets.decode(decodeBlock(this.root.markets, bytes), bytes)
  }

  async getRaw(key: Uint8Array): Promise<Uint8Array | undefined> {
    return getEntry(this.reader, await this.rootRef(), key)
  }

  async get(key: Uint8Array): Promise<R | undefined> {
    const raw = await this.getRaw(key)
    return raw === undefined ? undefined : this.schema.decode(raw, `record of ${bytesToHex(key)}`)
  }

  async *rawEntries(): AsyncGenerator<Entry> {
    yield* iterateEntries(this.reader, await this.rootRef())
  }

  async *entries(): AsyncGenerator<{ key: Uint8Array; record: R }> {
    for await (const e of this.rawEntries()) yield { key: e.key, record: this.schema.decode(e.value, `record of ${bytesToHex(e.key)}`) }
  }

  async treeIndex(): Promise<TreeIndex> {
    if (this.indexCache === undefined) this.indexCache = await loadIndex(this.reader, await this.rootRef())
    return this.indexCache
  }

  /** Leaf hashes of every account (reads every record once, then cached). */
  async leafIndex(): Promise<LeafIndex> {
    if (this.leavesCache !== undefined) return this.leavesCache
    const b = new LeafIndexBuilder(this.schema.keyLength, Math.max(1, this.root.accountCount))
    for await (const e of this.rawEntries()) {
      const record = this.schema.decode(e.value, `record of ${bytesToHex(e.key)}`)
      b.push(e.key, leafHashOf(this.schema, e.key, record, e.value))
    }
    return (this.leavesCache = b.finish())
  }

  async merkle(): Promise<MerkleState | null> {
    if (this.merkleCache === undefined) this.merkleCache = merkleOf(await this.leafIndex())
    return this.merkleCache
  }

  /** The market-state Merkle tree of a schema whose stateRoot commits to it (SPEC §1.5); null for other schemas. */
  async marketsTree(): Promise<MarketsTree | null> {
    if (this.marketsTreeCache === undefined) this.marketsTreeCache = this.schema.marketLeaves === undefined ? null : schemaMarketsTree(this.schema, await this.markets(), this.root.block)
    return this.marketsTreeCache
  }

  /** stateRoot recomputed from the account leaves (and, SPEC §1.5, the market state). */
  async computedStateRoot(): Promise<string> {
    return stateRootOf((await this.merkle())?.root ?? null, await this.marketsTree())
  }

  /** Every block of the snapshot DAG: root, market state, then the tree (parents first). */
  async *blockCids(): AsyncGenerator<CID> {
    yield this.cid
    yield this.root.markets
    yield* treeCids(this.reader, await this.rootRef())
  }

  /**
   * Full verification: every block hash-checked, every record canonical, the
   * tree exactly the canonical layout of its entries, and the account count
   * and stateRoot recomputed from the leaves. Throws on the first problem.
   * With `blocksChecked` the block hashes are taken as already checked.
   */
  async verify(options: VerifyOptions = {}): Promise<void> {
    const hashCheck = !(options.blocksChecked ?? VERIFY_DEFAULTS.blocksChecked)
    const checked: TreeReader = { ...this.reader, verify: hashCheck }
    const rootBytes = await this.store.get(this.cid)
    const marketBytes = await this.store.get(this.root.markets)
    if (hashCheck) {
      checkBlock(this.cid, rootBytes)
      checkBlock(this.root.markets, marketBytes)
    }
    const markets = this.schema.markets.decode(decodeBlock(this.root.markets, marketBytes), marketBytes)
    let rebuilt: CID | null = null
    const builder = new TreeBuilder(() => {})
    const leaves = new LeafIndexBuilder(this.schema.keyLength, Math.max(1, this.root.accountCount))
    const fast = leafHashFast(this.schema)
    const leafHash = new Uint8Array(HASH)
    const rootRef = this.root.accounts === null ? null : { ...(await this.rootRef())!, cid: this.root.accounts }
    for await (const leaf of iterateLeaves(checked, rootRef)) for (const e of leaf) {
      if (e.value.length > TREE_PARAMS_V1.maxRecordBytes) throw new MalformedBlockError(`record of ${bytesToHex(e.key)} is ${e.value.length} bytes, over the ${TREE_PARAMS_V1.maxRecordBytes}-byte limit`)
      // a schema's allocation-free check stands in for the full decode when it is sure; else decode (accepts or throws)
      const record = fast !== undefined && this.schema.isCanonical?.(e.value) === true ? undefined : this.schema.decode(e.value, `record of ${bytesToHex(e.key)}`)
      try {
        builder.add(e)
      } catch (cause) {
        // out-of-order or repeated keys across leaves: the DAG is forged or corrupt, not bad user input
        throw new MalformedBlockError(`snapshot ${this.cid.toString()}: account tree keys are not strictly increasing at ${bytesToHex(e.key)}`, { cause })
      }
      if (record === undefined) {
        if (!fast!.into(e.key, e.value, leafHash, 0)) leafHash.set(leafHashOf(this.schema, e.key, this.schema.decode(e.value, `record of ${bytesToHex(e.key)}`), e.value))
        leaves.push(e.key, leafHash)
      } else leaves.push(e.key, leafHashOf(this.schema, e.key, record, e.value))
    }
    const index = builder.finish()
    const top = index.levels[index.levels.length - 1]
    rebuilt = top === undefined ? null : top.refs[0]!.cid
    const want = this.root.accounts
    if ((rebuilt === null) !== (want === null) || (rebuilt !== null && want !== null && !rebuilt.equals(want))) {
      throw new MalformedBlockError(`snapshot ${this.cid.toString()}: the account tree is not laid out canonically (rebuilt root ${rebuilt?.toString() ?? 'none'}, stored ${want?.toString() ?? 'none'})`)
    }
    const li = leaves.finish()
    if (li.n !== this.root.accountCount) throw new ArkError('ROOT_MISMATCH', `snapshot ${this.cid.toString()} says ${this.root.accountCount} accounts but holds ${li.n}`)
    const m = merkleOf(li)
    const marketTree = schemaMarketsTree(this.schema, markets, this.root.block)
    const stateRoot = stateRootOf(m?.root ?? null, marketTree)
    if (stateRoot !== this.root.stateRoot) throw new ArkError('ROOT_MISMATCH', `snapshot ${this.cid.toString()}: stateRoot recomputed from the leaves is ${stateRoot}, the root says ${this.root.stateRoot}; the snapshot is corrupt or forged`)
    this.leavesCache = li
    this.merkleCache = m
    this.marketsTreeCache = marketTree
  }
}
