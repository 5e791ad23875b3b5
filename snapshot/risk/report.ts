import { bytesToHex } from '../codec/hex.ts'
import { ArkError } from '../ark-error.ts'
import type { AccountRecord, DerivativesMarkets, OptionPosition } from '../schema/derivatives.ts'
import { blackScholes } from './black-scholes.ts'
import type { RiskInputs } from './inputs.ts'
import { accountMargin, liquidationPrice, marginContext, ONE, type AssetPricing, type MarginContext } from './margin.ts'

/**
 * `ark risk`: per-account and per-market risk recomputed from a snapshot
 * alone. Integers (bigint, as decimal strings) follow the contract exactly;
 * option analytics are floats. Formulas, units and conventions: RISK.md.
 */

export const RISK_VERSION = 1
export const SECONDS_PER_YEAR = 31_536_000n
export const RISK_DEFAULTS = Object.freeze({ vol: 0.8, rate: 0 })

export interface RiskParams {
  pricing: ReadonlyMap<string, AssetPricing>
  /** snapshot block timestamp */
  timestamp: bigint
  vol: number
  volByMarket: ReadonlyMap<bigint, number>
  fundingTimes: ReadonlyMap<bigint, bigint>
  /** where each asset's pricing and market's lastFundingTime came from (inputs.ts); reported, not used */
  sources?: RiskInputs['sources']
}

export interface PerpRisk {
  market: string
  size: string
  entryPrice: string
  markPrice: string
  notional: string
  unrealizedPnl: string
  fundingOwed: string
  initialRequirement: string
  maintenanceRequirement: string
  liquidationPrice: string | null
}

export interface OptionRisk {
  market: string
  isCall: boolean
  strike: string
  expiry: string
  size: string
  /** exact: intrinsic value at the snapshot price, as the contract would pay it (signed by size) */
  intrinsicValue: string
  yearsToExpiry: number
  vol: number
  unitPrice: number
  delta: number
  gamma: number
  theta: number
  vega: number
  value: number
  positionDelta: number
  positionGamma: number
  positionTheta: number
  positionVega: number
}

export interface AccountRisk {
  account: string
  collateralValue: string | null
  unrealizedPnl: string | null
  fundingOwed: string | null
  equity: string | null
  notional: string | null
  initialRequirement: string | null
  maintenanceRequirement: string | null
  /** equity·1e18/notional (1e18-scaled), null without perps */
  marginRatio: string | null
  distanceToLiquidation: string | null
  liquidatable: boolean | null
  perps: PerpRisk[]
  options: OptionRisk[]
  /** why the numbers above are null (e.g. a non-positive oracle price: the contract's views revert) */
  error?: string
}

export interface MarketRisk {
  market: string
  price: string
  priceDecimals: string
  longOpenInterest: string
  shortOpenInterest: string
  /** Σ of the accounts' long / short sizes (short as positive): should equal the open interest */
  longSize: string
  shortSize: string
  notional: string
  unrealizedPnl: string
  fundingOwed: string
  initialRequirement: string
  maintenanceRequirement: string
  /** accounts with a perp position in this market, and how many of them are liquidatable */
  accounts: number
  liquidatable: number
  optionsBought: string
  optionsWritten: string
  optionsValue: number
  delta: number
  gamma: number
  theta: number
  vega: number
}

export interface RiskTotals {
  accounts: number
  withPerps: number
  liquidatable: number
  collateralValue: string
  equity: string
  /** Σ of negative equities, as a positive amount (what is under water) */
  negativeEquity: string
  unrealizedPnl: string
  fundingOwed: string
  notional: string
  initialRequirement: string
  maintenanceRequirement: string
}

interface MarketAcc {
  long: bigint
  short: bigint
  notional: bigint
  pnl: bigint
  funding: bigint
  initial: bigint
  maintenance: bigint
  accounts: number
  liquidatable: number
  bought: bigint
  written: bigint
  value: number
  delta: number
  gamma: number
  theta: number
  vega: number
}

const size18 = (size: bigint): number => Number(size) / 1e18

