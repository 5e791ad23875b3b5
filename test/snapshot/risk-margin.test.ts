/**
 * Exact margin arithmetic of `ark risk` (snapshot/risk/margin.ts, report.ts):
 * a hand-computed account, truncation toward zero as Solidity's, input
 * errors, liquidation prices at the exact boundary (property), and the JSON /
 * CSV report. The on-chain equality with PerpExchange's views is in
 * test/chain/risk.test.ts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { accountMargin, liquidationPrice, marginContext, slackAt, type AssetPricing, type MarginContext } from '../../snapshot/risk/margin.ts'
import { riskCsv, riskJson } from '../../snapshot/risk/export.ts'
import { RiskReport, type RiskParams } from '../../snapshot/risk/report.ts'
import type { AccountRecord, DerivativesMarkets, MarketState } from '../../snapshot/schema/derivatives.ts'
import { build, META } from './support.ts'

const USD = `0x${'a0'.repeat(20)}`
const WETH = `0x${'b0'.repeat(20)}`
const E18 = 10n ** 18n
const E8 = 10n ** 8n

function market(id: bigint, price: bigint, extra: Partial<MarketState> = {}): MarketState {
  return { id, price, roundId: 1n, updatedAt: 1n, priceDecimals: 8n, longOpenInterest: 0n, shortOpenInterest: 0n, fundingIndex: 0n, fundingRate: 0n, initialMarginRatio: E18 / 10n, maintenanceMarginRatio: E18 / 20n, liquidationFee: E18 / 100n, ...extra }
}

const MARKETS: DerivativesMarkets = {
  assets: [
    { asset: USD, haircutBps: 10_000n, decimals: 18n },
    { asset: WETH, haircutBps: 8_000n, decimals: 18n },
  ],
  markets: [market(0n, 2_000n * E8, { fundingIndex: 5n * 10n ** 15n, fundingRate: 10n ** 9n }), market(1n, 60_000n * E8)],
}
const PRICING = new Map<string, AssetPricing>([
  [USD, { kind: 'par' }],
  [WETH, { kind: 'market', market: 0n }],
])
const ctx = (fundingTimes?: Map<bigint, bigint>): MarginContext => marginContext({ markets: MARKETS, pricing: PRICING, timestamp: 1_000_000n, fundingTimes })

describe('margin arithmetic', () => {
  it('a hand-computed account: haircut collateral, PnL, funding, requirements', () => {
    const r: AccountRecord = {
      collateral: [{ asset: USD, amount: 1_000n * E18 }, { asset: WETH, amount: E18 / 2n }],
      perps: [
        { market: 0n, size: 2n * E18, entryPrice: 1_900n * E8, fundingIndex: 10n ** 15n },
        { market: 1n, size: -(E18 / 10n), entryPrice: 61_000n * E8, fundingIndex: 0n },
      ],
      options: [],
    }
    const m = accountMargin(ctx(), r)
    // 1000 USD + 0.5 WETH × 2000 × 0.8 = 1800
    expect(m.collateralValue).toBe(1_800n * E18)
    // long 2 ETH from 1900 to 2000: +200; short 0.1 BTC from 61000 to 60000: +100
    expect(m.perps.map((p) => p.unrealizedPnl)).toEqual([200n * E18, 100n * E18])
    // 2e18 × (5e15 − 1e15) / 1e18 = 8e15 owed; market 1 index 0
    expect(m.perps.map((p) => p.fundingOwed)).toEqual([8n * 10n ** 15n, 0n])
    expect(m.equity).toBe(1_800n * E18 + 300n * E18 - 8n * 10n ** 15n)
    // notional 4000 + 6000; initial 10 %, maintenance 5 %
    expect(m.notional).toBe(10_000n * E18)
    expect(m.initialRequirement).toBe(1_000n * E18)
    expect(m.maintenanceRequirement).toBe(500n * E18)
    // with lastFundingTime 100 s before the block, funding accrues rate × 100 on top
    const accrued = accountMargin(ctx(new Map([[0n, 1_000_000n - 100n]])), r)
    expect(accrued.perps[0]!.fundingOwed).toBe((2n * E18 * (5n * 10n ** 15n + 100n * 10n ** 9n - 10n ** 15n)) / E18)
  })

  it('divisions truncate toward zero, term by term, as Solidity does', () => {
    // size −3 wei, price up 1 unit: −3/1e8 truncates to 0 (floor would give −1)
    const r: AccountRecord = { collateral: [{ asset: USD, amount: 7n }], perps: [{ market: 0n, size: -3n, entryPrice: 2_000n * E8 - 1n, fundingIndex: 5n * 10n ** 15n + 1n }], options: [] }
    const m = accountMargin(ctx(), r)
    expect(m.perps[0]!.unrealizedPnl).toBe(0n)
    // −3 × (−1) / 1e18 = 0
    expect(m.perps[0]!.fundingOwed).toBe(0n)
    expect(m.collateralValue).toBe(7n)
    // WETH: 3 wei × 2000e8 × 8000 / (1e8 × 1e4) = 4800 exactly; 1 wei → 1600
    expect(accountMargin(ctx(), { collateral: [{ asset: WETH, amount: 1n }], perps: [], options: [] }).collateralValue).toBe(1_600n)
  })

  it('refuses inputs it cannot price, naming the asset or market', () => {
    expect(() => marginContext({ markets: MARKETS, pricing: new Map([[USD, { kind: 'par' }]]), timestamp: 1n })).toThrow(new RegExp(WETH))
    expect(() => marginContext({ markets: MARKETS, pricing: new Map([...PRICING, [WETH, { kind: 'market', market: 7n }]]), timestamp: 1n })).toThrow(/market 7/)
    expect(() => marginContext({ markets: MARKETS, pricing: new Map([...PRICING, [`0x${'cc'.repeat(20)}`, { kind: 'par' }]]), timestamp: 1n })).toThrow(/not a collateral asset/)
    expect(() => marginContext({ markets: MARKETS, pricing: PRICING, timestamp: 10n, fundingTimes: new Map([[0n, 11n]]) })).toThrow(/after the snapshot block/)
    expect(() => accountMargin(ctx(), { collateral: [], perps: [{ market: 9n, size: 1n, entryPrice: 1n, fundingIndex: 0n }], options: [] })).toThrow(/market 9/)
  })

  const slack = (c: MarginContext, r: AccountRecord, m: bigint, p: bigint): bigint => {
    const x = accountMargin(c, r, new Map([[m, p]]))
    return x.equity - x.maintenanceRequirement
  }

  it('property: the liquidation price is the exact boundary of equity < maintenance', () => {
    const arb = fc.record({
      usd: fc.bigInt({ min: 0n, max: 100_000n * E18 }),
      weth: fc.bigInt({ min: 0n, max: 50n * E18 }),
      size0: fc.bigInt({ min: -100n * E18, max: 100n * E18 }).filter((x) => x !== 0n),
      entry0: fc.bigInt({ min: 100n * E8, max: 5_000n * E8 }),
      size1: fc.option(fc.bigInt({ min: -5n * E18, max: 5n * E18 }).filter((x) => x !== 0n), { nil: undefined }),
      fi: fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }),
    })
    fc.assert(
      fc.property(arb, (a) => {
        const collateral = [...(a.usd > 0n ? [{ asset: USD, amount: a.usd }] : []), ...(a.weth > 0n ? [{ asset: WETH, amount: a.weth }] : [])]
        const perps = [{ market: 0n, size: a.size0, entryPrice: a.entry0, fundingIndex: a.fi }, ...(a.size1 === undefined ? [] : [{ market: 1n, size: a.size1, entryPrice: 59_000n * E8, fundingIndex: 0n }])]
        const r: AccountRecord = { collateral, perps, options: [] }
        const c = ctx()
        for (const p of perps) {
          const lp = liquidationPrice(c, r, p.market)
          if (lp === null) {
            // then no price from 1 up to 100× the current one liquidates it (in the direction that hurts)
            const p0 = MARKETS.markets[Number(p.market)]!.price
            for (const q of [1n, p0 / 2n, p0, p0 * 2n, p0 * 100n]) expect(slack(c, r, p.market, q), `price ${q}`).toBeGreaterThanOrEqual(0n)
            continue
          }
          expect(lp).toBeGreaterThanOrEqual(1n)
          expect(slack(c, r, p.market, lp), 'liquidatable at the liquidation price').toBeLessThan(0n)
          // a boundary: the neighbour away from the liquidatable side is safe (P + 1 for a long, P − 1 for
          // a short), unless P = 1 (a short liquidatable at every price)
          if (lp > 1n) expect(slack(c, r, p.market, lp + 1n) >= 0n || slack(c, r, p.market, lp - 1n) >= 0n).toBe(true)
          else expect(slack(c, r, p.market, 1n)).toBeLessThan(0n)
          // and the exact search agrees with the slack function used by the report
          expect(slackAt(c, r, p.market)(lp)).toBe(slack(c, r, p.market, lp))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('a plain long and a plain short: liquidation below / above the mark, matching the closed form', () => {
    // 1 ETH long from 2000 with 150 USD: equity = 150 + (P − 2000) ≥ 0.05 P  ⇔  P ≥ 1850/0.95 = 1947.37
    const long: AccountRecord = { collateral: [{ asset: USD, amount: 150n * E18 }], perps: [{ market: 1n, size: E18, entryPrice: 2_000n * E8, fundingIndex: 0n }], options: [] }
    const m1 = { ...MARKETS, markets: [MARKETS.markets[0]!, market(1n, 2_000n * E8)] }
    const c1 = marginContext({ markets: m1, pricing: PRICING, timestamp: 1n })
    const lp = liquidationPrice(c1, long, 1n)!
    expect(Number(lp) / 1e8).toBeCloseTo(1850 / 0.95, 6)
    expect(lp < 2_000n * E8).toBe(true)
    // 1 ETH short from 2000 with 150 USD: 150 − (P − 2000) ≥ 0.05 P  ⇔  P ≤ 2150/1.05 = 2047.62
    const short: AccountRecord = { ...long, perps: [{ ...long.perps[0]!, size: -E18 }] }
    const ls = liquidationPrice(c1, short, 1n)!
    expect(Number(ls) / 1e8).toBeCloseTo(2150 / 1.05, 6)
  })
})

describe('risk report', () => {
  const params: RiskParams = { pricing: PRICING, timestamp: META.block.timestamp, vol: 0.8, volByMarket: new Map([[1n, 0.6]]), fundingTimes: new Map() }

  it('JSON: one parseable document, accounts in key order, market totals that add up, options with greeks', async () => {
    const recs = [
      { key: `0x${'02'.repeat(20)}`, record: { collateral: [{ asset: USD, amount: 100n * E18 }], perps: [{ market: 0n, size: E18, entryPrice: 2_100n * E8, fundingIndex: 5n * 10n ** 15n }], options: [{ market: 0n, isCall: true, strike: 2_200n * E8, expiry: META.block.timestamp + 86_400n * 30n, size: 3n * E18 }] } },
      { key: `0x${'01'.repeat(20)}`, record: { collateral: [{ asset: WETH, amount: E18 }], perps: [{ market: 1n, size: -E18 / 100n, entryPrice: 59_000n * E8, fundingIndex: 0n }], options: [{ market: 1n, isCall: false, strike: 50_000n * E8, expiry: META.block.timestamp - 1n, size: -E18 }] } },
    ]
    const { snapshot } = await build(recs, { markets: MARKETS })
    const report = new RiskReport(await snapshot.markets(), params)
    let text = ''
    for await (const c of riskJson(snapshot, report)) text += c
    const doc = JSON.parse(text) as { version: number; accounts: { account: string; equity: string; liquidatable: boolean; perps: { liquidationPrice: string | null }[]; options: { delta: number; vol: number; intrinsicValue: string; unitPrice: number }[] }[]; markets: { market: string; longSize: string; shortSize: string; notional: string; delta: number }[]; totals: { accounts: number; equity: string } }
    expect(doc.version).toBe(1)
    expect(doc.accounts.map((a) => a.account)).toEqual([`0x${'01'.repeat(20)}`, `0x${'02'.repeat(20)}`])
    const [b, a] = doc.accounts
    // account 02: 100 USD − 100 PnL = 0 equity < 100 maintenance: liquidatable
    expect(a!.equity).toBe('0')
    expect(a!.liquidatable).toBe(true)
    expect(a!.options[0]!.vol).toBe(0.8)
    expect(a!.options[0]!.delta).toBeGreaterThan(0)
    expect(a!.options[0]!.delta).toBeLessThan(1)
    // account 01's written put expired out of the money: intrinsic 0, vol override of market 1
    expect(b!.options[0]!).toMatchObject({ vol: 0.6, intrinsicValue: '0', unitPrice: 0 })
    expect(BigInt(doc.totals.equity)).toBe(BigInt(a!.equity) + BigInt(b!.equity))
    expect(doc.markets.map((m) => [m.market, m.longSize, m.shortSize])).toEqual([['0', E18.toString(), '0'], ['1', '0', (E18 / 100n).toString()]])
    expect(doc.markets[0]!.delta).toBeCloseTo(a!.options[0]!.delta * 3, 12)
    // deterministic: a second run is byte-identical
    let again = ''
    for await (const c of riskJson(snapshot, new RiskReport(await snapshot.markets(), params))) again += c
    expect(again).toBe(text)
    // CSV: header, per-account rows, one market row per market and a total row
    let csv = ''
    for await (const c of riskCsv(snapshot, new RiskReport(await snapshot.markets(), params))) csv += c
    const rows = csv.trimEnd().split('\r\n').map((l) => l.split(',')[0])
    expect(rows).toEqual(['row', 'account', 'perp', 'option', 'account', 'perp', 'option', 'market', 'market', 'total'])
  })

  it('a market with a non-positive oracle price gives null numbers and an error for the accounts that touch it', async () => {
    const bad = { ...MARKETS, markets: [MARKETS.markets[0]!, market(1n, 0n)] }
    const { snapshot } = await build([{ key: `0x${'03'.repeat(20)}`, record: { collateral: [{ asset: USD, amount: 1n }], perps: [{ market: 1n, size: 1n, entryPrice: 1n, fundingIndex: 0n }], options: [] } }], { markets: bad })
    const report = new RiskReport(await snapshot.markets(), params)
    for await (const { key, record } of snapshot.entries()) {
      const row = report.account(key, record)
      expect(row.equity).toBeNull()
      expect(row.error).toMatch(/market 1 price is 0/)
    }
  })
})
