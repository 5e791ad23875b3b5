import { InvalidInputError } from '../errors.ts'
import type { AccountRecord, DerivativesMarkets, MarketState, PerpPosition } from '../schema/derivatives.ts'

/**
 * The reference PerpExchange's margin arithmetic (deploy/reference-protocol/
 * contracts/PerpExchange.sol, `_margin`), recomputed from a snapshot with
 * exact integers: the same fixed-point scales, the same operations in the same
 * order, and division truncating toward zero as Solidity's does (bigint `/`
 * does too). `equity` and `maintenanceRequirement` equal the contract's view
 * functions at the snapshot block (test/chain/risk.test.ts checks this on
 * anvil). See RISK.md.
 */

export const ONE = 10n ** 18n
export const BPS = 10_000n

/**
 * How a collateral asset is valued: `par` (no feed: the quote asset, 1:1),
 * `market` (the feed of that perp market, e.g. WETH by ETH-PERP's ETH/USD
 * feed), or a fixed price (a feed's answer at the block, `feed` naming it when
 * known). Schema v2 snapshots carry it (inputs.ts); for v1 it is an input.
 */
export type AssetPricing = { kind: 'par' } | { kind: 'market'; market: bigint } | { kind: 'fixed'; price: bigint; decimals: bigint; feed?: string }

export interface MarginContext {
  markets: ReadonlyMap<bigint, MarketState>
  assets: ReadonlyMap<string, { haircutBps: bigint; pricing: AssetPricing }>
  /** funding index of each market as the contract's views would use it (see currentIndex) */
  index: ReadonlyMap<bigint, bigint>
}

export interface MarginInputs {
  markets: DerivativesMarkets
  /** lower-case asset address -> pricing; every listed asset needs one */
  pricing: ReadonlyMap<string, AssetPricing>
  /** snapshot block timestamp (seconds) */
  timestamp: bigint
  /**
   * Each market's lastFundingTime, when known (schema v2 carries it; for v1
   * it is an input): funding is then accrued to `timestamp` as the contract's
   * views do. Without it the snapshot's fundingIndex (as of the market's last
   * update) is used.
   */
  fundingTimes?: ReadonlyMap<bigint, bigint>
}

export function marginContext(i: MarginInputs): MarginContext {
  const markets = new Map(i.markets.markets.map((m) => [m.id, m]))
  const assets = new Map<string, { haircutBps: bigint; pricing: AssetPricing }>()
  const missing: string[] = []
  for (const a of i.markets.assets) {
    const key = a.asset.toLowerCase()
    const pricing = i.pricing.get(key)
    if (pricing === undefined) {
      missing.push(key)
      continue
    }
    if (pricing.kind === 'market' && !markets.has(pricing.market)) throw new InvalidInputError(`asset ${key} is priced by market ${pricing.market}, which the snapshot does not list (markets: ${[...markets.keys()].join(', ')})`)
    assets.set(key, { haircutBps: a.haircutBps, pricing })
  }
  if (missing.length > 0) throw new InvalidInputError(`the snapshot does not say how collateral ${missing.join(', ')} is priced; give each asset a price source (par for the quote asset, market:ID for an asset valued by that market's feed)`)
  for (const k of i.pricing.keys()) if (!assets.has(k)) throw new InvalidInputError(`a price source is given for ${k}, which is not a collateral asset of this snapshot (assets: ${[...assets.keys()].join(', ')})`)
  const index = new Map<bigint, bigint>()
  for (const m of markets.values()) {
    const last = i.fundingTimes?.get(m.id)
    if (last !== undefined && last > i.timestamp) throw new InvalidInputError(`market ${m.id}: lastFundingTime ${last} is after the snapshot block's timestamp ${i.timestamp}`)
    index.set(m.id, last === undefined ? m.fundingIndex : m.fundingIndex + m.fundingRate * (i.timestamp - last))
  }
  for (const k of i.fundingTimes?.keys() ?? []) if (!markets.has(k)) throw new InvalidInputError(`a lastFundingTime is given for market ${k}, which the snapshot does not list`)
  return { markets, assets, index }
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x)

/** Prices that replace the snapshot's for a what-if (market id -> price). */
export type PriceOverride = ReadonlyMap<bigint, bigint>

