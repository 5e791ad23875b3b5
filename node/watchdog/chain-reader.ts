import { decodeFunctionResult, encodeFunctionData, parseAbi, type Abi } from 'viem'
import type { ClaimCheck } from '../../protocol/gossip/validate-alert.ts'
import type { SignedAlert } from '../../protocol/alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { BlockHeader, ChainSource } from '../../snapshot/chain/source.ts'
import type { MarginContext } from './margin.ts'
import { exceedsBps, normalize, type EndpointHead, type FeedObservation, type MarketObservation, type SinceRule } from './monitors.ts'
import { heartbeatOf, type WatchdogOptions } from './options.ts'

export const feedAbi = parseAbi([
  'function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)',
  'function getRoundData(uint80 roundId) view returns (uint80, int256, uint256, uint256, uint80)',
  'function decimals() view returns (uint8)',
])

export const watchdogExchangeAbi = parseAbi([
  'struct MarketView { uint64 id; address feed; int256 price; uint80 roundId; uint256 updatedAt; uint8 priceDecimals; uint256 longOpenInterest; uint256 shortOpenInterest; int256 fundingIndex; int256 fundingRate; uint256 initialMarginRatio; uint256 maintenanceMarginRatio; uint256 liquidationFee; uint64 lastFundingTime; }',
  'function getMarket(uint64 market) view returns (MarketView)',
  'function marketCount() view returns (uint64)',
  'function assetCount() view returns (uint256)',
  'function assetAt(uint256 index) view returns (address token, address feed, uint16 haircutBps, uint8 decimals)',
  'function paused() view returns (bool)',
  'function equity(address account) view returns (int256)',
  'function maintenanceRequirement(address account) view returns (uint256)',
  'function pause()',
])

export interface MarketView extends MarketObservation {
  feed: Address
  price: bigint
  priceDecimals: bigint
  fundingIndex: bigint
  fundingRate: bigint
  maintenanceMarginRatio: bigint
}

const HEADER_CACHE = 4096

/**
 * Every chain read of the watchdog, through the node's ChainSource: reads
 * about a block are pinned to its hash (EIP-1898), headers come agreed by
 * every endpoint, and the `since` rules are resolved by searches whose
 * predicates are monotone in the block number, so the answer does not depend
 * on where the search starts (PROTOCOL.md §12.2).
 */
export class ChainReader {
  readonly source: ChainSource
  readonly exchange: Address
  readonly options: WatchdogOptions
  private readonly signal: AbortSignal | undefined
  private readonly headers = new Map<bigint, BlockHeader>()
  private readonly decimals = new Map<string, number>()
  private readonly since = new Map<string, bigint>()

  constructor(init: { source: ChainSource; exchange: Address; options: WatchdogOptions; signal?: AbortSignal }) {
    this.source = init.source
    this.exchange = init.exchange.toLowerCase() as Address
    this.options = init.options
    this.signal = init.signal
  }

  async call<T>(to: Address, abi: Abi, functionName: string, args: readonly unknown[], blockHash: `0x${string}`): Promise<T> {
    const raw = await this.source.call(to, encodeFunctionData({ abi, functionName, args } as never), blockHash, this.signal)
    return decodeFunctionResult({ abi, functionName, data: raw } as never) as T
  }

  /** Agreed header; final ones are cached (callers only ask for final blocks). */
  async header(n: bigint): Promise<BlockHeader> {
    const had = this.headers.get(n)
    if (had !== undefined) return had
    const h = await this.source.agreedHeader(n, this.signal)
    if (this.headers.size >= HEADER_CACHE) this.headers.delete(this.headers.keys().next().value!)
    this.headers.set(n, h)
    return h
  }

  finalized(): Promise<BlockHeader> {
    return this.source.finalizedHead(this.signal)
  }

