import type { CID } from 'multiformats/cid'
import type { Block } from '../codec/block.ts'
import { bytesToHex } from '../codec/hex.ts'
import { rangeOf, UINT256 } from '../codec/int.ts'
import { InvalidInputError } from '../errors.ts'
import { HASH } from '../merkle/standard-tree.ts'
import { LeafIndexBuilder, merkleOf, ZERO_ROOT } from '../state/leaves.ts'
import type { Snapshot } from '../state/snapshot.ts'
import type { BlockStore } from '../store.ts'
import { TreeBuilder } from '../tree/build.ts'
import { rootOf } from '../tree/index.ts'
import { computeLosses, type Holdings } from './compute.ts'
import { encodeExclusions, type Exclusions } from './exclusions.ts'
import { encodeAmount, entryKey, RESTITUTION_KEY_LENGTH, restitutionLeafHashInto, TOTAL_ACCOUNT, type RestitutionEntry } from './leaf.ts'
import { encodeRestitutionRoot, MAX_TOTALS, RESTITUTION_VERSION, type RestitutionRoot, type RestitutionSide } from './root.ts'

export interface RestitutionTable {
  cid: CID
  root: RestitutionRoot
  /** every leaf in key order: the total leaves (account address(0)) first, then the losses */
  leaves: RestitutionEntry[]
}

/** Per-asset totals of loss rows, ascending by asset; a total past uint256 is refused. */
export function totalsOf(losses: readonly RestitutionEntry[]): RestitutionEntry[] {
  const sums = new Map<string, RestitutionEntry>()
  for (const e of losses) {
    const k = bytesToHex(e.asset)
    const t = sums.get(k)
    if (t === undefined) sums.set(k, { account: TOTAL_ACCOUNT, asset: e.asset, amount: e.amount })
    else t.amount += e.amount
  }
  const totals = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t)
  for (const t of totals) {
    if (t.amount > rangeOf(UINT256)[1]) throw new InvalidInputError(`losses in ${bytesToHex(t.asset)} sum past 2^256; the valuation is wrong`)
  }
  if (totals.length > MAX_TOTALS) throw new InvalidInputError(`losses span ${totals.length} assets, over the ${MAX_TOTALS} a restitution root holds`)
  return totals
}

export interface TableMeta {
  chainId: bigint
  adapter: { id: string; configHash: string }
  schema: { id: string; version: number }
  before: RestitutionSide
  after: RestitutionSide
}

/**
 * Write a table's blocks (exclusion list, entry tree, root) and return it.
 * `losses` must be sorted by (account, asset), unique, amounts > 0, and no
 * account address(0) — computeLosses gives exactly that. The same losses
 * always give the same blocks: the tree is the snapshot account tree's
 * content-defined chunking (SPEC §3) over 40-byte keys, so any table fits
 * the 1 MiB block rule.
 */
export async function writeTable(meta: TableMeta, exclusions: Exclusions, losses: readonly RestitutionEntry[], store: BlockStore): Promise<RestitutionTable> {
  const pending: Block[] = []
  const flush = async (): Promise<void> => {
    for (const b of pending.splice(0)) await store.put(b)
  }
  for (const e of losses) if (Buffer.compare(e.account, TOTAL_ACCOUNT) === 0) throw new InvalidInputError('address(0) is the reserved total account and has no loss rows')
  const totals = totalsOf(losses)
  const leaves = [...totals, ...losses]
  const tree = new TreeBuilder((b) => pending.push(b))
  const index = new LeafIndexBuilder(RESTITUTION_KEY_LENGTH, Math.max(1, leaves.length))
  const hash = new Uint8Array(HASH)
  for (const e of leaves) {
    if (e.amount <= 0n) throw new InvalidInputError(`restitution row ${bytesToHex(e.account)}/${bytesToHex(e.asset)} has amount ${e.amount}; rows are positive`)
    const key = entryKey(e.account, e.asset)
    tree.add({ key, value: encodeAmount(e.amount) }) // throws on unsorted or repeated rows
    restitutionLeafHashInto(e.account, e.asset, e.amount, hash, 0)
    index.push(key, hash)
    if (pending.length >= 4096) await flush()
  }
  const exBlock = encodeExclusions(exclusions)
  pending.push(exBlock)
  const ref = rootOf(tree.finish())
  const root: RestitutionRoot = {
    version: RESTITUTION_VERSION,
    ...meta,
    exclusions: { count: exclusions.accounts.length, hash: exclusions.hash, list: exBlock.cid },
    entryCount: losses.length,
    totals: totals.map((t) => ({ asset: bytesToHex(t.asset), amount: t.amount })),
    entries: ref?.cid ?? null,
    root: merkleOf(index.finish())?.root ?? ZERO_ROOT,
  }
  const rootBlock = encodeRestitutionRoot(root)
  pending.push(rootBlock)
  await flush()
  return { cid: rootBlock.cid, root, leaves }
}

const sideOf = (s: Snapshot<unknown, unknown>): RestitutionSide => ({ blockNumber: s.root.block.number, blockHash: s.root.block.hash, snapshot: s.cid, stateRoot: s.root.stateRoot })

export interface BuildRestitutionOptions<R, M> {
  before: Snapshot<R, M>
  after: Snapshot<R, M>
  exclusions: Exclusions
  store: BlockStore
  holdings?: Holdings<R, M>
}

/** Compute the loss set of two snapshots of one scope and write its table. Pure but for `store`. */
export async function buildRestitution<R, M>(opts: BuildRestitutionOptions<R, M>): Promise<RestitutionTable> {
  const losses = await computeLosses(opts)
  const { before, after } = opts
  const meta: TableMeta = {
    chainId: after.root.block.chainId,
    adapter: { id: after.root.adapter.id, configHash: after.root.adapter.configHash },
    schema: { id: after.root.schema.id, version: after.root.schema.version },
    before: sideOf(before as Snapshot<unknown, unknown>),
    after: sideOf(after as Snapshot<unknown, unknown>),
  }
  return writeTable(meta, opts.exclusions, losses, opts.store)
}
