import * as dagCbor from '@ipld/dag-cbor'
import { bytesToHex } from '../codec/hex.ts'
import { keccak256 } from '../codec/keccak.ts'
import { ChainError } from '../chain/errors.ts'
import type { BlockHeader, ChainSource } from '../chain/source.ts'
import type { Adapter, AdapterRecord, AdapterState, DeriveContext } from '../adapters/types.ts'
import { InvalidInputError } from '../errors.ts'
import { findKey } from '../state/leaves.ts'
import { applyChanges, buildSnapshot, type Change } from '../state/build.ts'
import type { SnapshotMeta } from '../state/root.ts'
import type { Snapshot } from '../state/snapshot.ts'
import type { BlockStore } from '../store.ts'
import { boundaryHash } from '../tree/params.ts'

/** A derived checkpoint: the snapshot plus the adapter state it came from (to continue incrementally). */
export interface Checkpoint<R = unknown, M = unknown> {
  block: BlockHeader
  snapshot: Snapshot<R, M>
  state: AdapterState<R, M>
}

export interface DeriveOptions<C, R, M> {
  adapter: Adapter<C, R, M>
  config: C
  source: ChainSource
  /** pinned, final, agreed header (ChainSource.checkpointHeader) */
  target: BlockHeader
  /** previous checkpoint on the same chain; omitted: derive from the adapter's start block */
  prev?: Checkpoint<R, M> | undefined
  store: BlockStore
  /** accounts compared with the contracts' views (changed accounts first, then a sample) */
  spotCheckAccounts?: number
  signal?: AbortSignal
}

export const DERIVE_DEFAULTS = Object.freeze({ spotCheckAccounts: 32 })

export interface DeriveStats {
  fromBlock: string
  toBlock: string
  logs: number
  changedAccounts: number
  rpcRequests: number
  ms: { logs: number; fold: number; snapshot: number; spotCheck: number; total: number }
}

export function configHash<C>(adapter: Adapter<C, unknown, unknown>, config: C): `0x${string}` {
  return bytesToHex(keccak256(dagCbor.encode(adapter.configJSON(config))))
}

/**
 * Derive the snapshot at `target`: fold the logs of (prev, target] into a copy
 * of prev's state (or of the empty state from the start block), build the
 * snapshot incrementally, then spot-check it against the contracts' own views
 * at the same block. Nothing is returned unless every check passed, so a
 * caller can never attest a state that failed one.
 */
