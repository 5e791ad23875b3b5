/**
 * Restitution tables are a pure function of (before, after, exclusion set):
 * independent of record input order, of how the snapshots were built (full
 * build or incremental update) and of the exclusion list's order; equal to a
 * naive reference computation; and they round-trip through their blocks. A
 * large table spreads over many tree blocks, each within the 1 MiB rule.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_BLOCK_BYTES } from '../../snapshot/codec/block.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { buildRestitution } from '../../snapshot/restitution/build.ts'
import { exclusionsFrom } from '../../snapshot/restitution/exclusions.ts'
import { entryToJSON } from '../../snapshot/restitution/leaf.ts'
import { Restitution } from '../../snapshot/restitution/open.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { GOLDEN_MARKETS } from '../snapshot/golden-fixture.ts'
import { AFTER_META, BEFORE_META } from './fixture.ts'

const ASSETS = ['0x1111111111111111111111111111111111111111', '0x2222222222222222222222222222222222222222', '0x3333333333333333333333333333333333333333']
type State = Map<string, Map<string, bigint>> // account -> asset -> amount

const record = (held: Map<string, bigint>): AccountRecord => ({ collateral: [...held].map(([asset, amount]) => ({ asset, amount })), perps: [], options: [] })
const recordsOf = (s: State) => [...s].map(([key, held]) => ({ key, record: record(held) }))

/** Small account space so before/after overlap; amounts straddle each other. */
const arbState = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 24 }), fc.constantFrom(...ASSETS), fc.bigInt({ min: 1n, max: 1n << 80n })), { maxLength: 40 })
  .map((rows) => {
    const s: State = new Map()
    for (const [i, asset, amount] of rows) {
      const key = `0x${i.toString(16).padStart(2, '0').repeat(20)}`
      if (!s.has(key)) s.set(key, new Map())
      s.get(key)!.set(asset, amount)
    }
    return s
  })

/** The definition, written the obvious way. */
function naive(before: State, after: State, excluded: Set<string>): { account: string; asset: string; amount: string }[] {
  const rows: { account: string; asset: string; amount: string }[] = []
  const totals = new Map<string, bigint>()
  for (const [account, held] of before) {
    if (excluded.has(account)) continue
    for (const [asset, amount] of held) {
      const loss = amount - (after.get(account)?.get(asset) ?? 0n)
      if (loss <= 0n) continue
      rows.push({ account, asset, amount: loss.toString() })
      totals.set(asset, (totals.get(asset) ?? 0n) + loss)
    }
  }
  const zero = `0x${'00'.repeat(20)}`
  for (const [asset, amount] of totals) rows.push({ account: zero, asset, amount: amount.toString() })
  const k = (r: { account: string; asset: string }) => r.account + r.asset
  return rows.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0))
}

async function table(before: State, after: State, excluded: string[], shuffle: (xs: { key: string; record: AccountRecord }[]) => typeof xs = (x) => x) {
  const store = new MemoryBlockStore()
  const b = await buildSnapshot({ schema: derivativesSchema, meta: BEFORE_META, markets: GOLDEN_MARKETS, records: shuffle(recordsOf(before)), store })
  const a = await buildSnapshot({ schema: derivativesSchema, meta: AFTER_META, markets: GOLDEN_MARKETS, records: shuffle(recordsOf(after)), store })
  return { store, before: b.snapshot, after: a.snapshot, table: await buildRestitution({ before: b.snapshot, after: a.snapshot, exclusions: exclusionsFrom(excluded), store }) }
}

describe('restitution table properties', () => {
  it('equals the naive reference; independent of input order, build path and exclusion order; round-trips and verifies', async () => {
    await fc.assert(
      fc.asyncProperty(arbState, arbState, fc.subarray([...Array(24).keys()].map((i) => `0x${(i + 1).toString(16).padStart(2, '0').repeat(20)}`)), async (before, after, excluded) => {
        const first = await table(before, after, excluded)
        expect(first.table.leaves.map(entryToJSON)).toEqual(naive(before, after, new Set(excluded)))

        const reversed = await table(before, after, [...excluded].reverse(), (xs) => [...xs].reverse())
        expect(reversed.table.cid.toString()).toBe(first.table.cid.toString())

        // the after snapshot as an incremental update of the before one: same snapshot, same table
        const changes = [...new Set([...before.keys(), ...after.keys()])].map((key) => ({ key, record: after.has(key) ? record(after.get(key)!) : null }))
        const { snapshot: incremental } = await applyChanges(first.before, changes, { meta: AFTER_META, markets: GOLDEN_MARKETS })
        const again = await buildRestitution({ before: first.before, after: incremental, exclusions: exclusionsFrom(excluded), store: first.store })
        expect(again.cid.toString()).toBe(first.table.cid.toString())

        const opened = await Restitution.open(first.store, first.table.cid)
        await opened.verify()
        const read = []
        for await (const e of opened.leaves()) read.push(entryToJSON(e))
        expect(read).toEqual(first.table.leaves.map(entryToJSON))
        expect((await opened.exclusions()).accounts.map(bytesToHex)).toEqual([...excluded].sort())
      }),
      { numRuns: 40 },
    )
  })

  it('a table of 12,000 rows spans many blocks, each within the block limit, and verifies', async () => {
    const before: State = new Map()
    const after: State = new Map()
    for (let i = 0; i < 4_000; i++) {
      const key = `0x${(0x100000 + i).toString(16).padStart(40, '0')}`
      before.set(key, new Map(ASSETS.map((a, j) => [a, BigInt(1000 + i + j)])))
      after.set(key, new Map([[ASSETS[0]!, 1n]]))
    }
    const { store, table: t } = await table(before, after, [])
    expect(t.root.entryCount).toBe(12_000)
    const opened = await Restitution.open(store, t.cid)
    let blocks = 0
    for await (const cid of opened.blockCids()) {
      expect(store.get(cid).length).toBeLessThanOrEqual(MAX_BLOCK_BYTES)
      blocks++
    }
    expect(blocks).toBeGreaterThan(100)
    await opened.verify()
  })

  it('refuses snapshots of different scopes, in the wrong order, or a repeated exclusion', async () => {
    const s: State = new Map([[`0x${'01'.repeat(20)}`, new Map([[ASSETS[0]!, 5n]])]])
    const { store, before, after } = await table(s, new Map(), [])
    await expect(buildRestitution({ before: after, after: before, exclusions: exclusionsFrom([]), store })).rejects.toThrow(/must be older/)
    const { snapshot: other } = await buildSnapshot({ schema: derivativesSchema, meta: { ...AFTER_META, adapter: { ...AFTER_META.adapter, configHash: `0x${'99'.repeat(32)}` } }, markets: GOLDEN_MARKETS, records: [], store })
    await expect(buildRestitution({ before, after: other, exclusions: exclusionsFrom([]), store })).rejects.toThrow(/configHash/)
    expect(() => exclusionsFrom([ASSETS[0]!, ASSETS[0]!.toUpperCase().replace('0X', '0x')])).toThrow(/twice/)
    expect(() => exclusionsFrom(['0x1234'])).toThrow(/20 bytes/)
  })
})
