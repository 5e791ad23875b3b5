import { isEmergencyKind, type AlertKind } from '../../protocol/alert.ts'
import type { Address } from '../../protocol/operator-set.ts'

/** A condition as the node tracks it: raised when a monitor first finds it, cleared when a poll no longer does. */
export interface Condition {
  /** `kind/subject`: one condition per kind and subject at a time */
  id: string
  /** the monitor group that observes it (only a successful poll of that group can clear it) */
  group: string
  kind: AlertKind
  subject: Address
  sinceBlock: bigint
  /** observation block and values of the latest poll */
  block: bigint
  values: bigint[]
  message: string
  /** signed and gossiped (an emergency kind with an agreed start) */
  signed: boolean
  raisedAt: number
}

export interface ClearedCondition extends Condition {
  clearedAt: number
}

/**
 * Raise/clear bookkeeping, pure apart from its own memory. `update(group,
 * found)` replaces what one monitor group found in one successful poll:
 * new ids are raised, ids no longer found are cleared, and an emergency kind
 * whose start moved (a new round went stale) is cleared and raised again —
 * it is a different condition with a different key.
 */
export class ConditionTracker {
  readonly active = new Map<string, Condition>()
  readonly recent: ClearedCondition[] = []
  private readonly keepRecent: number

  constructor(keepRecent = 100) {
    this.keepRecent = keepRecent
  }

  update(group: string, found: Omit<Condition, 'id' | 'group' | 'raisedAt'>[], now: number): { raised: Condition[]; cleared: ClearedCondition[] } {
    const raised: Condition[] = []
    const cleared: ClearedCondition[] = []
    const seen = new Set<string>()
    for (const f of found) {
      const id = `${f.kind}/${f.subject.toLowerCase()}`
      if (seen.has(id)) continue
      seen.add(id)
      const had = this.active.get(id)
      if (had !== undefined && (had.sinceBlock === f.sinceBlock || !isEmergencyKind(f.kind))) {
        had.block = f.block
        had.values = f.values
        had.message = f.message
        continue
      }
      if (had !== undefined) cleared.push(this.clear(had, now))
      const c: Condition = { ...f, id, group, raisedAt: now }
      this.active.set(id, c)
      raised.push(c)
    }
    for (const c of [...this.active.values()]) if (c.group === group && !seen.has(c.id)) cleared.push(this.clear(c, now))
    return { raised, cleared }
  }

  private clear(c: Condition, now: number): ClearedCondition {
    this.active.delete(c.id)
    const done = { ...c, clearedAt: now }
    this.recent.push(done)
    if (this.recent.length > this.keepRecent) this.recent.shift()
    return done
  }
}
