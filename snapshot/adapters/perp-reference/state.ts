import { bytesToHex, hexToBytes } from '../../codec/hex.ts'
import { SpotCheckError } from '../../chain/errors.ts'
import type { Hex, Log } from '../../chain/source.ts'
import type { AccountRecord } from '../../schema/derivatives.ts'
import { ZERO_ADDRESS, type MarketStateV2 } from '../../schema/derivatives-v2.ts'
import type { CollateralAssetV3, DerivativesMarketsV3 } from '../../schema/derivatives-v3.ts'
import { tokenSymbol } from '../../chain/token-info.ts'
import type { Change } from '../../state/build.ts'
import { pinnedCall, signedWord, topicAddress, word } from '../call.ts'
import type { AdapterRecord, AdapterState, DeriveContext } from '../types.ts'
import { exchangeAbi, feedAbi, optionsAbi, TOPICS } from './abi.ts'
import type { PerpReferenceConfig } from './adapter.ts'

interface Series {
  market: bigint
  isCall: boolean
  strike: bigint
  expiry: bigint
}

interface Account {
  collateral: Map<string, bigint>
  perps: Map<bigint, { size: bigint; entryPrice: bigint; fundingIndex: bigint }>
  /** by series key (market/isCall/strike/expiry): records carry the series, not its id */
  options: Map<string, { series: Series; size: bigint }>
}

async function inBatches<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn))
}

const seriesKey = (s: Series): string => `${s.market}/${s.isCall ? 1 : 0}/${s.strike}/${s.expiry}`

function emptyAccount(): Account {
  return { collateral: new Map(), perps: new Map(), options: new Map() }
}

function toRecord(a: Account): AccountRecord | null {
  const rec: AccountRecord = {
    collateral: [...a.collateral].filter(([, v]) => v !== 0n).map(([asset, amount]) => ({ asset, amount })),
    perps: [...a.perps].filter(([, p]) => p.size !== 0n).map(([market, p]) => ({ market, ...p })),
    options: [...a.options.values()].filter((o) => o.size !== 0n).map((o) => ({ ...o.series, size: o.size })),
  }
  return rec.collateral.length + rec.perps.length + rec.options.length === 0 ? null : rec
}

/**
 * Event-sourced state of the reference protocol. Its events carry absolute
 * values, so folding is last-write-wins per (account, asset|market|series),
 * and folding from any checkpoint gives what folding from deployment gives.
 */
export class PerpReferenceState implements AdapterState<AccountRecord, DerivativesMarketsV3> {
  private accounts = new Map<string, Account>()
  private series = new Map<bigint, Series>()
  private touched = new Set<string>()
  private readonly config: PerpReferenceConfig

  constructor(config: PerpReferenceConfig) {
    this.config = config
  }

  async load(records: AsyncIterable<{ key: Uint8Array; record: AccountRecord }>): Promise<void> {
    for await (const { key, record } of records) {
      const a = emptyAccount()
      for (const c of record.collateral) a.collateral.set(c.asset.toLowerCase(), c.amount)
      for (const p of record.perps) a.perps.set(p.market, { size: p.size, entryPrice: p.entryPrice, fundingIndex: p.fundingIndex })
      for (const o of record.options) {
        const series = { market: o.market, isCall: o.isCall, strike: o.strike, expiry: o.expiry }
        a.options.set(seriesKey(series), { series, size: o.size })
      }
      this.accounts.set(bytesToHex(key), a)
    }
  }

  private account(addr: string): Account {
    let a = this.accounts.get(addr)
    if (a === undefined) this.accounts.set(addr, (a = emptyAccount()))
    this.touched.add(addr)
    return a
  }

  private async seriesOf(id: bigint, ctx: DeriveContext): Promise<Series> {
    let s = this.series.get(id)
    if (s === undefined) {
      // Listed before the checkpoint we resumed from: ask the contract (pinned to this block).
      const [market, isCall, strike, expiry] = await pinnedCall<[bigint, boolean, bigint, bigint]>(ctx, this.config.options!, optionsAbi, 'getSeries', [id])
      s = { market, isCall, strike, expiry }
      this.series.set(id, s)
    }
    return s
  }