  /** Every endpoint's latest head, and each one's hash at the lowest of them. */
  async endpointHeads(): Promise<{ heads: EndpointHead[]; common: bigint; latest: { number: bigint; timestamp: bigint } | undefined }> {
    const raw = await Promise.all(
      this.source.endpoints.map(async (e) => {
        try {
          const b = await e.request<{ number: string; timestamp: string } | null>('eth_getBlockByNumber', ['latest', false], this.signal)
          return b === null ? undefined : { url: e.url, number: BigInt(b.number), timestamp: BigInt(b.timestamp) }
        } catch {
          return undefined
        }
      }),
    )
    const ok = raw.filter((x) => x !== undefined)
    if (ok.length === 0) return { heads: [], common: 0n, latest: undefined }
    const common = ok.map((h) => h.number).reduce((a, b) => (a < b ? a : b))
    const latest = ok.reduce((a, b) => (b.number > a.number ? b : a))
    const heads = await Promise.all(
      this.source.endpoints.map(async (e, i): Promise<EndpointHead | undefined> => {
        const h = raw[i]
        if (h === undefined) return undefined
        const b = await e.request<{ hash: string } | null>('eth_getBlockByNumber', [`0x${common.toString(16)}`, false], this.signal).catch(() => null)
        return { url: e.url, number: h.number, commonHash: b?.hash?.toLowerCase() }
      }),
    )
    return { heads: heads.filter((h) => h !== undefined), common, latest: { number: latest.number, timestamp: latest.timestamp } }
  }

  private async feedDecimals(feed: Address, blockHash: `0x${string}`): Promise<number> {
    let d = this.decimals.get(feed)
    if (d === undefined) this.decimals.set(feed, (d = Number(await this.call<number>(feed, feedAbi, 'decimals', [], blockHash))))
    return d
  }

  /** The feed's latest round at a block (round 0, answer 0 where the feed has no data or no code). */
  async feed(feed: Address, blockHash: `0x${string}`): Promise<FeedObservation> {
    const f = feed.toLowerCase() as Address
    let r: readonly [bigint, bigint, bigint, bigint, bigint]
    try {
      r = await this.call(f, feedAbi, 'latestRoundData', [], blockHash)
    } catch {
      return { feed: f, decimals: 0, roundId: 0n, answer: 0n, updatedAt: 0n, prevAnswer: undefined }
    }
    const [roundId, answer, , updatedAt] = r
    let prevAnswer: bigint | undefined
    if (roundId > 1n) prevAnswer = (await this.call<readonly [bigint, bigint, bigint, bigint, bigint]>(f, feedAbi, 'getRoundData', [roundId - 1n], blockHash).catch(() => undefined))?.[1]
    return { feed: f, decimals: await this.feedDecimals(f, blockHash), roundId, answer, updatedAt, prevAnswer }
  }

  async markets(blockHash: `0x${string}`): Promise<MarketView[]> {
    const n = await this.call<bigint>(this.exchange, watchdogExchangeAbi, 'marketCount', [], blockHash)
    return Promise.all(
      Array.from({ length: Number(n) }, async (_, i) => {
        const m = await this.call<Record<string, bigint | number | string>>(this.exchange, watchdogExchangeAbi, 'getMarket', [BigInt(i)], blockHash)
        return {
          id: BigInt(m.id!),
          feed: String(m.feed).toLowerCase() as Address,
          price: BigInt(m.price!),
          priceDecimals: BigInt(m.priceDecimals!),
          longOpenInterest: BigInt(m.longOpenInterest!),
          shortOpenInterest: BigInt(m.shortOpenInterest!),
          fundingIndex: BigInt(m.fundingIndex!),
          fundingRate: BigInt(m.fundingRate!),
          lastFundingTime: BigInt(m.lastFundingTime!),
          maintenanceMarginRatio: BigInt(m.maintenanceMarginRatio!),
        }
      }),
    )
  }

  paused(blockHash: `0x${string}`): Promise<boolean> {
    return this.call<boolean>(this.exchange, watchdogExchangeAbi, 'paused', [], blockHash)
  }