/** Streams account rows, accumulating market totals and grand totals. */
export class RiskReport {
  readonly ctx: MarginContext
  private readonly markets: DerivativesMarkets
  readonly params: RiskParams
  private readonly acc = new Map<bigint, MarketAcc>()
  private readonly totals = { accounts: 0, withPerps: 0, liquidatable: 0, coll: 0n, equity: 0n, negative: 0n, pnl: 0n, funding: 0n, notional: 0n, initial: 0n, maintenance: 0n }

  constructor(markets: DerivativesMarkets, params: RiskParams) {
    for (const [id, v] of params.volByMarket) {
      if (!markets.markets.some((m) => m.id === id)) throw new ArkError('INVALID_INPUT', `a volatility is given for market ${id}, which the snapshot does not list`)
      if (!(v > 0) || !Number.isFinite(v)) throw new ArkError('INVALID_INPUT', `volatility for market ${id} must be a positive number, got ${v}`)
    }
    if (!(params.vol > 0) || !Number.isFinite(params.vol)) throw new ArkError('INVALID_INPUT', `volatility must be a positive number, got ${params.vol}`)
    this.ctx = marginContext({ markets, pricing: params.pricing, timestamp: params.timestamp, fundingTimes: params.fundingTimes })
    this.markets = markets
    this.params = params
    for (const m of markets.markets) this.acc.set(m.id, { long: 0n, short: 0n, notional: 0n, pnl: 0n, funding: 0n, initial: 0n, maintenance: 0n, accounts: 0, liquidatable: 0, bought: 0n, written: 0n, value: 0, delta: 0, gamma: 0, theta: 0, vega: 0 })
  }

  private market(id: bigint): MarketAcc {
    const a = this.acc.get(id)
    if (a === undefined) throw new ArkError('INVALID_INPUT', `a position refers to market ${id}, which the snapshot does not list`)
    return a
  }

  option(o: OptionPosition): OptionRisk {
    const m = this.ctx.markets.get(o.market)
    if (m === undefined) throw new ArkError('INVALID_INPUT', `an option refers to market ${o.market}, which the snapshot does not list`)
    const scale = 10n ** m.priceDecimals
    const price = m.price
    const intrinsic = price <= 0n ? 0n : o.isCall ? (price > o.strike ? price - o.strike : 0n) : o.strike > price ? o.strike - price : 0n
    const abs = o.size < 0n ? -o.size : o.size
    const paid = (intrinsic * abs) / scale
    const vol = this.params.volByMarket.get(o.market) ?? this.params.vol
    const years = Number(o.expiry - this.params.timestamp) / Number(SECONDS_PER_YEAR)
    const s = Number(price) / Number(scale)
    const k = Number(o.strike) / Number(scale)
    const g = price > 0n && o.strike > 0n ? blackScholes({ isCall: o.isCall, spot: s, strike: k, years, vol }) : { price: NaN, delta: NaN, gamma: NaN, theta: NaN, vega: NaN }
    const n = size18(o.size)
    return {
      market: o.market.toString(),
      isCall: o.isCall,
      strike: o.strike.toString(),
      expiry: o.expiry.toString(),
      size: o.size.toString(),
      intrinsicValue: (o.size < 0n ? -paid : paid).toString(),
      yearsToExpiry: years,
      vol,
      unitPrice: g.price,
      delta: g.delta,
      gamma: g.gamma,
      theta: g.theta,
      vega: g.vega,
      value: g.price * n,
      positionDelta: g.delta * n,
      positionGamma: g.gamma * n,
      positionTheta: g.theta * n,
      positionVega: g.vega * n,
    }
  }

