import type { Address } from '../../protocol/operator-set.ts'

/** New alerts one signer may have validated, claim-checked and forwarded by this node: a burst of this many… */
export const ALERT_BURST = 64
/** …refilled at this many per minute (PROTOCOL.md §12.7). */
export const ALERTS_PER_MINUTE = 30

/**
 * A token bucket per signer: how much of this node's work (signature checks
 * already done, claim checks on the chain, forwarding) new alerts signed by
 * one operator may cost. Only signers already known to be in the
 * operator set reach it (the validator checks membership and the signature
 * first), so the map is bounded by the set; `maxSigners` is a backstop that
 * forgets the least recently seen signer. Wall clock: local policy, not
 * consensus.
 */
export class SignerBudget {
  private readonly burst: number
  private readonly perMs: number
  private readonly maxSigners: number
  private readonly now: () => number
  private readonly buckets = new Map<Address, { tokens: number; at: number }>()

  constructor(init: { burst?: number; perMinute?: number; maxSigners?: number; now?: () => number } = {}) {
    this.burst = init.burst ?? ALERT_BURST
    this.perMs = (init.perMinute ?? ALERTS_PER_MINUTE) / 60_000
    this.maxSigners = init.maxSigners ?? 1024
    this.now = init.now ?? Date.now
  }

  get size(): number {
    return this.buckets.size
  }

  /** Tokens `signer` has now (spends nothing). */
  tokens(signer: Address): number {
    const b = this.buckets.get(signer.toLowerCase() as Address)
    return b === undefined ? this.burst : Math.min(this.burst, b.tokens + (this.now() - b.at) * this.perMs)
  }

  /** Whether `signer` has a token left (spends nothing). */
  left(signer: Address): boolean {
    return this.tokens(signer) >= 1
  }

  /** Spend one token of `signer`'s budget; false when it has none left. */
  take(signer: Address): boolean {
    const s = signer.toLowerCase() as Address
    const now = this.now()
    const b = this.buckets.get(s) ?? { tokens: this.burst, at: now }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs)
    b.at = now
    // re-insert: the map's order is least recently seen first
    this.buckets.delete(s)
    this.buckets.set(s, b)
    while (this.buckets.size > this.maxSigners) this.buckets.delete(this.buckets.keys().next().value!)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
