import { conditionKey, emergencyBlock, type SignedAlert } from '../../protocol/alert.ts'
import { signedWeight, type Address, type OperatorSet } from '../../protocol/operator-set.ts'

export type AlertPoolEvent =
  | { type: 'counted'; key: string; weight: bigint; evicted?: string }
  | { type: 'quorum'; key: string; weight: bigint; alerts: SignedAlert[]; evicted?: string }
  | { type: 'duplicate'; key: string }
  | { type: 'ignored'; key: string; reason: 'UNKNOWN_SIGNER' | 'TOO_OLD' }

/** Open (not yet quorum-confirmed) condition keys one signer may hold in the pool (PROTOCOL.md §12.7). */
export const MAX_OPEN_PER_SIGNER = 64

interface Entry {
  /** the emergency block the key names: sinceBlock − 1 */
  block: bigint
  sinceBlock: bigint
  signers: Map<Address, SignedAlert>
  quorum: boolean
}

/**
 * Alerts by condition key (inputs already validated). Each operator counts
 * once per key (its first alert); the first time the summed weight reaches
 * the threshold the pool emits `quorum` — once per key.
 *
 * Memory bound per signer, never global: a signer holds at most
 * `openPerSigner` keys that have not reached quorum; past that its own
 * oldest open alert makes room, so one signer's flood displaces only its own
 * alerts and never another operator's condition. Quorum-confirmed keys are
 * no one's quota (they are bounded by what a quorum raised). Everything
 * whose sinceBlock falls below the validity window is pruned (`prune`).
 */
export class AlertPool {
  private operators: OperatorSet
  private readonly openPerSigner: number
  private readonly byKey = new Map<string, Entry>()
  /** per signer, its open keys in arrival order (oldest first) */
  private readonly open = new Map<Address, Set<string>>()
  /** emergency block → how many keys name it */
  private readonly blocks = new Map<bigint, number>()
  /** sinceBlock below this is outside the validity window (set by `prune`) */
  private floor = 0n
  readonly stats = { evicted: 0, pruned: 0 }

  constructor(operators: OperatorSet, openPerSigner = MAX_OPEN_PER_SIGNER) {
    this.operators = operators
    this.openPerSigner = openPerSigner
  }

  /** A new operator set: signers that left it lose their open alerts (their weight no longer counts). */
  setOperators(set: OperatorSet): void {
    if (set === this.operators) return
    this.operators = set
    for (const s of [...this.open.keys()]) if (!set.weights.has(s)) for (const k of [...this.open.get(s)!]) this.drop(k, s)
  }

  seen(a: SignedAlert): boolean {
    return this.byKey.get(conditionKey(a.body))?.signers.has(a.signer.toLowerCase() as Address) === true
  }

  alerts(key: string): SignedAlert[] {
    return [...(this.byKey.get(key)?.signers.values() ?? [])]
  }

  weight(key: string): bigint {
    return signedWeight(this.operators, this.byKey.get(key)?.signers.keys() ?? [])
  }

  keys(): string[] {
    return [...this.byKey.keys()]
  }

  get size(): number {
    return this.byKey.size
  }

  /** Open keys a signer holds now. */
  openCount(signer: Address): number {
    return this.open.get(signer.toLowerCase() as Address)?.size ?? 0
  }

  hasQuorum(key: string): boolean {
    return this.byKey.get(key)?.quorum === true
  }

  /** True when an alert in the pool names this block as its emergency checkpoint (sinceBlock − 1). */
  namesEmergencyBlock(block: bigint): boolean {
    return this.blocks.has(block)
  }

  add(a: SignedAlert): AlertPoolEvent {
    const key = conditionKey(a.body)
    const signer = a.signer.toLowerCase() as Address
    if (!this.operators.weights.has(signer)) return { type: 'ignored', key, reason: 'UNKNOWN_SIGNER' }
    if (a.body.sinceBlock < this.floor) return { type: 'ignored', key, reason: 'TOO_OLD' }
    let e = this.byKey.get(key)
    if (e?.signers.has(signer) === true) return { type: 'duplicate', key }
    let evicted: string | undefined
    if (e?.quorum !== true) {
      const mine = this.open.get(signer) ?? new Set<string>()
      this.open.set(signer, mine)
      if (mine.size >= this.openPerSigner) {
        evicted = mine.values().next().value!
        this.drop(evicted, signer)
        this.stats.evicted++
        e = this.byKey.get(key)
      }
      mine.add(key)
    }
    if (e === undefined) {
      e = { block: emergencyBlock(a.body), sinceBlock: a.body.sinceBlock, signers: new Map(), quorum: false }
      this.byKey.set(key, e)
      this.blocks.set(e.block, (this.blocks.get(e.block) ?? 0) + 1)
    }
    e.signers.set(signer, a)
    const weight = signedWeight(this.operators, e.signers.keys())
    const more = evicted === undefined ? {} : { evicted }
    if (!e.quorum && weight >= this.operators.threshold) {
      e.quorum = true
      for (const s of e.signers.keys()) {
        const mine = this.open.get(s)
        mine?.delete(key)
        if (mine?.size === 0) this.open.delete(s)
      }
      return { type: 'quorum', key, weight, alerts: [...e.signers.values()], ...more }
    }
    return { type: 'counted', key, weight, ...more }
  }

  /** Forget every key whose sinceBlock is below `oldest` (the validity window moved past it). */
  prune(oldest: bigint): void {
    if (oldest <= this.floor) return
    this.floor = oldest
    for (const [key, e] of this.byKey) {
      if (e.sinceBlock >= oldest) continue
      for (const s of [...e.signers.keys()]) this.drop(key, s)
      this.stats.pruned++
    }
  }

  /** Remove one signer's alert from a key; the key goes when no alert is left. */
  private drop(key: string, signer: Address): void {
    const mine = this.open.get(signer)
    mine?.delete(key)
    if (mine?.size === 0) this.open.delete(signer)
    const e = this.byKey.get(key)
    if (e === undefined) return
    e.signers.delete(signer)
    if (e.signers.size > 0) return
    this.byKey.delete(key)
    const n = (this.blocks.get(e.block) ?? 1) - 1
    if (n === 0) this.blocks.delete(e.block)
    else this.blocks.set(e.block, n)
  }
}
