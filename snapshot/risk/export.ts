import { ArkError } from '../ark-error.ts'
import { csvField } from '../export/records.ts'
import { derivativesSchema, type AccountRecord, type DerivativesMarkets } from '../schema/derivatives.ts'
import type { Snapshot } from '../state/snapshot.ts'
import type { AssetPricing } from './margin.ts'
import { RISK_DEFAULTS, RISK_VERSION, RiskReport, SECONDS_PER_YEAR, type AccountRisk, type MarketRisk, type RiskParams, type RiskTotals } from './report.ts'

/** The snapshot as a derivatives snapshot, or a clear refusal. */
export function asDerivatives(s: Snapshot<unknown, unknown>): Snapshot<AccountRecord, DerivativesMarkets> {
  if (s.root.schema.id !== derivativesSchema.id) throw new ArkError('INVALID_INPUT', `risk is computed for ${derivativesSchema.id} snapshots (the reference perp/options venue); this snapshot holds ${s.root.schema.id} records`)
  return s as Snapshot<AccountRecord, DerivativesMarkets>
}

function pricingJSON(p: AssetPricing): unknown {
  if (p.kind === 'par') return 'par'
  if (p.kind === 'market') return { market: p.market.toString() }
  return { price: p.price.toString(), decimals: p.decimals.toString(), ...(p.feed === undefined ? {} : { feed: p.feed }) }
}

function head(s: Snapshot<AccountRecord, DerivativesMarkets>, p: RiskParams): Record<string, unknown> {
  const r = s.root
  return {
    version: RISK_VERSION,
    snapshot: { snapshot: s.cid.toString(), chainId: r.block.chainId.toString(), block: r.block.number.toString(), blockHash: r.block.hash, timestamp: r.block.timestamp.toString(), adapter: r.adapter.id, stateRoot: r.stateRoot, accounts: r.accountCount },
    inputs: {
      assetPrices: Object.fromEntries([...p.pricing].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, pricingJSON(v)])),
      vol: p.vol,
      volByMarket: Object.fromEntries([...p.volByMarket].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k.toString(), v])),
      fundingTimes: Object.fromEntries([...p.fundingTimes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k.toString(), v.toString()])),
      ...(p.sources === undefined
        ? {}
        : {
            sources: {
              assetPrices: Object.fromEntries([...p.sources.pricing].sort(([a], [b]) => (a < b ? -1 : 1))),
              fundingTimes: Object.fromEntries([...p.sources.fundingTimes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k.toString(), v])),
            },
          }),
      rate: RISK_DEFAULTS.rate,
      secondsPerYear: Number(SECONDS_PER_YEAR),
    },
  }
}

/** Validates the inputs against the snapshot's market state (throws before any output). */
export async function riskReport(s: Snapshot<AccountRecord, DerivativesMarkets>, p: RiskParams): Promise<RiskReport> {
  return new RiskReport(await s.markets(), p)
}

/**
 * The whole risk report as one JSON document, streamed: head, one account per
 * line inside "accounts", then "markets" and "totals" (known after the last
 * account).
 */
export async function* riskJson(s: Snapshot<AccountRecord, DerivativesMarkets>, report: RiskReport): AsyncGenerator<string> {
  const h = JSON.stringify(head(s, report.params))
  yield `${h.slice(0, -1)},"accounts":[`
  let first = true
  for await (const { key, record } of s.entries()) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify(report.account(key, record))}`
    first = false
  }
  yield `\n],"markets":${JSON.stringify(report.marketTotals())},"totals":${JSON.stringify(report.grandTotals())}}\n`
}

export const RISK_CSV_HEADER = [
  'row', 'account', 'market', 'is_call', 'strike', 'expiry', 'size', 'entry_price', 'mark_price', 'notional',
  'collateral_value', 'unrealized_pnl', 'funding_owed', 'equity', 'initial_requirement', 'maintenance_requirement',
  'margin_ratio', 'distance_to_liquidation', 'liquidatable', 'liquidation_price', 'long_size', 'short_size',
  'years_to_expiry', 'vol', 'intrinsic_value', 'value', 'delta', 'gamma', 'theta', 'vega', 'error',
] as const

type Row = Partial<Record<(typeof RISK_CSV_HEADER)[number], string | number | boolean | null>>

function line(r: Row): string {
  return `${RISK_CSV_HEADER.map((c) => {
    const v = r[c]
    return csvField(v === undefined || v === null ? '' : String(v))
  }).join(',')}\r\n`
}

function accountRows(a: AccountRisk): string {
  let out = line({ row: 'account', account: a.account, notional: a.notional, collateral_value: a.collateralValue, unrealized_pnl: a.unrealizedPnl, funding_owed: a.fundingOwed, equity: a.equity, initial_requirement: a.initialRequirement, maintenance_requirement: a.maintenanceRequirement, margin_ratio: a.marginRatio, distance_to_liquidation: a.distanceToLiquidation, liquidatable: a.liquidatable, error: a.error ?? null })
  for (const p of a.perps) out += line({ row: 'perp', account: a.account, market: p.market, size: p.size, entry_price: p.entryPrice, mark_price: p.markPrice, notional: p.notional, unrealized_pnl: p.unrealizedPnl, funding_owed: p.fundingOwed, initial_requirement: p.initialRequirement, maintenance_requirement: p.maintenanceRequirement, liquidation_price: p.liquidationPrice })
  for (const o of a.options) out += line({ row: 'option', account: a.account, market: o.market, is_call: o.isCall, strike: o.strike, expiry: o.expiry, size: o.size, years_to_expiry: o.yearsToExpiry, vol: o.vol, intrinsic_value: o.intrinsicValue, value: o.value, delta: o.positionDelta, gamma: o.positionGamma, theta: o.positionTheta, vega: o.positionVega })
  return out
}

function marketRow(m: MarketRisk): string {
  return line({ row: 'market', market: m.market, mark_price: m.price, notional: m.notional, unrealized_pnl: m.unrealizedPnl, funding_owed: m.fundingOwed, initial_requirement: m.initialRequirement, maintenance_requirement: m.maintenanceRequirement, liquidatable: m.liquidatable, long_size: m.longSize, short_size: m.shortSize, value: m.optionsValue, delta: m.delta, gamma: m.gamma, theta: m.theta, vega: m.vega })
}

function totalRow(t: RiskTotals): string {
  return line({ row: 'total', notional: t.notional, collateral_value: t.collateralValue, unrealized_pnl: t.unrealizedPnl, funding_owed: t.fundingOwed, equity: t.equity, initial_requirement: t.initialRequirement, maintenance_requirement: t.maintenanceRequirement, liquidatable: t.liquidatable })
}

/** The same report as one RFC 4180 table (CRLF): account/perp/option rows, then market rows and a total row. */
export async function* riskCsv(s: Snapshot<AccountRecord, DerivativesMarkets>, report: RiskReport): AsyncGenerator<string> {
  yield `${RISK_CSV_HEADER.join(',')}\r\n`
  for await (const { key, record } of s.entries()) yield accountRows(report.account(key, record))
  let tail = ''
  for (const m of report.marketTotals()) tail += marketRow(m)
  yield tail + totalRow(report.grandTotals())
}
