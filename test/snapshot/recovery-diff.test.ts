/**
 * Field-level diffs (snapshot/state/field-diff.ts) and the recovery diff
 * summary (snapshot/state/diff-summary.ts): exact leaf changes, per-asset and
 * per-market totals equal to the difference of full-snapshot sums, key order,
 * and refusal of snapshots of different deployments.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { AccountRecord, DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import { checkComparable, recoveryDiff, emptyRecoverySummary } from '../../snapshot/state/diff-summary.ts'
import { fieldChanges } from '../../snapshot/state/field-diff.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { erc20Schema, type BalanceRecord, type TokenState } from '../../snapshot/schema/erc20.ts'
import type { RecordSchema } from '../../snapshot/schema/types.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { arbAccounts, arbRecord, ASSET_A, ASSET_B, build, fcOpts, hex, MARKETS, META, schema, type Account } from './support.ts'

const A = ASSET_A
const B = ASSET_B

async function collect(a: Snapshot<AccountRecord, DerivativesMarkets>, b: Snapshot<AccountRecord, DerivativesMarkets>) {
  const summary = emptyRecoverySummary(a, b)
  const rows = []
  for await (const d of recoveryDiff(a, b, summary)) rows.push(d)
  return { rows, summary }
}

describe('fieldChanges', () => {
  const key = new Uint8Array(20).fill(1)
  const j = (r: AccountRecord) => schema.toJSON(key, r)

  it('names each changed leaf by item identity, with old and new values', () => {
    const before: AccountRecord = {
      collateral: [{ asset: A, amount: 1000n }, { asset: B, amount: 5n }],
      perps: [{ market: 1n, size: 10n, entryPrice: 7n, fundingIndex: 0n }, { market: 3n, size: -4n, entryPrice: 9n, fundingIndex: 2n }],
      options: [{ market: 1n, isCall: true, strike: 100n, expiry: 1_800_000_000n, size: -1n }],
    }
    const after: AccountRecord = {
      collateral: [{ asset: A, amount: 40n }, { asset: B, amount: 5n }],
      // a position opened in the middle of the list is one added item, not a shift of the later ones
      perps: [{ market: 1n, size: 10n, entryPrice: 7n, fundingIndex: 0n }, { market: 2n, size: 3n, entryPrice: 11n, fundingIndex: 1n }, { market: 3n, size: -4n, entryPrice: 9n, fundingIndex: 5n }],
      options: [],
    }
    expect(fieldChanges(j(before), j(after), schema.identity)).toEqual([
      { path: `collateral[asset=${A}].amount`, before: '1000', after: '40' },
      { path: 'perps[market=2].size', before: null, after: '3' },
      { path: 'perps[market=2].entryPrice', before: null, after: '11' },
      { path: 'perps[market=2].fundingIndex', before: null, after: '1' },
      { path: 'perps[market=3].fundingIndex', before: '2', after: '5' },
      { path: 'options[market=1,isCall=true,strike=100,expiry=1800000000].size', before: '-1', after: null },
    ])
  })

  it('an added record lists every leaf with before null (and not its key); identical values give nothing', () => {
    const r: AccountRecord = { collateral: [{ asset: A, amount: 7n }], perps: [], options: [{ market: 10n, isCall: false, strike: 5n, expiry: 9n, size: 2n }] }
    expect(fieldChanges(null, j(r), schema.identity)).toEqual([
      { path: `collateral[asset=${A}].amount`, before: null, after: '7' },
      { path: 'options[market=10,isCall=false,strike=5,expiry=9].size', before: null, after: '2' },
    ])
    expect(fieldChanges(j(r), j(r), schema.identity)).toEqual([])
  })

  it('lists without identity are compared by index; items order numerically by identity', () => {
    expect(fieldChanges({ xs: [1, 2] }, { xs: [1, 3, 4] })).toEqual([
      { path: 'xs[1]', before: 2, after: 3 },
      { path: 'xs[2]', before: null, after: 4 },
    ])
    const m = (ids: number[]) => ({ markets: ids.map((id) => ({ id: String(id), price: '1' })) })
    expect(fieldChanges(m([]), m([10, 2]), { markets: ['id'] }).map((c) => c.path)).toEqual(['markets[id=2].price', 'markets[id=10].price'])
  })

  it('property: the changes are exactly the leaves whose values differ, and reversing swaps before/after', () => {
    const leaves = (r: AccountRecord | null) => new Map(fieldChanges(null, r === null ? null : j(r), schema.identity).map((c) => [c.path, c.after]))
    fc.assert(
      fc.property(fc.option(arbRecord, { nil: null }), fc.option(arbRecord, { nil: null }), (x, y) => {
        const ch = fieldChanges(x === null ? null : j(x), y === null ? null : j(y), schema.identity)
        const lx = leaves(x)
        const ly = leaves(y)
        const expected = [...new Set([...lx.keys(), ...ly.keys()])].filter((p) => (lx.get(p) ?? null) !== (ly.get(p) ?? null))
        expect(ch.map((c) => c.path).sort()).toEqual(expected.sort())
        for (const c of ch) {
          expect(c.before).toBe(lx.get(c.path) ?? null)
          expect(c.after).toBe(ly.get(c.path) ?? null)
        }
        const back = fieldChanges(y === null ? null : j(y), x === null ? null : j(x), schema.identity)
        expect(back.map((c) => ({ ...c, before: c.after, after: c.before })).sort((p, q) => (p.path < q.path ? -1 : 1))).toEqual([...ch].sort((p, q) => (p.path < q.path ? -1 : 1)))
      }),
      fcOpts(300),
    )
  })
})

/** Σ of balances per asset and of long/short sizes per market over a whole record set. */
function totals(accounts: readonly Account[]) {
  const bal = new Map<string, bigint>()
  const pos = new Map<bigint, { long: bigint; short: bigint; bought: bigint; written: bigint }>()
  for (const { record } of accounts) {
    for (const c of record.collateral) bal.set(c.asset.toLowerCase(), (bal.get(c.asset.toLowerCase()) ?? 0n) + c.amount)
    for (const p of [...record.perps.map((x) => ({ ...x, option: false })), ...record.options.map((x) => ({ ...x, option: true }))]) {
      const t = pos.get(p.market) ?? { long: 0n, short: 0n, bought: 0n, written: 0n }
      if (p.option) {
        if (p.size > 0n) t.bought += p.size
        else t.written -= p.size
      } else if (p.size > 0n) t.long += p.size
      else t.short -= p.size
      pos.set(p.market, t)
    }
  }
  return { bal, pos }
}

