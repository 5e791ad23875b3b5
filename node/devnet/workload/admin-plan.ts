import { getAddress, type Address } from 'viem'
import type { ReferenceDeployment } from '../deploy.ts'
import type { EventFold, MarketState } from './event-fold.ts'
import { abs, margin, type Prices } from './margin.ts'
import type { Tx } from './miner.ts'
import type { Rng } from './rng.ts'
import { GAS, type MakeTx } from './trader-plan.ts'
import type { WorkloadCounts } from './types.ts'

export interface AdminPlanInit {
  d: ReferenceDeployment
  /** checksummed senders */
  roles: { owner: Address; guardian: Address; updater: Address; keeper: Address }
  rng: Rng
  fold: EventFold
  markets: readonly MarketState[]
  prices: Prices
  /** every market and asset feed (lower case), each random-walked */
  feeds: readonly string[]
  initialPrice: ReadonlyMap<string, bigint>
  counts: WorkloadCounts
  tx: MakeTx
  keeperScan: number
  /** rounds the run is expected to take: pause, price shocks and series lifetimes are scheduled from it */
  estRounds: number
  /** seconds between rounds */
  interval: bigint
}

/**
 * What is not a trader's action: the oracle updates of a round (ordered first
 * in its block, with the guardian's pause and unpause), then the keeper's
 * liquidations and option settlements and the owner's new series. The order of
 * PRNG draws is part of the workload's determinism: keep it.
 */
export function adminPlanner(o: AdminPlanInit): {
  pauseRound: number
  oracle: (round: number) => Tx[]
  keeper: (round: number, at: bigint, push: (t: Tx, who?: string) => boolean, planned: () => number, busy: ReadonlySet<string>, adminBudget: number) => void
} {
  const { d, roles, rng, fold, markets, prices, feeds, counts, tx, estRounds, interval } = o
  const { price } = prices
  const seriesLife = BigInt(Math.max(3, Math.min(20, Math.floor(estRounds / 3))))
  const seriesEvery = Math.max(2, Number(seriesLife) >> 1)
  const pauseRound = estRounds >= 6 ? Math.floor(estRounds / 2) : -1
  // two scheduled gaps (-8% on the first feed, +8% on the last) so every run sees liquidations
  const shocks = new Map<string, bigint>([
    [`${Math.floor(estRounds / 3)}:${feeds[0]}`, -800n],
    [`${Math.floor((2 * estRounds) / 3)}:${feeds[feeds.length - 1]}`, 800n],
  ])
  let scanCursor = 0

  const oracle = (round: number): Tx[] => {
    const a: Tx[] = []
    for (const f of feeds) {
      const p = price.get(f)!
      const init = o.initialPrice.get(f)!
      const scheduled = shocks.get(`${round}:${f}`) ?? 0n
      const shock = scheduled !== 0n ? scheduled : rng.int(100) < 3 ? BigInt(rng.range(-800, 800)) : 0n
      const noise = BigInt(rng.range(-100, 100) + rng.range(-100, 100) + rng.range(-100, 100)) + shock // bps
      let next = p + (p * noise) / 10_000n + (init - p) / 50n // 2% pull towards the start price
      if (next < init / 10n) next = init / 10n
      price.set(f, next)
      a.push(tx(roles.updater, getAddress(f), 'updateAnswer', [next], GAS.small, () => void counts.priceUpdates++))
    }
    if (round === pauseRound) a.push(tx(roles.guardian, d.exchange, 'pause', [], GAS.small, () => void counts.pauses++))
    if (round === pauseRound + 1) a.push(tx(roles.guardian, d.exchange, 'unpause', [], GAS.small))
    return a
  }

  const keeper = (round: number, at: bigint, push: (t: Tx, who?: string) => boolean, planned: () => number, busy: ReadonlySet<string>, adminBudget: number): void => {
    // liquidations from the mirrored margin arithmetic
    const open = [...fold.withPositions]
    const scan = open.length <= o.keeperScan ? open : Array.from({ length: o.keeperScan }, (_, k) => open[(scanCursor + k) % open.length]!)
    scanCursor = open.length === 0 ? 0 : (scanCursor + scan.length) % open.length
    for (const account of scan) {
      if (planned() >= adminBudget) break
      const acct = fold.accounts.get(account)!
      const { equity, maintenance } = margin(d, markets, prices, acct, at)
      if (equity >= maintenance) continue
      let best = -1
      let bestNotional = -1n
      for (const [j, m] of markets.entries()) {
        const p = acct.pos[j]
        if (p === undefined) continue
        const notional = (abs(p.size) * price.get(m.feed)!) / m.scale
        if (notional > bestNotional) {
          best = j
          bestNotional = notional
        }
      }
      push(tx(roles.keeper, d.exchange, 'liquidate', [getAddress(account), best], GAS.trade), account)
    }
    // fix settlement prices of expired series, then pay out positions
    for (const s of fold.series.values()) {
      if (!s.settled && s.expiry <= at && planned() < adminBudget * 2) push(tx(roles.keeper, d.options, 'settleSeries', [s.id], GAS.small, () => void counts.seriesSettled++))
    }
    for (const account of fold.withOptions) {
      if (planned() >= adminBudget * 2) break
      if (busy.has(account)) continue
      const acct = fold.accounts.get(account)!
      for (const id of acct.opts.keys()) {
        if (!fold.series.get(id)!.settled) continue
        if (push(tx(roles.keeper, d.options, 'settle', [getAddress(account), id], GAS.option, () => void counts.optionSettlements++), account)) break
      }
    }
    // the owner lists new series every few rounds, a call and a put per market around the spot price
    if (round % seriesEvery === 0) {
      for (const [j, m] of markets.entries()) {
        const spot = price.get(m.feed)!
        for (const isCall of [true, false]) {
          const pct = BigInt(rng.range(-10, 10))
          const strike = ((spot * (100n + pct)) / 100n / m.scale) * m.scale
          if (strike > 0n) push(tx(roles.owner, d.options, 'listSeries', [j, isCall, strike, at + seriesLife * interval], GAS.option, () => void counts.seriesListed++))
        }
      }
    }
  }

  return { pauseRound, oracle, keeper }
}