export async function deriveCheckpoint<C, R, M>(o: DeriveOptions<C, R, M>): Promise<{ checkpoint: Checkpoint<R, M>; stats: DeriveStats }> {
  const t0 = performance.now()
  const req0 = o.source.requests
  const ctx: DeriveContext = { source: o.source, block: o.target, ...(o.signal === undefined ? {} : { signal: o.signal }) }
  const start = o.adapter.startBlock(o.config)
  if (o.target.number < start) throw new ChainError('NOT_FINAL', `block ${o.target.number} is before the adapter's start block ${start}; pick a later block`)
  if (o.prev !== undefined && o.prev.block.number >= o.target.number) throw new ChainError('REORG', `previous checkpoint ${o.prev.block.number} is not before ${o.target.number}`)
  for (const address of o.adapter.contracts(o.config)) {
    const code = await o.source.code(address, o.target.hash, o.signal)
    if (code === '0x' || code.length <= 2) throw new ChainError('CONTRACT_MISSING', `no contract at ${address} at block ${o.target.number}; check the adapter config (address, chain, start block)`)
  }
  if (o.prev !== undefined) {
    // Folding new logs onto state from an orphaned fork would silently mix two chains.
    const still = await o.source.agreedHeader(o.prev.block.number, o.signal)
    if (still.hash !== o.prev.block.hash) throw new ChainError('REORG', `previous checkpoint ${o.prev.block.number} (${o.prev.block.hash}) is no longer on the chain (now ${still.hash}); derive from an earlier checkpoint (CheckpointCache.canonicalBase) or from scratch`, { retryable: true })
  }
  const from = o.prev === undefined ? start : o.prev.block.number + 1n
  const state = o.prev === undefined ? o.adapter.createState(o.config) : o.prev.state.clone()

  let t = performance.now()
  const logs = await o.source.logs(o.adapter.contracts(o.config), from, o.target.number, o.signal)
  for (const l of logs) {
    if (l.blockNumber === o.target.number && l.blockHash !== o.target.hash) throw new ChainError('REORG', `block ${o.target.number} changed while its logs were read (${l.blockHash} vs pinned ${o.target.hash}); retry the checkpoint`, { retryable: true })
  }
  const logsMs = performance.now() - t
  t = performance.now()
  await state.fold(logs, ctx)
  const foldMs = performance.now() - t

  t = performance.now()
  const markets = await state.markets(ctx)
  const meta: SnapshotMeta = {
    block: { chainId: o.source.options.chainId, number: o.target.number, hash: o.target.hash, timestamp: o.target.timestamp },
    adapter: { id: o.adapter.id, version: o.adapter.version, configHash: configHash(o.adapter, o.config) },
  }
  let snapshot: Snapshot<R, M>
  const changes = checkedChanges(o.adapter, state.takeChanges())
  // Accounts that still exist after the fold: the first half of the spot-check sample, on both paths.
  const changedKeys = changes.filter((c) => c.record !== null).map((c) => c.key)
  // A previous checkpoint written with another record-schema version (an adapter upgrade) still
  // gives the state to fold onto, but its tree cannot be patched into the new version: rebuild.
  const prevSchema = o.prev?.snapshot.root.schema
  if (o.prev === undefined || prevSchema!.id !== o.adapter.schema.id || prevSchema!.version !== o.adapter.schema.version) {
    snapshot = (await buildSnapshot({ schema: o.adapter.schema, meta, markets, records: checkedRecords(o.adapter, state.records()), store: o.store })).snapshot
  } else {
    const prevLeaves = await o.prev.snapshot.leafIndex()
    // An account created and emptied between two checkpoints was never in the previous snapshot.
    snapshot = (await applyChanges(o.prev.snapshot, changes.filter((c) => c.record !== null || findKey(prevLeaves, c.key) >= 0), { meta, markets })).snapshot
  }
  const snapshotMs = performance.now() - t

  t = performance.now()
  const sample = await sampleAccounts(snapshot, changedKeys, o.spotCheckAccounts ?? DERIVE_DEFAULTS.spotCheckAccounts, o.target)
  await state.spotCheck(ctx, sample, markets)
  // The pinned block must still be the agreed one (confirmations-mode chains can reorg under us).
  const again = await o.source.agreedHeader(o.target.number, o.signal)
  if (again.hash !== o.target.hash) throw new ChainError('REORG', `block ${o.target.number} was reorged during derivation (${o.target.hash} -> ${again.hash}); retry the checkpoint`, { retryable: true })
  const spotMs = performance.now() - t

  return {
    checkpoint: { block: o.target, snapshot, state },
    stats: {
      fromBlock: from.toString(),
      toBlock: o.target.number.toString(),
      logs: logs.length,
      changedAccounts: changedKeys.length,
      rpcRequests: o.source.requests - req0,
      ms: { logs: Math.round(logsMs), fold: Math.round(foldMs), snapshot: Math.round(snapshotMs), spotCheck: Math.round(spotMs), total: Math.round(performance.now() - t0) },
    },
  }
}

function badKey(adapter: { id: string; schema: { keyLength: number } }, method: string, key: unknown): InvalidInputError {
  const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key === 'string' ? `the string ${JSON.stringify(key.slice(0, 70))}` : typeof key
  return new InvalidInputError(`adapter ${adapter.id} ${method}() returned a key that is ${got}; keys are Uint8Array of exactly schema.keyLength (${adapter.schema.keyLength}) bytes (convert hex with hexToBytes); fix the adapter`)
}