  async marginContext(h: BlockHeader, markets: MarketView[]): Promise<MarginContext> {
    const n = await this.call<bigint>(this.exchange, watchdogExchangeAbi, 'assetCount', [], h.hash)
    const assets = new Map<string, { haircutBps: bigint; price?: bigint; feedDecimals?: bigint }>()
    for (let i = 0n; i < n; i++) {
      const [token, feed, haircut] = await this.call<readonly [Address, Address, number, number]>(this.exchange, watchdogExchangeAbi, 'assetAt', [i], h.hash)
      if (/^0x0{40}$/i.test(feed)) assets.set(token.toLowerCase(), { haircutBps: BigInt(haircut) })
      else {
        const f = await this.feed(feed, h.hash)
        assets.set(token.toLowerCase(), { haircutBps: BigInt(haircut), price: f.answer, feedDecimals: BigInt(f.decimals) })
      }
    }
    return { assets, markets: new Map(markets.map((m) => [m.id, m])), timestamp: h.timestamp }
  }

  /** The chain's own view: equity below the maintenance requirement at this block. */
  async underwater(account: Address, blockHash: `0x${string}`): Promise<{ under: boolean; equity: bigint; requirement: bigint }> {
    const [equity, requirement] = await Promise.all([this.call<bigint>(this.exchange, watchdogExchangeAbi, 'equity', [account], blockHash), this.call<bigint>(this.exchange, watchdogExchangeAbi, 'maintenanceRequirement', [account], blockHash)])
    return { under: requirement > 0n && equity < requirement, equity, requirement }
  }

  /**
   * First block of the account's current run below maintenance margin, ending
   * at `at` (which must be under water): walk back block by block, at most
   * maxLookbackBlocks (`capped`: the run is older and its start unknown, so no
   * node can agree on it). `known` continues an earlier search.
   */
  async runStart(account: Address, at: bigint, known?: { since: bigint; checked: bigint; capped: boolean }): Promise<{ since: bigint; capped: boolean }> {
    if (known !== undefined && known.checked <= at) {
      // blocks (known.checked, at) were not looked at: the run must not have broken there
      let ok = true
      for (let n = at - 1n; n > known.checked; n--) {
        if (!(await this.underwater(account, (await this.header(n)).hash)).under) {
          ok = false
          break
        }
      }
      if (ok) return { since: known.since, capped: known.capped }
    }
    // walk back in chunks of 8 blocks read in parallel; the run starts after the newest block above water
    const floor = at - BigInt(this.options.engine.maxLookbackBlocks)
    let n = at
    for (;;) {
      const probes: bigint[] = []
      for (let k = n - 1n; k >= 0n && k > floor && probes.length < 8; k--) probes.push(k)
      if (probes.length === 0) return { since: n, capped: n > 0n }
      const under = await Promise.all(probes.map(async (k) => (await this.underwater(account, (await this.header(k)).hash)).under))
      const dry = under.indexOf(false)
      if (dry >= 0) return { since: probes[dry]! + 1n, capped: false }
      n = probes.at(-1)!
    }
  }

  /** First block in (lo, hi] where `pred` holds; pred(hi) true, monotone (false … false true … true). Gallops back from hi. */
  private async firstWhere(hi: bigint, pred: (n: bigint) => Promise<boolean>): Promise<bigint> {
    let good = hi
    let step = 1n
    let bad = -1n
    for (;;) {
      const probe = good - step
      if (probe < 0n) break
      if (await pred(probe)) {
        good = probe
        step *= 2n
      } else {
        bad = probe
        break
      }
    }
    while (good - bad > 1n) {
      const mid = (good + bad) / 2n
      if (mid < 0n) break
      if (await pred(mid)) good = mid
      else bad = mid
    }
    return good
  }

  private async roundAt(feed: Address, n: bigint): Promise<bigint> {
    const h = await this.header(n)
    try {
      return (await this.call<readonly [bigint, bigint, bigint, bigint, bigint]>(feed, feedAbi, 'latestRoundData', [], h.hash))[0]
    } catch {
      return 0n
    }
  }