/** A market's price, refusing what the contract's _price refuses (answer <= 0 reverts). */
function priceOf(ctx: MarginContext, market: bigint, override?: PriceOverride): bigint {
  const m = ctx.markets.get(market)
  if (m === undefined) throw new InvalidInputError(`a position refers to market ${market}, which the snapshot does not list`)
  const p = override?.get(market) ?? m.price
  if (p <= 0n) throw new InvalidInputError(`market ${market} price is ${p}; the contract refuses non-positive prices (its views revert)`)
  return p
}

/** Haircut value of one collateral balance in quote units (PerpExchange._margin, first loop). */
export function collateralValue(ctx: MarginContext, asset: string, amount: bigint, override?: PriceOverride): bigint {
  const a = ctx.assets.get(asset.toLowerCase())
  if (a === undefined) throw new InvalidInputError(`collateral ${asset} is not a listed asset of this snapshot`)
  const p = a.pricing
  if (p.kind === 'par') return (amount * a.haircutBps) / BPS
  if (p.kind === 'fixed') {
    if (p.price <= 0n) throw new InvalidInputError(`collateral ${asset} is priced at ${p.price}${p.feed === undefined ? '' : ` by feed ${p.feed}`}; the contract refuses non-positive prices (its views revert)`)
    return (amount * p.price * a.haircutBps) / (10n ** p.decimals * BPS)
  }
  const m = ctx.markets.get(p.market)!
  return (amount * priceOf(ctx, p.market, override) * a.haircutBps) / (10n ** m.priceDecimals * BPS)
}

export interface PerpMargin {
  market: bigint
  size: bigint
  entryPrice: bigint
  markPrice: bigint
  notional: bigint
  unrealizedPnl: bigint
  /** positive: the position owes funding */
  fundingOwed: bigint
  initialRequirement: bigint
  maintenanceRequirement: bigint
}

export interface AccountMargin {
  collateralValue: bigint
  unrealizedPnl: bigint
  fundingOwed: bigint
  /** collateralValue + unrealizedPnl − fundingOwed: PerpExchange.equity() */
  equity: bigint
  notional: bigint
  initialRequirement: bigint
  /** PerpExchange.maintenanceRequirement() */
  maintenanceRequirement: bigint
  perps: PerpMargin[]
}

/** One position's terms (PerpExchange._margin, second loop). */
export function perpMargin(ctx: MarginContext, p: PerpPosition, override?: PriceOverride): PerpMargin {
  const m = ctx.markets.get(p.market)
  const price = priceOf(ctx, p.market, override)
  const scale = 10n ** m!.priceDecimals
  const notional = (abs(p.size) * price) / scale
  return {
    market: p.market,
    size: p.size,
    entryPrice: p.entryPrice,
    markPrice: price,
    notional,
    unrealizedPnl: (p.size * (price - p.entryPrice)) / scale,
    fundingOwed: (p.size * (ctx.index.get(p.market)! - p.fundingIndex)) / ONE,
    initialRequirement: (notional * m!.initialMarginRatio) / ONE,
    maintenanceRequirement: (notional * m!.maintenanceMarginRatio) / ONE,
  }
}

/** Equity and requirements of one account, term by term as the contract sums them. Options do not enter the exchange's margin. */
export function accountMargin(ctx: MarginContext, r: AccountRecord, override?: PriceOverride): AccountMargin {
  let coll = 0n
  for (const c of r.collateral) coll += collateralValue(ctx, c.asset, c.amount, override)
  const perps = r.perps.map((p) => perpMargin(ctx, p, override))
  let pnl = 0n
  let funding = 0n
  let notional = 0n
  let initial = 0n
  let maintenance = 0n
  for (const p of perps) {
    pnl += p.unrealizedPnl
    funding += p.fundingOwed
    notional += p.notional
    initial += p.initialRequirement
    maintenance += p.maintenanceRequirement
  }
  return { collateralValue: coll, unrealizedPnl: pnl, fundingOwed: funding, equity: coll + pnl - funding, notional, initialRequirement: initial, maintenanceRequirement: maintenance, perps }
}

/**
 * equity − maintenance of `r` as a function of `market`'s price, every other
 * price held: the terms that do not depend on that price are summed once.
 * Exact (the same truncations as accountMargin).
 */