  async fold(logs: readonly Log[], ctx: DeriveContext): Promise<void> {
    const exchange = this.config.exchange
    const options = this.config.options
    for (const log of logs) {
      const t0 = log.topics[0]
      if (log.address === exchange) {
        if (t0 === TOPICS.CollateralUpdated) {
          this.account(topicAddress(log.topics[1]!)).collateral.set(topicAddress(log.topics[2]!), word(log.data, 0))
        } else if (t0 === TOPICS.PositionUpdated) {
          this.account(topicAddress(log.topics[1]!)).perps.set(BigInt(log.topics[2]!), { size: signedWord(log.data, 0), entryPrice: word(log.data, 1), fundingIndex: signedWord(log.data, 2) })
        }
      } else if (log.address === options) {
        if (t0 === TOPICS.SeriesListed) {
          this.series.set(BigInt(log.topics[1]!), { market: word(log.data, 0), isCall: word(log.data, 1) !== 0n, strike: word(log.data, 2), expiry: word(log.data, 3) })
        } else if (t0 === TOPICS.OptionPositionUpdated) {
          const series = await this.seriesOf(BigInt(log.topics[2]!), ctx)
          this.account(topicAddress(log.topics[1]!)).options.set(seriesKey(series), { series, size: signedWord(log.data, 0) })
        }
      }
    }
  }

  takeChanges(): Change<AccountRecord>[] {
    const out: Change<AccountRecord>[] = []
    for (const addr of this.touched) {
      const rec = toRecord(this.accounts.get(addr)!)
      if (rec === null) this.accounts.delete(addr)
      out.push({ key: hexToBytes(addr), record: rec })
    }
    this.touched.clear()
    return out
  }

  /** Changes for an incremental build must not remove keys the previous snapshot never had. */
  *records(): Iterable<AdapterRecord<AccountRecord>> {
    for (const [addr, a] of this.accounts) {
      const rec = toRecord(a)
      if (rec !== null) yield { key: hexToBytes(addr), record: rec }
    }
  }

  /**
   * Assets with how the exchange values them (PerpExchange._margin): no feed =
   * par; otherwise the feed's latestRoundData and decimals at this block (the
   * exchange reads the same answer; it cached decimals() at listing), and the
   * token's symbol() under the schema v3 rule (snapshot/chain/token-info.ts).
   */
  async markets(ctx: DeriveContext): Promise<DerivativesMarketsV3> {
    const ex = this.config.exchange
    const [nAssets, nMarkets] = await Promise.all([pinnedCall<bigint>(ctx, ex, exchangeAbi, 'assetCount'), pinnedCall<bigint>(ctx, ex, exchangeAbi, 'marketCount')])
    const assets = await Promise.all(
      Array.from({ length: Number(nAssets) }, async (_, i): Promise<CollateralAssetV3> => {
        const [token, feedAddr, haircutBps, decimals] = await pinnedCall<[Hex, Hex, number, number]>(ctx, ex, exchangeAbi, 'assetAt', [BigInt(i)])
        const feed = feedAddr.toLowerCase()
        const symbol = await tokenSymbol(ctx.source, token, ctx.block.hash, ctx.signal)
        const base = { asset: token.toLowerCase(), haircutBps: BigInt(haircutBps), decimals: BigInt(decimals), symbol, feed }
        if (feed === ZERO_ADDRESS) return { ...base, price: 0n, roundId: 0n, updatedAt: 0n, priceDecimals: 0n }
        const [[roundId, answer, , updatedAt], feedDecimals] = await Promise.all([
          pinnedCall<[bigint, bigint, bigint, bigint, bigint]>(ctx, feed as Hex, feedAbi, 'latestRoundData'),
          pinnedCall<number>(ctx, feed as Hex, feedAbi, 'decimals'),
        ])
        return { ...base, price: answer, roundId: BigInt(roundId), updatedAt, priceDecimals: BigInt(feedDecimals) }
      }),
    )
    const markets = await Promise.all(
      Array.from({ length: Number(nMarkets) }, async (_, i) => {
        const m = await pinnedCall<Record<string, bigint | number | string>>(ctx, ex, exchangeAbi, 'getMarket', [BigInt(i)])
        const state: MarketStateV2 = {
          id: BigInt(m.id!),
          feed: String(m.feed).toLowerCase(),
          price: BigInt(m.price!),
          roundId: BigInt(m.roundId!),
          updatedAt: BigInt(m.updatedAt!),
          priceDecimals: BigInt(m.priceDecimals!),
          longOpenInterest: BigInt(m.longOpenInterest!),
          shortOpenInterest: BigInt(m.shortOpenInterest!),
          fundingIndex: BigInt(m.fundingIndex!),
          fundingRate: BigInt(m.fundingRate!),
          initialMarginRatio: BigInt(m.initialMarginRatio!),
          maintenanceMarginRatio: BigInt(m.maintenanceMarginRatio!),
          liquidationFee: BigInt(m.liquidationFee!),
          lastFundingTime: BigInt(m.lastFundingTime!),
        }
        return state
      }),
    )
    return { assets, markets }
  }

