import type { Address } from 'viem'
import type { ReferenceDeployment } from '../deploy.ts'
import type { Arg, Fn } from './contracts.ts'
import type { Acct, EventFold, MarketState } from './event-fold.ts'
import { abs, margin, ONE, type Prices } from './margin.ts'
import type { Tx } from './miner.ts'
import type { Rng } from './rng.ts'
import type { WorkloadCounts } from './types.ts'

export const GAS = { small: 150_000n, deposit: 200_000n, trade: 450_000n, option: 450_000n } as const

export type MakeTx = (from: Address, to: Address, kind: Fn, args: Arg[], gas: bigint, onSuccess?: () => void) => Tx

export interface TraderPlanInit {
  d: ReferenceDeployment
  /** d.owner, checksummed (senders are keyed so) */
  owner: Address
  rng: Rng
  fold: EventFold
  markets: readonly MarketState[]
  prices: Prices
  /** % of the available leverage each trader uses */
  risk: readonly number[]
  counts: WorkloadCounts
  tx: MakeTx
}

/**
 * One trader action per call, decided from the PRNG and the folded state: a
 * trade (most often), an option buy or write, a deposit (topping up the
 * wallet first), a withdrawal or a funding update. The order of PRNG draws is
 * part of the workload's determinism: keep it.
 */
