import { isMarketsV2, ZERO_ADDRESS, type DerivativesMarketsV2 } from '../schema/derivatives-v2.ts'
import type { DerivativesMarkets } from '../schema/derivatives.ts'
import type { AssetPricing } from './margin.ts'

/**
 * Where `ark risk` takes each margin input from: the snapshot's own market
 * state (schema v2 carries collateral pricing and every market's
 * lastFundingTime), an override given by the caller (flags), or the default
 * for a single-asset v1 snapshot (its one asset is the quote asset, at par).
 */
export type InputSource = 'snapshot' | 'override' | 'default'

export interface RiskInputs {
  pricing: Map<string, AssetPricing>
  fundingTimes: Map<bigint, bigint>
  sources: { pricing: Map<string, InputSource>; fundingTimes: Map<bigint, InputSource> }
}

/**
 * How the exchange values each collateral asset, read from a v2 market state
 * (PerpExchange._margin): no feed is par; a feed that is also a perp market's
 * feed (same answer and decimals at the block) is `market` — so a what-if on
 * that market's price moves the collateral too, as on chain; any other feed is
 * its answer at the block.
 */
export function snapshotPricing(m: DerivativesMarketsV2): Map<string, AssetPricing> {
  const out = new Map<string, AssetPricing>()
  for (const a of m.assets) {
    const feed = a.feed.toLowerCase()
    if (feed === ZERO_ADDRESS) {
      out.set(a.asset.toLowerCase(), { kind: 'par' })
      continue
    }
    const market = m.markets.find((x) => x.feed.toLowerCase() === feed && x.price === a.price && x.priceDecimals === a.priceDecimals)
    out.set(a.asset.toLowerCase(), market !== undefined ? { kind: 'market', market: market.id } : { kind: 'fixed', price: a.price, decimals: a.priceDecimals, feed })
  }
  return out
}

/**
 * The inputs of a risk report: the snapshot's own (v2), then the overrides on
 * top, asset by asset and market by market. A v1 snapshot carries neither, so
 * everything comes from the overrides (and a single listed asset defaults to
 * par). Assets left without a source are the caller's to report.
 */
export function resolveRiskInputs(markets: DerivativesMarkets, overrides: { pricing?: ReadonlyMap<string, AssetPricing>; fundingTimes?: ReadonlyMap<bigint, bigint> } = {}): RiskInputs {
  const pricing = new Map<string, AssetPricing>()
  const fundingTimes = new Map<bigint, bigint>()
  const sources: RiskInputs['sources'] = { pricing: new Map(), fundingTimes: new Map() }
  if (isMarketsV2(markets)) {
    for (const [k, v] of snapshotPricing(markets)) {
      pricing.set(k, v)
      sources.pricing.set(k, 'snapshot')
    }
    for (const x of markets.markets) {
      fundingTimes.set(x.id, x.lastFundingTime)
      sources.fundingTimes.set(x.id, 'snapshot')
    }
  }
  for (const [k, v] of overrides.pricing ?? []) {
    pricing.set(k.toLowerCase(), v)
    sources.pricing.set(k.toLowerCase(), 'override')
  }
  for (const [k, v] of overrides.fundingTimes ?? []) {
    fundingTimes.set(k, v)
    sources.fundingTimes.set(k, 'override')
  }
  if (pricing.size === 0 && markets.assets.length === 1) {
    const only = markets.assets[0]!.asset.toLowerCase()
    pricing.set(only, { kind: 'par' })
    sources.pricing.set(only, 'default')
  }
  return { pricing, fundingTimes, sources }
}