  /** Resolve a monitor's `since` rule to a block number, given a final block `hi` where the condition holds. */
  async resolveSince(rule: SinceRule, hi: BlockHeader): Promise<bigint> {
    if (rule.rule === 'block') return rule.block
    if (rule.rule === 'max') {
      let m = 0n
      for (const r of rule.of) {
        const b = await this.resolveSince(r, hi)
        if (b > m) m = b
      }
      return m
    }
    const key = rule.rule === 'timestamp-after' ? `t/${rule.timestamp}` : `r/${rule.feed}/${rule.roundId}`
    const had = this.since.get(key)
    if (had !== undefined && had <= hi.number) return had
    const found =
      rule.rule === 'timestamp-after'
        ? await this.firstWhere(hi.number, async (n) => (await this.header(n)).timestamp > rule.timestamp)
        : await this.firstWhere(hi.number, async (n) => (await this.roundAt(rule.feed, n)) >= rule.roundId)
    this.since.set(key, found)
    if (this.since.size > HEADER_CACHE) this.since.delete(this.since.keys().next().value!)
    return found
  }

  /**
   * Re-evaluate a gossiped alert's claim at its sinceBlock S (final blocks
   * only): the condition holds at S and, where the rule says it began at S,
   * did not at S − 1. Anything that cannot be decided is `unknown`.
   */
  async checkClaim(a: SignedAlert, finalized: bigint): Promise<ClaimCheck> {
    const b = a.body
    const S = b.sinceBlock
    if (S > finalized || S < 1n) return 'unknown'
    try {
      const [h, p] = await Promise.all([this.header(S), this.header(S - 1n)])
      const o = this.options
      switch (b.kind) {
        case 'oracle-stale': {
          const hb = BigInt(heartbeatOf(o, b.subject))
          const [f, g] = await Promise.all([this.feed(b.subject, h.hash), this.feed(b.subject, p.hash)])
          if (f.roundId === 0n) return 'false'
          return h.timestamp - f.updatedAt > hb && !(p.timestamp - g.updatedAt > hb) ? 'true' : 'false'
        }
        case 'oracle-deviation':
        case 'oracle-nonpositive': {
          const [f, g] = await Promise.all([this.feed(b.subject, h.hash), this.feed(b.subject, p.hash)])
          if (f.roundId === g.roundId) return 'false'
          if (b.kind === 'oracle-nonpositive') return f.answer <= 0n ? 'true' : 'false'
          return f.prevAnswer !== undefined && f.prevAnswer !== 0n && exceedsBps(f.answer - f.prevAnswer, f.prevAnswer, o.oracle.maxDeviationBps) ? 'true' : 'false'
        }
        case 'oracle-disagreement': {
          const pair = o.oracle.pairs.find((x) => x.feeds[0] === b.subject.toLowerCase())
          if (pair === undefined) return 'false'
          const [fa, fb, ga, gb] = await Promise.all([this.feed(pair.feeds[0], h.hash), this.feed(pair.feeds[1], h.hash), this.feed(pair.feeds[0], p.hash), this.feed(pair.feeds[1], p.hash)])
          if (fa.roundId === ga.roundId && fb.roundId === gb.roundId) return 'false'
          const [x, y] = normalize(fa, fb)
          return x > 0n && y > 0n && exceedsBps(x - y, x < y ? x : y, pair.maxBps) ? 'true' : 'false'
        }
        case 'funding-stale': {
          const id = BigInt(b.subject)
          const period = BigInt(o.engine.fundingPeriodSec)
          const stale = async (hd: BlockHeader): Promise<boolean> => {
            const m = (await this.markets(hd.hash)).find((x) => x.id === id)
            return m !== undefined && m.longOpenInterest + m.shortOpenInterest > 0n && hd.timestamp - m.lastFundingTime > period
          }
          return (await stale(h)) && !(await stale(p)) ? 'true' : 'false'
        }
        case 'liquidation-backlog': {
          const [now, before] = await Promise.all([this.underwater(b.subject, h.hash), this.underwater(b.subject, p.hash)])
          return now.under && !before.under ? 'true' : 'false'
        }
        default:
          return 'unknown'
      }
    } catch {
      return 'unknown'
    }
  }
}