  async spotCheck(ctx: DeriveContext, accounts: { key: Uint8Array; record: AccountRecord }[], markets: DerivativesMarketsV3): Promise<void> {
    const fresh = await this.markets(ctx)
    const fail = (what: string, field: string, ours: unknown, theirs: unknown): never => {
      throw new SpotCheckError(`spot check failed at block ${ctx.block.number}: ${what} field ${field} is ${String(ours)} in the derived state but ${String(theirs)} in the contract; the checkpoint is not attested`, { block: ctx.block.number.toString(), what, field, derived: String(ours), contract: String(theirs) })
    }
    if (fresh.markets.length !== markets.markets.length) fail('markets', 'count', markets.markets.length, fresh.markets.length)
    markets.markets.forEach((m, i) => {
      for (const [k, v] of Object.entries(m)) if (v !== (fresh.markets[i] as unknown as Record<string, unknown>)[k]) fail(`market ${m.id}`, k, v, (fresh.markets[i] as unknown as Record<string, unknown>)[k])
    })
    if (fresh.assets.length !== markets.assets.length) fail('assets', 'count', markets.assets.length, fresh.assets.length)
    // the contract lists assets in listing order, the snapshot by address
    const freshAssets = new Map(fresh.assets.map((a) => [a.asset.toLowerCase(), a as unknown as Record<string, unknown>]))
    for (const a of markets.assets) {
      const theirs = freshAssets.get(a.asset.toLowerCase())
      if (theirs === undefined) fail(`asset ${a.asset}`, 'asset', a.asset, 'not listed')
      for (const [k, v] of Object.entries(a)) if (v !== theirs![k]) fail(`asset ${a.asset}`, k, v, theirs![k])
    }
    // Independent reads: run them a few at a time instead of one round trip after another.
    await inBatches(accounts, 8, async ({ key, record }) => {
      const addr = bytesToHex(key) as Hex
      const who = `account ${addr}`
      const [collateral, positions] = await pinnedCall<[{ asset: Hex; amount: bigint }[], { market: bigint; size: bigint; entryPrice: bigint; fundingIndex: bigint }[]]>(ctx, this.config.exchange, exchangeAbi, 'getAccount', [addr])
      const ours = new Map(record.collateral.map((c) => [c.asset.toLowerCase(), c.amount]))
      const theirs = new Map(collateral.map((c) => [c.asset.toLowerCase(), c.amount]))
      for (const a of new Set([...ours.keys(), ...theirs.keys()])) if ((ours.get(a) ?? 0n) !== (theirs.get(a) ?? 0n)) fail(who, `collateral[${a}]`, ours.get(a) ?? 0n, theirs.get(a) ?? 0n)
      const op = new Map(record.perps.map((p) => [p.market, p]))
      const tp = new Map(positions.map((p) => [BigInt(p.market), p]))
      for (const m of new Set([...op.keys(), ...tp.keys()])) {
        const a = op.get(m)
        const b = tp.get(m)
        if (a === undefined || b === undefined) fail(who, `perps[market ${m}]`, a?.size ?? 0n, b?.size ?? 0n)
        for (const f of ['size', 'entryPrice', 'fundingIndex'] as const) if (a![f] !== b![f]) fail(who, `perps[market ${m}].${f}`, a![f], b![f])
      }
      if (this.config.options !== undefined) {
        const opts = await pinnedCall<{ market: bigint; isCall: boolean; strike: bigint; expiry: bigint; size: bigint }[]>(ctx, this.config.options, optionsAbi, 'getOptionPositions', [addr])
        const oo = new Map(record.options.map((o) => [seriesKey(o), o.size]))
        const to = new Map(opts.map((o) => [seriesKey({ market: BigInt(o.market), isCall: o.isCall, strike: o.strike, expiry: BigInt(o.expiry) }), o.size]))
        for (const s of new Set([...oo.keys(), ...to.keys()])) if ((oo.get(s) ?? 0n) !== (to.get(s) ?? 0n)) fail(who, `options[${s}].size`, oo.get(s) ?? 0n, to.get(s) ?? 0n)
      }
    })
  }

  clone(): PerpReferenceState {
    const c = new PerpReferenceState(this.config)
    for (const [k, a] of this.accounts) c.accounts.set(k, { collateral: new Map(a.collateral), perps: new Map(a.perps), options: new Map(a.options) })
    c.series = new Map(this.series)
    c.touched = new Set(this.touched)
    return c
  }
}