  /** One account's row; totals are updated. */
  account(key: Uint8Array, r: AccountRecord): AccountRisk {
    const options = r.options.map((o) => this.option(o))
    for (const [i, o] of r.options.entries()) {
      const a = this.market(o.market)
      if (o.size > 0n) a.bought += o.size
      else a.written -= o.size
      const x = options[i]!
      a.value += x.value
      a.delta += x.positionDelta
      a.gamma += x.positionGamma
      a.theta += x.positionTheta
      a.vega += x.positionVega
    }
    const t = this.totals
    t.accounts++
    let margin
    try {
      margin = accountMargin(this.ctx, r)
    } catch (err) {
      if (!(err instanceof ArkError)) throw err
      return { account: bytesToHex(key), collateralValue: null, unrealizedPnl: null, fundingOwed: null, equity: null, notional: null, initialRequirement: null, maintenanceRequirement: null, marginRatio: null, distanceToLiquidation: null, liquidatable: null, perps: [], options, error: err.message }
    }
    const liquidatable = r.perps.length > 0 && margin.equity < margin.maintenanceRequirement
    const perps: PerpRisk[] = margin.perps.map((p) => {
      const a = this.market(p.market)
      if (p.size > 0n) a.long += p.size
      else a.short -= p.size
      a.notional += p.notional
      a.pnl += p.unrealizedPnl
      a.funding += p.fundingOwed
      a.initial += p.initialRequirement
      a.maintenance += p.maintenanceRequirement
      a.accounts++
      if (liquidatable) a.liquidatable++
      const lp = liquidationPrice(this.ctx, r, p.market)
      return {
        market: p.market.toString(),
        size: p.size.toString(),
        entryPrice: p.entryPrice.toString(),
        markPrice: p.markPrice.toString(),
        notional: p.notional.toString(),
        unrealizedPnl: p.unrealizedPnl.toString(),
        fundingOwed: p.fundingOwed.toString(),
        initialRequirement: p.initialRequirement.toString(),
        maintenanceRequirement: p.maintenanceRequirement.toString(),
        liquidationPrice: lp === null ? null : lp.toString(),
      }
    })
    if (r.perps.length > 0) t.withPerps++
    if (liquidatable) t.liquidatable++
    t.coll += margin.collateralValue
    t.equity += margin.equity
    if (margin.equity < 0n) t.negative -= margin.equity
    t.pnl += margin.unrealizedPnl
    t.funding += margin.fundingOwed
    t.notional += margin.notional
    t.initial += margin.initialRequirement
    t.maintenance += margin.maintenanceRequirement
    return {
      account: bytesToHex(key),
      collateralValue: margin.collateralValue.toString(),
      unrealizedPnl: margin.unrealizedPnl.toString(),
      fundingOwed: margin.fundingOwed.toString(),
      equity: margin.equity.toString(),
      notional: margin.notional.toString(),
      initialRequirement: margin.initialRequirement.toString(),
      maintenanceRequirement: margin.maintenanceRequirement.toString(),
      marginRatio: margin.notional === 0n ? null : ((margin.equity * ONE) / margin.notional).toString(),
      distanceToLiquidation: (margin.equity - margin.maintenanceRequirement).toString(),
      liquidatable,
      perps,
      options,
    }
  }

  marketTotals(): MarketRisk[] {
    return this.markets.markets.map((m) => {
      const a = this.acc.get(m.id)!
      return {
        market: m.id.toString(),
        price: m.price.toString(),
        priceDecimals: m.priceDecimals.toString(),
        longOpenInterest: m.longOpenInterest.toString(),
        shortOpenInterest: m.shortOpenInterest.toString(),
        longSize: a.long.toString(),
        shortSize: a.short.toString(),
        notional: a.notional.toString(),
        unrealizedPnl: a.pnl.toString(),
        fundingOwed: a.funding.toString(),
        initialRequirement: a.initial.toString(),
        maintenanceRequirement: a.maintenance.toString(),
        accounts: a.accounts,
        liquidatable: a.liquidatable,
        optionsBought: a.bought.toString(),
        optionsWritten: a.written.toString(),
        optionsValue: a.value,
        delta: a.delta,
        gamma: a.gamma,
        theta: a.theta,
        vega: a.vega,
      }
    })
  }

  grandTotals(): RiskTotals {
    const t = this.totals
    return {
      accounts: t.accounts,
      withPerps: t.withPerps,
      liquidatable: t.liquidatable,
      collateralValue: t.coll.toString(),
      equity: t.equity.toString(),
      negativeEquity: t.negative.toString(),
      unrealizedPnl: t.pnl.toString(),
      fundingOwed: t.funding.toString(),
      notional: t.notional.toString(),
      initialRequirement: t.initial.toString(),
      maintenanceRequirement: t.maintenance.toString(),
    }
  }
}
