import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'

const ONE = 10n ** 18n
const BPS = 10_000n

/** Prices and market parameters at one block, as PerpExchange._margin reads them. */
export interface MarginContext {
  /** lower-case token → valuation; the quote asset has no price (valued 1:1) */
  assets: Map<string, { haircutBps: bigint; price?: bigint; feedDecimals?: bigint }>
  markets: Map<bigint, { price: bigint; priceDecimals: bigint; fundingIndex: bigint; fundingRate: bigint; lastFundingTime: bigint; maintenanceMarginRatio: bigint }>
  /** block timestamp (funding accrues to it) */
  timestamp: bigint
}

/**
 * Equity and maintenance requirement of one account, the reference
 * exchange's formula with its operation order and truncating division
 * (deploy/reference-protocol/contracts/PerpExchange.sol `_margin`). Used to
 * pick candidates for the liquidation-backlog monitor; the chain's own
 * `equity`/`maintenanceRequirement` views confirm them.
 */
export function accountMargin(r: AccountRecord, ctx: MarginContext): { equity: bigint; maintenance: bigint } {
  let equity = 0n
  let maintenance = 0n
  for (const c of r.collateral) {
    const a = ctx.assets.get(c.asset.toLowerCase())
    if (a === undefined || c.amount === 0n) continue
    equity += a.price === undefined ? (c.amount * a.haircutBps) / BPS : (c.amount * a.price * a.haircutBps) / (10n ** (a.feedDecimals ?? 0n) * BPS)
  }
  for (const p of r.perps) {
    if (p.size === 0n) continue
    const m = ctx.markets.get(p.market)
    if (m === undefined) continue
    const scale = 10n ** m.priceDecimals
    const index = m.fundingIndex + m.fundingRate * (ctx.timestamp - m.lastFundingTime)
    equity += (p.size * (m.price - p.entryPrice)) / scale
    equity -= (p.size * (index - p.fundingIndex)) / ONE
    const notional = ((p.size < 0n ? -p.size : p.size) * m.price) / scale
    maintenance += (notional * m.maintenanceMarginRatio) / ONE
  }
  return { equity, maintenance }
}

/** The `limit` accounts furthest below maintenance margin (most negative equity − requirement first; address breaks ties). */
export function underwaterCandidates(records: Iterable<{ key: Uint8Array; record: AccountRecord }>, ctx: MarginContext, limit: number): { account: string; equity: bigint; maintenance: bigint }[] {
  const out: { account: string; equity: bigint; maintenance: bigint }[] = []
  for (const { key, record } of records) {
    if (record.perps.length === 0) continue
    const m = accountMargin(record, ctx)
    if (m.equity < BigInt(m.maintenance)) out.push({ account: bytesToHex(key), ...m })
  }
  out.sort((a, b) => {
    const x = a.equity - a.maintenance
    const y = b.equity - b.maintenance
    return x !== y ? (x < y ? -1 : 1) : a.account < b.account ? -1 : 1
  })
  return out.slice(0, limit)
}