describe('recoveryDiff', () => {
  it('property: per-asset and per-market totals equal the difference of whole-snapshot sums; rows are the differing accounts in key order', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(0, 25), arbAccounts(0, 25), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 25 }), async (xs, ys, keep, modify) => {
        // b keeps `keep` accounts of a, gives the next `modify` of them new records, drops the rest, and adds others
        const shared = xs.slice(0, keep)
        const modified = xs.slice(keep, keep + modify).map((x, i) => ({ key: x.key, record: ys[i % Math.max(1, ys.length)]?.record ?? x.record }))
        const taken = new Set([...shared, ...modified].map((s) => hex(s.key)))
        const bAccounts = [...shared, ...modified, ...ys.filter((y) => !taken.has(hex(y.key)))]
        const a = (await build(xs)).snapshot
        const b = (await build(bAccounts, { meta: { ...META, block: { ...META.block, number: 101n } } })).snapshot
        const { rows, summary } = await collect(a, b)
        const ax = new Map(xs.map((x) => [hex(x.key), x.record]))
        const bx = new Map(bAccounts.map((x) => [hex(x.key), x.record]))
        const differing = [...new Set([...ax.keys(), ...bx.keys()])].filter((k) => JSON.stringify(ax.has(k) ? schema.toJSON(new Uint8Array(20), ax.get(k)!) : null) !== JSON.stringify(bx.has(k) ? schema.toJSON(new Uint8Array(20), bx.get(k)!) : null)).sort()
        expect(rows.map((r) => r.account)).toEqual(differing)
        expect(summary.added + summary.removed + summary.changed).toBe(differing.length)
        expect(summary.changed).toBe(differing.filter((k) => ax.has(k) && bx.has(k)).length)
        const ta = totals(xs)
        const tb = totals(bAccounts)
        for (const asset of new Set([...ta.bal.keys(), ...tb.bal.keys()])) {
          const net = (tb.bal.get(asset) ?? 0n) - (ta.bal.get(asset) ?? 0n)
          expect(BigInt(summary.moved[asset] ?? '0'), asset).toBe(net)
          expect(BigInt(summary.increased[asset] ?? '0') - BigInt(summary.decreased[asset] ?? '0')).toBe(net)
        }
        // per-account deltas add up to the summary
        const sum = new Map<string, bigint>()
        for (const r of rows) for (const [k, v] of Object.entries(r.moved)) sum.set(k, (sum.get(k) ?? 0n) + BigInt(v))
        for (const [k, v] of sum) expect(v).toBe(BigInt(summary.moved[k] ?? '0'))
        for (const m of new Set([...ta.pos.keys(), ...tb.pos.keys()])) {
          const p = summary.positions.find((x) => x.market === m.toString())
          const x = ta.pos.get(m) ?? { long: 0n, short: 0n, bought: 0n, written: 0n }
          const y = tb.pos.get(m) ?? { long: 0n, short: 0n, bought: 0n, written: 0n }
          const zero = x.long === y.long && x.short === y.short && x.bought === y.bought && x.written === y.written
          if (p === undefined) {
            expect(zero, `market ${m} missing`).toBe(true)
            continue
          }
          expect([p.longDelta, p.shortDelta, p.optionsBoughtDelta, p.optionsWrittenDelta].map(BigInt)).toEqual([y.long - x.long, y.short - x.short, y.bought - x.bought, y.written - x.written])
        }
        const ids = summary.positions.map((p) => BigInt(p.market))
        expect(ids).toEqual([...ids].sort((p, q) => (p < q ? -1 : p > q ? 1 : 0)))
      }),
      fcOpts(40),
    )
  })

  it('summarises an exploit: attacker gains, victims lose, open interest and price changes are listed', async () => {
    const victim1 = `0x${'11'.repeat(20)}`
    const victim2 = `0x${'22'.repeat(20)}`
    const attacker = `0x${'ee'.repeat(20)}`
    const bystander = `0x${'33'.repeat(20)}`
    const before: Account[] = [
      { key: Buffer.from(victim1.slice(2), 'hex'), record: { collateral: [{ asset: A, amount: 1000n }], perps: [{ market: 1n, size: 5n, entryPrice: 100n, fundingIndex: 0n }], options: [] } },
      { key: Buffer.from(victim2.slice(2), 'hex'), record: { collateral: [{ asset: A, amount: 500n }, { asset: B, amount: 9n }], perps: [], options: [] } },
      { key: Buffer.from(bystander.slice(2), 'hex'), record: { collateral: [{ asset: A, amount: 1n }], perps: [], options: [] } },
    ]
    const after: Account[] = [
      { key: Buffer.from(victim1.slice(2), 'hex'), record: { collateral: [{ asset: A, amount: 100n }], perps: [], options: [] } },
      { key: Buffer.from(victim2.slice(2), 'hex'), record: { collateral: [{ asset: B, amount: 9n }], perps: [], options: [] } },
      before[2]!,
      { key: Buffer.from(attacker.slice(2), 'hex'), record: { collateral: [{ asset: A, amount: 1400n }], perps: [{ market: 2n, size: -3n, entryPrice: 1n, fundingIndex: 0n }], options: [] } },
    ]
    const m2: DerivativesMarkets = { ...MARKETS, markets: MARKETS.markets.map((m) => (m.id === 1n ? { ...m, price: 1n, longOpenInterest: m.longOpenInterest - 5n } : m)) }
    const a = (await build(before, { markets: MARKETS })).snapshot
    const b = (await build(after, { markets: m2, meta: { ...META, block: { ...META.block, number: 140n } } })).snapshot
    const { rows, summary } = await collect(a, b)
    expect(rows.map((r) => [r.account, r.kind, r.moved])).toEqual([
      [victim1, 'changed', { [A]: '-900' }],
      [victim2, 'changed', { [A]: '-500' }],
      [attacker, 'added', { [A]: '1400' }],
    ])
    expect(rows[0]!.changes).toEqual([
      { path: `collateral[asset=${A}].amount`, before: '1000', after: '100' },
      { path: 'perps[market=1].size', before: '5', after: null },
      { path: 'perps[market=1].entryPrice', before: '100', after: null },
      { path: 'perps[market=1].fundingIndex', before: '0', after: null },
    ])
    expect(summary).toMatchObject({ added: 1, removed: 0, changed: 2, moved: {}, increased: { [A]: '1400' }, decreased: { [A]: '1400' }, chainId: '31337', adapter: 'test' })
    expect(summary.from.block).toBe('100')
    expect(summary.to.block).toBe('140')
    const p1 = summary.positions.find((p) => p.market === '1')!
    expect(p1.longDelta).toBe('-5')
    expect(p1.longOpenInterest).toEqual({ before: MARKETS.markets[1]!.longOpenInterest.toString(), after: (MARKETS.markets[1]!.longOpenInterest - 5n).toString(), delta: '-5' })
    expect(summary.positions.find((p) => p.market === '2')!.shortDelta).toBe('3')
    expect(summary.marketChanges).toEqual([
      { path: 'markets[id=1].price', before: MARKETS.markets[1]!.price.toString(), after: '1' },
      { path: 'markets[id=1].longOpenInterest', before: MARKETS.markets[1]!.longOpenInterest.toString(), after: (MARKETS.markets[1]!.longOpenInterest - 5n).toString() },
    ])
    // the same two snapshots the other way round: everything negated, nothing else
    const rev = await collect(b, a)
    expect(rev.summary.increased).toEqual(summary.decreased)
    expect(rev.rows.map((r) => r.kind)).toEqual(['changed', 'changed', 'removed'])
  })

  it('refuses snapshots of different chains, adapters or configurations, naming what differs', async () => {
    const xs: Account[] = [{ key: new Uint8Array(20).fill(9), record: { collateral: [{ asset: A, amount: 1n }], perps: [], options: [] } }]
    const a = (await build(xs)).snapshot
    const other = async (meta: typeof META) => (await build(xs, { meta })).snapshot
    const cases: [typeof META, RegExp][] = [
      [{ ...META, block: { ...META.block, chainId: 1n } }, /different chains \(31337 vs 1\)/],
      [{ ...META, adapter: { ...META.adapter, id: 'other' } }, /different adapters \(test vs other\)/],
      [{ ...META, adapter: { ...META.adapter, configHash: `0x${'33'.repeat(32)}` } }, /different adapter configurations/],
    ]
    for (const [meta, msg] of cases) {
      const b = await other(meta)
      expect(() => checkComparable(a, b)).toThrow(msg)
      const gen = recoveryDiff(a, b)
      await expect(gen.next()).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(msg) })
    }
  })
})

