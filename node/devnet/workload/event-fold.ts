import type { Hex } from 'viem'
import { signedWord, topicAddress, word } from '../../../snapshot/adapters/call.ts'
import type { EventName } from './contracts.ts'

export interface Pos {
  size: bigint
  entryPrice: bigint
  fundingIndex: bigint
}

export interface Acct {
  bal: bigint[]
  pos: (Pos | undefined)[]
  opts: Map<number, bigint>
}

export interface MarketState {
  feed: string
  scale: bigint
  imr: bigint
  mmr: bigint
  long: bigint
  short: bigint
  index: bigint
  rate: bigint
  last: bigint
}

export interface SeriesState {
  id: number
  market: number
  isCall: boolean
  strike: bigint
  expiry: bigint
  settled: boolean
  settlementPrice: bigint
}

export interface Log {
  address: string
  topics: Hex[]
  data: Hex
}

/**
 * The workload's view of the protocol, folded from its events in block order
 * (the events carry absolute values, as the snapshot adapter relies on too):
 * balances, positions, option holdings, markets, series, the pause flag, and
 * which accounts hold positions or options (what the keeper scans).
 */
export class EventFold {
  readonly accounts = new Map<string, Acct>()
  readonly withPositions = new Set<string>()
  readonly withOptions = new Set<string>()
  readonly touched = new Set<string>()
  readonly series = new Map<number, SeriesState>()
  paused = false
  events = 0
  liquidations = 0
  badDebts = 0
  private readonly assetIndex: Map<string, number>
  private readonly exchange: string
  private readonly options: string
  private readonly topics: Record<EventName, Hex>
  readonly markets: MarketState[]

  constructor(init: { exchange: string; options: string; assets: string[]; markets: MarketState[]; topics: Record<EventName, Hex> }) {
    this.exchange = init.exchange
    this.options = init.options
    this.markets = init.markets
    this.topics = init.topics
    this.assetIndex = new Map(init.assets.map((a, i) => [a, i]))
  }

  account(a: string): Acct {
    let acct = this.accounts.get(a)
    if (acct === undefined) {
      acct = { bal: this.assetIndex.size === 0 ? [] : new Array<bigint>(this.assetIndex.size).fill(0n), pos: new Array<Pos | undefined>(this.markets.length), opts: new Map() }
      this.accounts.set(a, acct)
    }
    return acct
  }

  apply(log: Log): void {
    const address = log.address.toLowerCase()
    if (address !== this.exchange && address !== this.options) return
    this.events++
    if (address === this.exchange) this.applyExchange(log)
    else this.applyOptions(log)
  }

  private applyExchange(log: Log): void {
    const [t0, t1, t2] = log.topics
    const T = this.topics
    if (t0 === T.CollateralUpdated) {
      const a = topicAddress(t1!)
      this.account(a).bal[this.assetIndex.get(topicAddress(t2!))!] = word(log.data, 0)
      this.touched.add(a)
    } else if (t0 === T.PositionUpdated) {
      const a = topicAddress(t1!)
      const size = signedWord(log.data, 0)
      const acct = this.account(a)
      acct.pos[Number(BigInt(t2!))] = size === 0n ? undefined : { size, entryPrice: word(log.data, 1), fundingIndex: signedWord(log.data, 2) }
      if (acct.pos.some((p) => p !== undefined)) this.withPositions.add(a)
      else this.withPositions.delete(a)
      this.touched.add(a)
    } else if (t0 === T.MarketUpdated) {
      const m = this.markets[Number(BigInt(t1!))]!
      m.long = word(log.data, 0)
      m.short = word(log.data, 1)
      m.index = signedWord(log.data, 2)
      m.rate = signedWord(log.data, 3)
      m.last = word(log.data, 4)
    } else if (t0 === T.Liquidated) this.liquidations++
    else if (t0 === T.BadDebt) this.badDebts++
    else if (t0 === T.Paused) this.paused = true
    else if (t0 === T.Unpaused) this.paused = false
  }

  private applyOptions(log: Log): void {
    const [t0, t1, t2] = log.topics
    const T = this.topics
    if (t0 === T.SeriesListed) {
      const id = Number(BigInt(t1!))
      this.series.set(id, { id, market: Number(word(log.data, 0)), isCall: word(log.data, 1) === 1n, strike: word(log.data, 2), expiry: word(log.data, 3), settled: false, settlementPrice: 0n })
    } else if (t0 === T.OptionPositionUpdated) {
      const a = topicAddress(t1!)
      const id = Number(BigInt(t2!))
      const size = signedWord(log.data, 0)
      const acct = this.account(a)
      if (size === 0n) acct.opts.delete(id)
      else acct.opts.set(id, size)
      if (acct.opts.size > 0) this.withOptions.add(a)
      else this.withOptions.delete(a)
      this.touched.add(a)
    } else if (t0 === T.SeriesSettled) {
      const s = this.series.get(Number(BigInt(t1!)))!
      s.settled = true
      s.settlementPrice = word(log.data, 0)
    }
  }
}
