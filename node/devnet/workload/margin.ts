import type { ReferenceDeployment } from '../deploy.ts'
import type { Acct, MarketState } from './event-fold.ts'

export const ONE = 10n ** 18n
export const abs = (x: bigint): bigint => (x < 0n ? -x : x)

/** Prices the workload set, by lower-case feed address, and each feed's 10^decimals. */
export interface Prices {
  price: Map<string, bigint>
  feedScale: Map<string, bigint>
}

/** Margin arithmetic mirrored from PerpExchange._margin: equity with funding accrued to `at`, initial and maintenance requirements. */
export function margin(d: Pick<ReferenceDeployment, 'assets'>, markets: readonly MarketState[], p: Prices, a: Acct, at: bigint): { equity: bigint; initial: bigint; maintenance: bigint } {
  let equity = 0n
  let initial = 0n
  let maintenance = 0n
  for (const [i, asset] of d.assets.entries()) {
    const amount = a.bal[i]!
    if (amount === 0n) continue
    const feed = asset.feed?.toLowerCase()
    equity += feed === undefined ? (amount * BigInt(asset.haircutBps)) / 10_000n : (amount * p.price.get(feed)! * BigInt(asset.haircutBps)) / (p.feedScale.get(feed)! * 10_000n)
  }
  for (const [j, m] of markets.entries()) {
    const pos = a.pos[j]
    if (pos === undefined) continue
    const px = p.price.get(m.feed)!
    const index = m.index + m.rate * (at - m.last)
    equity += (pos.size * (px - pos.entryPrice)) / m.scale
    equity -= (pos.size * (index - pos.fundingIndex)) / ONE
    const notional = (abs(pos.size) * px) / m.scale
    initial += (notional * m.imr) / ONE
    maintenance += (notional * m.mmr) / ONE
  }
  return { equity, initial, maintenance }
}