describe('diff hooks with byte market ids (issue 12: 32-byte market ids did not fit a bigint)', () => {
  it('sums positions and open interest per 32-byte market id, shown as 0x-hex after numeric ids', async () => {
    const mA = new Uint8Array(32).fill(0xaa)
    const mB = new Uint8Array(32).fill(0x0b)
    // ERC-20 balances read as long positions in market mA, short in mB; market state gives open interest.
    const s: RecordSchema<BalanceRecord, TokenState> = {
      ...erc20Schema,
      positions: (r) => [{ market: mA, size: r.balance, option: false }, { market: mB, size: -r.balance, option: false }],
      markets: { ...erc20Schema.markets, openInterest: (m) => [{ market: mA, long: m.totalSupply, short: 0n }, { market: 7n, long: 1n, short: 1n }] },
    }
    const key = (i: number): Uint8Array => new Uint8Array(20).fill(i)
    const snap = async (balances: [number, bigint][], supply: bigint) =>
      (await buildSnapshot({ schema: s, meta: META, markets: { token: `0x${'33'.repeat(20)}`, totalSupply: supply }, records: balances.map(([i, b]) => ({ key: key(i), record: { balance: b } })), store: new MemoryBlockStore() })).snapshot
    const a = await snap([[1, 10n], [2, 5n]], 15n)
    const b = await snap([[1, 4n], [3, 9n]], 13n)
    const summary = emptyRecoverySummary(a, b)
    for await (const _ of recoveryDiff(a, b, summary)) void _
    expect(summary.positions.map((p) => p.market)).toEqual(['7', bytesToHex(mB), bytesToHex(mA)])
    const pa = summary.positions.find((p) => p.market === bytesToHex(mA))!
    expect(pa.longDelta).toBe(String(4n + 9n - 10n - 5n))
    expect(pa.longOpenInterest).toEqual({ before: '15', after: '13', delta: '-2' })
    expect(summary.positions.find((p) => p.market === bytesToHex(mB))!.shortDelta).toBe('-2')
  })
})
