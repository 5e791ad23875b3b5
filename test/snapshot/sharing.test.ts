/**
 * Cost grows with change, not size: consecutive snapshots of a 100k-account
 * state share almost all blocks, a one-account change writes O(height) new
 * blocks, and a lookup reads one block per level.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, type Change } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore, type BlockStore } from '../../snapshot/store.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import { build, cidSet, EMPTY_MARKETS, META, schema } from './support.ts'

const N = 100_000
const ASSET = `0x${'a0'.repeat(20)}`

function keyOf(i: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, i)
  return keccak256(b).subarray(0, 20)
}

const rec = (amount: bigint): AccountRecord => ({ collateral: [{ asset: ASSET, amount }], perps: [], options: [] })

/** Wraps a store and counts reads. */
class CountingStore implements BlockStore {
  reads = 0
  readonly inner: BlockStore
  constructor(inner: BlockStore) {
    this.inner = inner
  }
  get(cid: CID) {
    this.reads++
    return this.inner.get(cid)
  }
  put(block: Block) {
    return this.inner.put(block)
  }
  has(cid: CID) {
    return this.inner.has(cid)
  }
}

/** Records which blocks an operation writes (into the shared store). */
class RecordingStore implements BlockStore {
  readonly written: string[] = []
  readonly inner: BlockStore
  constructor(inner: BlockStore) {
    this.inner = inner
  }
  get(cid: CID) {
    return this.inner.get(cid)
  }
  put(block: Block) {
    this.written.push(block.cid.toString())
    return this.inner.put(block)
  }
  has(cid: CID) {
    return this.inner.has(cid)
  }
}

