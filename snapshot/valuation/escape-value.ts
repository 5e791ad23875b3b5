import { InvalidInputError } from '../errors.ts'
import { snapshotPricing } from '../risk/inputs.ts'
import { accountMargin, marginContext, type MarginContext } from '../risk/margin.ts'
import type { DerivativesMarketsV2 } from '../schema/derivatives-v2.ts'
import type { AccountRecord, OptionPosition } from '../schema/derivatives.ts'

/**
 * Escape valuation (SPEC §1.5.2): what an account is worth at the certified block, as the
 * reference venue would value it there, in quote units, with exact integers. Solidity twin:
 * protocol/contracts/lib/EscapeValuation.sol (test/valuation/escape-valuation.test.ts checks both
 * against PerpExchange.equity on anvil for every account of a workload).
 *
 *   equity  = Σ haircut collateral value + Σ unrealised PnL at the mark − Σ funding owed
 *             (PerpExchange._margin, funding accrued to the block: fundingIndex + fundingRate ×
 *             (timestamp − lastFundingTime), as its views do; the arithmetic is snapshot/risk/margin.ts)
 *   fees    = 0: the reference venue charges no trading or closing fee; its liquidation fee is
 *             taken only when a keeper liquidates, which the valuation does not assume
 *   options = Σ per position: intrinsic(mark) × |size| / 10^priceDecimals, added for a bought
 *             position and subtracted for a written one (OptionsMarket.settle's amount, at the
 *             certified mark instead of a settlement price; no time value)
 *   value   = max(0, equity − fees + options)
 */
export interface EscapeValuation {
  collateralValue: bigint
  unrealizedPnl: bigint
  fundingOwed: bigint
  /** PerpExchange.equity at the block */
  equity: bigint
  fees: bigint
  optionsValue: bigint
  /** equity − fees + optionsValue, before the floor */
  total: bigint
  /** max(0, total) */
  value: bigint
}

/** The margin context of a v2+ market state at the block (collateral pricing and funding times from the snapshot). */
export function valuationContext(markets: DerivativesMarketsV2, timestamp: bigint): MarginContext {
  return marginContext({ markets, pricing: snapshotPricing(markets), timestamp, fundingTimes: new Map(markets.markets.map((m) => [m.id, m.lastFundingTime])) })
}

/** One option position's signed intrinsic value at the mark (OptionsMarket._intrinsic × |size| / 10^decimals). */
export function optionValue(ctx: MarginContext, o: OptionPosition): bigint {
  const m = ctx.markets.get(o.market)
  if (m === undefined) throw new InvalidInputError(`an option refers to market ${o.market}, which the snapshot does not list`)
  if (m.price <= 0n) throw new InvalidInputError(`market ${o.market} price is ${m.price}; the venue refuses non-positive prices`)
  const intrinsic = o.isCall ? (m.price > o.strike ? m.price - o.strike : 0n) : o.strike > m.price ? o.strike - m.price : 0n
  const amount = (intrinsic * (o.size < 0n ? -o.size : o.size)) / 10n ** m.priceDecimals
  return o.size < 0n ? -amount : amount
}

export function escapeValue(ctx: MarginContext, r: AccountRecord): EscapeValuation {
  const m = accountMargin(ctx, r)
  let optionsValue = 0n
  for (const o of r.options) optionsValue += optionValue(ctx, o)
  const fees = 0n
  const total = m.equity - fees + optionsValue
  return { collateralValue: m.collateralValue, unrealizedPnl: m.unrealizedPnl, fundingOwed: m.fundingOwed, equity: m.equity, fees, optionsValue, total, value: total < 0n ? 0n : total }
}