export function traderPlanner(o: TraderPlanInit): (t: number, trader: Address, acct: Acct, at: bigint) => Tx[] {
  const { d, owner, rng, fold, markets, prices, risk, counts, tx } = o
  const exchange = d.exchange
  const optionsMarket = d.options
  const { price, feedScale } = prices
  const lc = (a: string): string => a.toLowerCase()
  const marginOf = (a: Acct, at: bigint): ReturnType<typeof margin> => margin(d, markets, prices, a, at)
  const wallet = risk.map(() => d.assets.map(() => 0n))
  const approved = risk.map(() => d.assets.map(() => false))
  const addWallet = (t: number, i: number, amount: bigint): void => {
    const w = wallet[t]!
    w[i] = w[i]! + amount
  }

  function planTrade(t: number, trader: Address, acct: Acct, at: bigint): Tx[] {
    const j = rng.int(markets.length)
    const m = markets[j]!
    const px = price.get(m.feed)!
    const size = acct.pos[j]?.size ?? 0n
    const { equity, initial } = marginOf(acct, at)
    const free = equity - initial
    const maxNotional = free > 0n ? (free * ONE) / m.imr : 0n
    const lot = (notional: bigint): bigint => ((notional * m.scale) / px / 10n ** 14n) * 10n ** 14n
    let delta: bigint
    const r = rng.int(100)
    if (size === 0n || r < 35) {
      const notional = (maxNotional * BigInt(risk[t]!) * BigInt(risk[t]! >= 85 ? rng.range(92, 100) : rng.range(40, 100))) / 10_000n
      const dir = size !== 0n ? (size > 0n ? 1n : -1n) : rng.int(2) === 0 ? 1n : -1n
      delta = dir * lot(notional)
      if (delta === 0n) {
        if (size === 0n) return []
        delta = -size
      }
    } else if (r < 65) {
      delta = (-size * BigInt(rng.range(10, 90))) / 100n
      if (delta === 0n) delta = -size
    } else if (r < 92) {
      delta = -size
    } else {
      delta = -size - (size > 0n ? 1n : -1n) * lot((maxNotional * BigInt(risk[t]!)) / 200n)
    }
    return [tx(trader, exchange, 'trade', [j, delta], GAS.trade, () => void counts.trades++)]
  }

  function planOption(trader: Address, acct: Acct, at: bigint): Tx[] | undefined {
    const live = [...fold.series.values()].filter((s) => !s.settled && s.expiry > at + 1n)
    if (live.length === 0) return undefined
    const s = rng.pick(live)
    const m = markets[s.market]!
    const px = price.get(m.feed)!
    const bal = acct.bal[0]!
    const notional = BigInt(rng.range(200, 5_000)) * ONE
    let size = ((notional * m.scale) / px / 10n ** 14n) * 10n ** 14n
    if (size === 0n) return undefined
    if (rng.int(100) < 60) {
      const intrinsic = s.isCall ? (px > s.strike ? px - s.strike : 0n) : s.strike > px ? s.strike - px : 0n
      const perUnit = intrinsic + (px * (s.expiry - at)) / 31_536_000n / 10n
      const { equity, initial } = marginOf(acct, at)
      const room = equity - initial < bal ? equity - initial : bal
      while (size > 0n && (perUnit * size) / m.scale > room / 2n) size /= 2n
      if (size === 0n) return undefined
      return [tx(trader, optionsMarket, 'buy', [s.id, size], GAS.option, () => void counts.optionBuys++)]
    }
    const current = acct.opts.get(s.id) ?? 0n
    const ref = s.isCall ? px : s.strike
    while (size > 0n && (abs(current - size) * ref) / m.scale > bal / 2n) size /= 2n
    if (size === 0n) return undefined
    return [tx(trader, optionsMarket, 'write', [s.id, size], GAS.option, () => void counts.optionWrites++)]
  }

  function planDeposit(t: number, trader: Address): Tx[] {
    const i = rng.int(Math.min(2, d.assets.length))
    const token = d.assets[i]!.token
    if (!approved[t]![i] || wallet[t]![i]! === 0n) {
      // top up the wallet: the owner mints, the trader approves (independent senders)
      const amount = i === 0 ? BigInt(rng.range(1_000, 20_000)) * ONE : (BigInt(rng.range(5, 100)) * ONE) / 10n
      const out = [tx(owner, token, 'mint', [trader, amount], GAS.small, () => addWallet(t, i, amount))]
      if (!approved[t]![i]) out.push(tx(trader, token, 'approve', [exchange, (1n << 256n) - 1n], GAS.small, () => void (approved[t]![i] = true)))
      return out
    }
    const amount = (wallet[t]![i]! * BigInt(rng.range(20, 100))) / 100n
    if (amount === 0n) return []
    return [
      tx(trader, exchange, 'deposit', [token, amount], GAS.deposit, () => {
        addWallet(t, i, -amount)
        counts.deposits++
      }),
    ]
  }

  function planWithdraw(t: number, trader: Address, acct: Acct, at: bigint): Tx[] | undefined {
    const { equity, initial } = marginOf(acct, at)
    const free = equity - initial
    if (free <= 0n) return undefined
    const i = rng.int(Math.min(2, d.assets.length))
    const asset = d.assets[i]!
    const bal = acct.bal[i]!
    const share = (free * BigInt(rng.range(5, 50))) / 100n
    let amount = asset.feed === null ? (share * 10_000n) / BigInt(asset.haircutBps) : (share * feedScale.get(lc(asset.feed))! * 10_000n) / (price.get(lc(asset.feed))! * BigInt(asset.haircutBps))
    if (amount > bal) amount = bal
    amount = (amount / 10n ** 15n) * 10n ** 15n
    if (amount === 0n) return undefined
    return [
      tx(trader, exchange, 'withdraw', [asset.token, amount], GAS.deposit, () => {
        addWallet(t, i, amount)
        counts.withdrawals++
      }),
    ]
  }

  return (t, trader, acct, at) => {
    const r = rng.int(100)
    if (r < 52) return planTrade(t, trader, acct, at)
    if (r < 66) return planOption(trader, acct, at) ?? planTrade(t, trader, acct, at)
    if (r < 78) return planDeposit(t, trader)
    if (r < 90) return planWithdraw(t, trader, acct, at) ?? planTrade(t, trader, acct, at)
    if (r < 92) return [tx(trader, exchange, 'updateFunding', [rng.int(markets.length)], GAS.small, () => void counts.fundingUpdates++)]
    return planTrade(t, trader, acct, at)
  }
}