/** Keys checked at the adapter boundary: one type (bytes of keyLength), whatever a JavaScript adapter returns. */
function checkedChanges<R>(adapter: { id: string; schema: { keyLength: number } }, changes: Change<R>[]): Change<R>[] {
  for (const c of changes) {
    if (!(c.key instanceof Uint8Array) || c.key.length !== adapter.schema.keyLength) throw badKey(adapter, 'takeChanges', c.key)
  }
  return changes
}

function* checkedRecords<R>(adapter: { id: string; schema: { keyLength: number } }, records: Iterable<AdapterRecord<R>>): Iterable<AdapterRecord<R>> {
  for (const r of records) {
    if (!(r.key instanceof Uint8Array) || r.key.length !== adapter.schema.keyLength) throw badKey(adapter, 'records', r.key)
    yield r
  }
}

/** Half changed accounts, half a block-hash-seeded spread over all accounts: deterministic, not predictable before the block. */
async function sampleAccounts<R, M>(s: Snapshot<R, M>, changed: Uint8Array[], n: number, block: BlockHeader): Promise<{ key: Uint8Array; record: R }[]> {
  const keys = new Map<string, Uint8Array>()
  const half = Math.ceil(n / 2)
  const seed = boundaryHash(255, Buffer.from(block.hash.slice(2), 'hex'))
  for (let i = 0; i < changed.length && keys.size < half; i++) {
    const k = changed[(seed + i * 7919) % changed.length]!
    keys.set(bytesToHex(k), k)
  }
  const leaves = await s.leafIndex()
  for (let i = 0; i < leaves.n && keys.size < n; i++) {
    const j = (seed + i * 104729) % leaves.n
    const k = leaves.keys.slice(j * leaves.keyLength, (j + 1) * leaves.keyLength)
    keys.set(bytesToHex(k), k)
  }
  // Independent tree walks: run them at once. One after the other, each of the ~4 block reads per key waits a
  // full event-loop turn, which on a busy node (several nodes in one process, gossip, other derivations) cost seconds.
  const got = await Promise.all([...keys.values()].map(async (k): Promise<{ key: Uint8Array; record: R | undefined }> => ({ key: k, record: await s.get(k) })))
  return got.filter((g): g is { key: Uint8Array; record: R } => g.record !== undefined)
}

/**
 * Recent checkpoints on one chain, newest last. Before deriving on top of the
 * newest, `canonicalBase` drops every cached checkpoint whose block hash is no
 * longer canonical (a reorg below the cached head), so derived state after
 * the fork point is discarded, never reused.
 */
export class CheckpointCache<R = unknown, M = unknown> {
  private readonly items: Checkpoint<R, M>[] = []
  private readonly keep: number
  constructor(keep = 4) {
    this.keep = keep
  }
  push(c: Checkpoint<R, M>): void {
    this.items.push(c)
    while (this.items.length > this.keep) this.items.shift()
  }
  get latest(): Checkpoint<R, M> | undefined {
    return this.items[this.items.length - 1]
  }
  get size(): number {
    return this.items.length
  }
  async canonicalBase(source: ChainSource, signal?: AbortSignal): Promise<{ base: Checkpoint<R, M> | undefined; dropped: bigint[] }> {
    const dropped: bigint[] = []
    while (this.items.length > 0) {
      const c = this.items[this.items.length - 1]!
      const h = await source.agreedHeader(c.block.number, signal).catch((err: unknown) => {
        if (err instanceof ChainError && err.chainCode === 'NOT_FINAL') return null
        throw err
      })
      if (h !== null && h.hash === c.block.hash) return { base: c, dropped }
      dropped.push(c.block.number)
      this.items.pop()
    }
    return { base: undefined, dropped }
  }

  /** Newest cached checkpoint strictly below `block` that is still canonical (a base for an off-schedule derivation); not removed. */
  async baseBelow(block: bigint, source: ChainSource, signal?: AbortSignal): Promise<Checkpoint<R, M> | undefined> {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const c = this.items[i]!
      if (c.block.number >= block) continue
      const h = await source.agreedHeader(c.block.number, signal).catch(() => null)
      if (h !== null && h.hash === c.block.hash) return c
    }
    return undefined
  }
}