export function slackAt(ctx: MarginContext, r: AccountRecord, market: bigint): (price: bigint) => bigint {
  const m = ctx.markets.get(market)
  if (m === undefined) throw new InvalidInputError(`market ${market} is not listed in the snapshot`)
  const scale = 10n ** m.priceDecimals
  let base = 0n
  const moving: { amount: bigint; haircut: bigint }[] = []
  for (const c of r.collateral) {
    const a = ctx.assets.get(c.asset.toLowerCase())
    if (a?.pricing.kind === 'market' && a.pricing.market === market) moving.push({ amount: c.amount, haircut: a.haircutBps })
    else base += collateralValue(ctx, c.asset, c.amount)
  }
  let pos: PerpPosition | undefined
  for (const p of r.perps) {
    if (p.market === market) {
      pos = p
      continue
    }
    const t = perpMargin(ctx, p)
    base += t.unrealizedPnl - t.fundingOwed - t.maintenanceRequirement
  }
  const funding = pos === undefined ? 0n : (pos.size * (ctx.index.get(market)! - pos.fundingIndex)) / ONE
  return (price) => {
    let f = base
    for (const c of moving) f += (c.amount * price * c.haircut) / (scale * BPS)
    if (pos !== undefined) {
      f += (pos.size * (price - pos.entryPrice)) / scale - funding
      f -= (((abs(pos.size) * price) / scale) * m.maintenanceMarginRatio) / ONE
    }
    return f
  }
}

/** Largest price the search considers (a uint256 feed answer cannot exceed it anyway). */
const MAX_PRICE = (1n << 255n) - 1n

/**
 * The price of `market` (feed units) at which the account becomes
 * liquidatable (equity < maintenance, the contract's test), every other price
 * and the funding index held at the snapshot's: when equity − maintenance
 * grows with the price (a long) the highest such price, else (a short) the
 * lowest; null when no positive price makes it liquidatable. Found by
 * bisection on the exact arithmetic, bracketed around the linear estimate,
 * so the answer P always satisfies: liquidatable at P, not at the next price
 * away from the liquidatable side (P + 1 for a long, P − 1 for a short).
 */
export function liquidationPrice(ctx: MarginContext, r: AccountRecord, market: bigint): bigint | null {
  const pos = r.perps.find((p) => p.market === market)
  if (pos === undefined) return null
  const m = ctx.markets.get(market)!
  const p0 = priceOf(ctx, market)
  const f = slackAt(ctx, r, market)
  // d(equity − maintenance)/dP · scale·BPS·ONE = size·BPS·ONE + Σ amount·haircut·ONE − |size|·mmr·BPS
  let collateralSlope = 0n
  for (const c of r.collateral) {
    const a = ctx.assets.get(c.asset.toLowerCase())!
    if (a.pricing.kind === 'market' && a.pricing.market === market) collateralSlope += c.amount * a.haircutBps
  }
  const slope = pos.size * BPS * ONE + collateralSlope * ONE - abs(pos.size) * m.maintenanceMarginRatio * BPS
  if (slope === 0n) return null
  const est = p0 - (f(p0) * 10n ** m.priceDecimals * BPS * ONE) / slope
  const clamp = (p: bigint): bigint => (p < 1n ? 1n : p > MAX_PRICE ? MAX_PRICE : p)
  const up = slope > 0n
  // bad(p): liquidatable; the bracket is [lo, hi] with bad on the low side for a long, the high side for a short
  const bad = (p: bigint): boolean => f(p) < 0n
  const worst = up ? 1n : MAX_PRICE
  if (!bad(worst)) return null
  let lo: bigint
  let hi: bigint
  if (up) {
    // find lo (bad) and hi (not bad), lo < hi
    hi = clamp(est + 1n)
    for (let d = 2n; bad(hi); d *= 2n) {
      if (hi === MAX_PRICE) return MAX_PRICE
      hi = clamp(est + d)
    }
    lo = clamp(hi - 1n)
    for (let d = 2n; !bad(lo); d *= 2n) lo = clamp(hi - d)
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n
      if (bad(mid)) lo = mid
      else hi = mid
    }
    return lo
  }
  // short: find lo (not bad) and hi (bad), lo < hi
  lo = clamp(est)
  if (bad(1n)) return 1n
  for (let d = 2n; bad(lo); d *= 2n) lo = clamp(est - d)
  hi = clamp(lo + 1n)
  for (let d = 2n; !bad(hi); d *= 2n) hi = clamp(lo + d)
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n
    if (bad(mid)) hi = mid
    else lo = mid
  }
  return hi
}
