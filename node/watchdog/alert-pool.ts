import { conditionKey, type SignedAlert } from '../../protocol/alert.ts'
import { signedWeight, type Address, type OperatorSet } from '../../protocol/operator-set.ts'

export type AlertPoolEvent = { type: 'counted'; key: string; weight: bigint } | { type: 'quorum'; key: string; weight: bigint; alerts: SignedAlert[] } | { type: 'duplicate'; key: string } | { type: 'ignored'; key: string; reason: 'UNKNOWN_SIGNER' }

/**
 * Alerts by condition key (inputs already validated). Each operator counts
 * once per key (its first alert); the first time the summed weight reaches
 * the threshold the pool emits `quorum` — once per key. Memory bound: at
 * most `maxKeys` keys, oldest evicted first (an evicted key that reached
 * quorum is remembered so it never fires twice).
 */
export class AlertPool {
  private operators: OperatorSet
  private readonly maxKeys: number
  private readonly byKey = new Map<string, Map<Address, SignedAlert>>()
  private readonly fired = new Set<string>()

  constructor(operators: OperatorSet, maxKeys = 1024) {
    this.operators = operators
    this.maxKeys = maxKeys
  }

  setOperators(set: OperatorSet): void {
    this.operators = set
  }

  seen(a: SignedAlert): boolean {
    return this.byKey.get(conditionKey(a.body))?.has(a.signer.toLowerCase() as Address) === true
  }

  alerts(key: string): SignedAlert[] {
    return [...(this.byKey.get(key)?.values() ?? [])]
  }

  weight(key: string): bigint {
    return signedWeight(this.operators, this.byKey.get(key)?.keys() ?? [])
  }

  keys(): string[] {
    return [...this.byKey.keys()]
  }

  hasQuorum(key: string): boolean {
    return this.fired.has(key)
  }

  add(a: SignedAlert): AlertPoolEvent {
    const key = conditionKey(a.body)
    const signer = a.signer.toLowerCase() as Address
    if (!this.operators.weights.has(signer)) return { type: 'ignored', key, reason: 'UNKNOWN_SIGNER' }
    let m = this.byKey.get(key)
    if (m === undefined) {
      this.byKey.set(key, (m = new Map()))
      while (this.byKey.size > this.maxKeys) this.byKey.delete(this.byKey.keys().next().value!)
    }
    if (m.has(signer)) return { type: 'duplicate', key }
    m.set(signer, a)
    const weight = signedWeight(this.operators, m.keys())
    if (weight >= this.operators.threshold && !this.fired.has(key)) {
      this.fired.add(key)
      return { type: 'quorum', key, weight, alerts: [...m.values()] }
    }
    return { type: 'counted', key, weight }
  }
}