describe('block sharing at 100k accounts', () => {
  let base: Snapshot<AccountRecord, unknown>
  let store: MemoryBlockStore
  let baseCids: Set<string>
  let height: number
  let recorder: RecordingStore
  let watched: Snapshot<AccountRecord, unknown>
  const keys: Uint8Array[] = []

  beforeAll(async () => {
    for (let i = 0; i < N; i++) keys.push(keyOf(i))
    store = new MemoryBlockStore()
    const built = await build(
      keys.map((key, i) => ({ key, record: rec(BigInt(i + 1)) })),
      { store },
    )
    base = built.snapshot as Snapshot<AccountRecord, unknown>
    baseCids = await cidSet(base)
    height = (await base.rootRef())!.level + 1
    // the base snapshot, its cached views kept, seen through a store that records writes
    recorder = new RecordingStore(store)
    watched = new Snapshot<AccountRecord, unknown>({
      cid: base.cid,
      root: base.root,
      store: recorder,
      schema: base.schema,
      verifyBlocks: false,
      rootRef: await base.rootRef(),
      index: await base.treeIndex(),
      leaves: await base.leafIndex(),
      merkle: await base.merkle(),
    })
  })

  /** Blocks written by one change that the base DAG does not already hold. */
  async function freshBlocks(change: Change<AccountRecord>) {
    recorder.written.length = 0
    const { snapshot, stats } = await applyChanges(watched, [change], { meta: META, markets: EMPTY_MARKETS })
    return { snapshot, stats, fresh: new Set(recorder.written.filter((c) => !baseCids.has(c))).size }
  }

  it('the tree has the expected shape', () => {
    expect(base.root.accountCount).toBe(N)
    // ~4 entries per leaf, ~8 children per branch: log8(25k) + 1 levels
    expect(height).toBeGreaterThanOrEqual(5)
    expect(height).toBeLessThanOrEqual(8)
    expect(baseCids.size).toBeGreaterThan(N / 8)
  })

  it('changing 1% of the accounts shares >= 90% of the new blocks, and equals a rebuild', async () => {
    const changes: Change<AccountRecord>[] = []
    const changed = new Map<number, bigint>()
    for (let i = 0; i < N; i += 100) {
      const j = (i * 7919 + 13) % N // spread the changes over the key space
      changed.set(j, BigInt(j) * 3n + 5n)
      changes.push({ key: keys[j]!, record: rec(BigInt(j) * 3n + 5n) })
    }
    const { snapshot: next, stats } = await applyChanges(base, changes, { meta: META, markets: EMPTY_MARKETS })
    const nextCids = await cidSet(next)
    let shared = 0
    for (const c of nextCids) if (baseCids.has(c)) shared++
    expect(shared / nextCids.size).toBeGreaterThanOrEqual(0.9)
    // what was written is what is new (plus the unchanged markets block)
    expect(stats.newBlocks).toBeLessThanOrEqual(nextCids.size - shared + 1)
    expect(stats.newBlocks).toBeLessThan(0.1 * nextCids.size)
    // every block of the new DAG is in the store
    for (const c of nextCids) expect(store.blocks.has(c)).toBe(true)

    // the same state built from scratch: identical CID
    const rebuilt = await build(keys.map((key, i) => ({ key, record: rec(changed.get(i) ?? BigInt(i + 1)) })))
    expect(next.cid.toString()).toBe(rebuilt.snapshot.cid.toString())
    expect(next.root.stateRoot).toBe(rebuilt.snapshot.root.stateRoot)
  })

  it('a single-account update rewrites exactly one node per level, plus the root block', async () => {
    for (const i of [0, 99_999]) {
      const { stats, fresh } = await freshBlocks({ key: keys[i]!, record: rec(42n) })
      expect(fresh).toBe(height + 1)
      expect(stats.newBlocks).toBe(height + 2) // + the (unchanged) markets block, rewritten
    }
  })

  it('single-account insertions and deletions create ~height + 3 new blocks (at most 2 per level)', async () => {
    const cases: [string, Change<AccountRecord>][] = [
      ['insert', { key: keyOf(N + 1), record: rec(7n) }],
      ['insert at the front', { key: new Uint8Array(20), record: rec(7n) }],
      ['insert at the end', { key: new Uint8Array(20).fill(0xff), record: rec(7n) }],
      ['delete', { key: keys[777]!, record: null }],
      ['delete the first key', { key: keys.reduce((a, b) => (Buffer.compare(a, b) < 0 ? a : b)), record: null }],
    ]
    // plus a deterministic sample of random single insertions and deletions
    for (let i = 0; i < 5; i++) {
      cases.push([`insert #${i}`, { key: keyOf(N + 1000 + i), record: rec(1n) }])
      cases.push([`delete #${i}`, { key: keys[(i * 6151 + 17) % N]!, record: null }])
    }
    let total = 0
    for (const [what, change] of cases) {
      const { snapshot: next, stats, fresh } = await freshBlocks(change)
      // every block of the new DAG that the old one lacks must have been written now
      if (what === 'insert') {
        const walked = [...(await cidSet(next))].filter((c) => !baseCids.has(c))
        expect(walked.length).toBe(fresh)
      }
      total += fresh
      expect(fresh, what).toBeGreaterThanOrEqual(2) // at least the changed leaf and the root block
      expect(fresh, what).toBeLessThanOrEqual(2 * height + 1) // a split or merge per level at worst
      // written blocks: the fresh ones, the markets block, and occasionally an old node re-emitted
      expect(stats.newBlocks, what).toBeLessThanOrEqual(2 * height + 2)
      expect(next.root.accountCount, what).toBe(N + (change.record === null ? -1 : 1))
    }
    expect(total / cases.length).toBeLessThanOrEqual(height + 3)
  })

  it('get(key) reads at most height + 1 tree blocks from an opened snapshot', async () => {
    const counting = new CountingStore(store)
    const opened = await Snapshot.open(counting, base.cid, schema)
    counting.reads = 0
    // first lookup also loads the root node's ref
    const first = await opened.get(keys[5]!)
    expect(first?.collateral[0]?.amount).toBe(6n)
    expect(counting.reads).toBeLessThanOrEqual(height + 1)
    for (const i of [0, 1, 99_999, 31_337, 50_000]) {
      counting.reads = 0
      const r = await opened.get(keys[i]!)
      expect(r?.collateral[0]?.amount).toBe(BigInt(i + 1))
      expect(counting.reads).toBe(height)
    }
    counting.reads = 0
    expect(await opened.get(keyOf(N + 5))).toBeUndefined()
    expect(counting.reads).toBeLessThanOrEqual(height)
  })
})
