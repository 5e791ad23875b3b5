import type { CID } from 'multiformats/cid'
import { ArkError } from '../ark-error.ts'
import { checkBlock, decodeBlock } from '../codec/block.ts'
import { bytesToHex } from '../codec/hex.ts'
import { MalformedBlockError } from '../errors.ts'
import { HASH } from '../merkle/standard-tree.ts'
import { LeafIndexBuilder, merkleOf, ZERO_ROOT } from '../state/leaves.ts'
import type { BlockStore } from '../store.ts'
import { TreeBuilder } from '../tree/build.ts'
import { rootOf } from '../tree/index.ts'
import { iterateLeaves, readNode, treeCids, type TreeReader } from '../tree/read.ts'
import type { ChildRef } from '../tree/node.ts'
import { decodeExclusions, type Exclusions } from './exclusions.ts'
import { decodeAmount, RESTITUTION_KEY_LENGTH, restitutionLeafHashInto, TOTAL_ACCOUNT, type RestitutionEntry } from './leaf.ts'
import { decodeRestitutionRoot, type RestitutionRoot } from './root.ts'

/** A restitution table in a block store: its root and lazy reads of its list and rows. */
export class Restitution {
  readonly cid: CID
  readonly root: RestitutionRoot
  readonly store: BlockStore
  private readonly reader: TreeReader

  private constructor(cid: CID, root: RestitutionRoot, store: BlockStore, verify: boolean) {
    this.cid = cid
    this.root = root
    this.store = store
    this.reader = { store, keyLength: RESTITUTION_KEY_LENGTH, verify }
  }

  /** Read and strictly decode the root block (hash-checked unless `verifyBlocks: false`). */
  static async open(store: BlockStore, cid: CID, options: { verifyBlocks?: boolean } = {}): Promise<Restitution> {
    const bytes = await store.get(cid)
    const verify = options.verifyBlocks ?? true
    if (verify) checkBlock(cid, bytes)
    return new Restitution(cid, decodeRestitutionRoot(cid, bytes), store, verify)
  }

  async exclusions(): Promise<Exclusions> {
    const cid = this.root.exclusions.list
    const bytes = await this.store.get(cid)
    if (this.reader.verify === true) checkBlock(cid, bytes)
    const ex = decodeExclusions(decodeBlock(cid, bytes), `exclusion list ${cid.toString()}`)
    if (ex.accounts.length !== this.root.exclusions.count || ex.hash !== this.root.exclusions.hash) {
      throw new ArkError('ROOT_MISMATCH', `restitution ${this.cid.toString()}: the linked exclusion list has ${ex.accounts.length} accounts hashing to ${ex.hash}, the root says ${this.root.exclusions.count} and ${this.root.exclusions.hash}; the table is corrupt or forged`)
    }
    return ex
  }

  private async rootRef(): Promise<ChildRef | null> {
    const cid = this.root.entries
    if (cid === null) return null
    const node = await readNode(this.reader, cid)
    const firstKey = node.level === 0 ? (node as { entries: { key: Uint8Array }[] }).entries[0]!.key : (node as { children: ChildRef[] }).children[0]!.firstKey
    return { cid, level: node.level, firstKey, count: this.root.entryCount + this.root.totals.length }
  }

  /** Every leaf in key order (total leaves first), amounts strictly decoded. */
  async *leaves(): AsyncGenerator<RestitutionEntry> {
    for await (const leaf of iterateLeaves(this.reader, await this.rootRef())) {
      for (const e of leaf) yield { account: e.key.subarray(0, 20), asset: e.key.subarray(20), amount: decodeAmount(e.value, `restitution row ${bytesToHex(e.key)}`) }
    }
  }

  /** Every block of the table: root, exclusion list, then the tree (parents first). */
  async *blockCids(): AsyncGenerator<CID> {
    yield this.cid
    yield this.root.exclusions.list
    yield* treeCids(this.reader, await this.rootRef())
  }

  /**
   * Everything that can be checked without the two snapshots: every block
   * (hash-checked unless the store's blocks already were), the exclusion
   * list against its count and hash, the tree laid out canonically, every
   * row canonical and positive, the total leaves equal to the sums of the
   * rows and to the root's totals, the counts, and the Merkle root.
   * Throws on the first problem.
   */
  async verify(): Promise<void> {
    const fail = (why: string): never => {
      throw new ArkError('ROOT_MISMATCH', `restitution ${this.cid.toString()}: ${why}; the table is corrupt or forged`)
    }
    await this.exclusions()
    const builder = new TreeBuilder(() => {})
    const index = new LeafIndexBuilder(RESTITUTION_KEY_LENGTH, Math.max(1, this.root.entryCount + this.root.totals.length))
    const hash = new Uint8Array(HASH)
    const totals: RestitutionEntry[] = []
    const sums = new Map<string, bigint>()
    let rows = 0
    for await (const leaf of iterateLeaves(this.reader, await this.rootRef())) {
      for (const e of leaf) {
        try {
          builder.add(e)
        } catch (cause) {
          throw new MalformedBlockError(`restitution ${this.cid.toString()}: tree keys are not strictly increasing at ${bytesToHex(e.key)}`, { cause })
        }
        const row = { account: e.key.subarray(0, 20), asset: e.key.subarray(20), amount: decodeAmount(e.value, `restitution row ${bytesToHex(e.key)}`) }
        if (Buffer.compare(row.account, TOTAL_ACCOUNT) === 0) totals.push(row)
        else {
          rows++
          const k = bytesToHex(row.asset)
          sums.set(k, (sums.get(k) ?? 0n) + row.amount)
        }
        restitutionLeafHashInto(row.account, row.asset, row.amount, hash, 0)
        index.push(e.key, hash)
      }
    }
    const rebuilt = rootOf(builder.finish())?.cid ?? null
    const want = this.root.entries
    if ((rebuilt === null) !== (want === null) || (rebuilt !== null && !rebuilt.equals(want!))) fail(`the entry tree is not laid out canonically (rebuilt root ${rebuilt?.toString() ?? 'none'})`)
    if (rows !== this.root.entryCount) fail(`the root says ${this.root.entryCount} rows but the tree holds ${rows}`)
    const stated = this.root.totals
    if (totals.length !== stated.length || sums.size !== stated.length) fail(`the root states ${stated.length} totals, the tree has ${totals.length} total leaves over rows in ${sums.size} assets`)
    totals.forEach((t, i) => {
      const asset = bytesToHex(t.asset)
      if (asset !== stated[i]!.asset || t.amount !== stated[i]!.amount) fail(`total leaf ${i} is ${asset}=${t.amount}, the root says ${stated[i]!.asset}=${stated[i]!.amount}`)
      if (sums.get(asset) !== t.amount) fail(`the rows in ${asset} sum to ${sums.get(asset) ?? 0n}, the total leaf says ${t.amount}`)
    })
    const root = merkleOf(index.finish())?.root ?? ZERO_ROOT
    if (root !== this.root.root) fail(`the Merkle root recomputed from the rows is ${root}, the root block says ${this.root.root}`)
  }
}
