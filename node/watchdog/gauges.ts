import type { Condition } from './conditions.ts'

/** Cleared conditions whose `0` series stays in /metrics (so a scrape sees the drop); older ones are forgotten. */
export const MAX_CLEARED_GAUGES = 256

export interface ConditionGauge {
  kind: string
  subject: string
  value: number
}

/**
 * The per-condition Prometheus series (`ark_watchdog_condition_active`):
 * 1 while raised, 0 once cleared. Subjects include accounts, so the cleared
 * series are bounded: the newest MAX_CLEARED_GAUGES stay, older ones drop
 * out (the collector rebuilds the gauge from this map on every scrape).
 */
export class ConditionGauges {
  private readonly series = new Map<string, ConditionGauge>()
  private readonly maxCleared: number
  private cleared = 0

  constructor(maxCleared = MAX_CLEARED_GAUGES) {
    this.maxCleared = maxCleared
  }

  get size(): number {
    return this.series.size
  }

  values(): IterableIterator<ConditionGauge> {
    return this.series.values()
  }

  get(id: string): ConditionGauge | undefined {
    return this.series.get(id)
  }

  raise(c: Pick<Condition, 'id' | 'kind' | 'subject'>): void {
    this.remove(c.id)
    this.series.set(c.id, { kind: c.kind, subject: c.subject, value: 1 })
  }

  clear(c: Pick<Condition, 'id' | 'kind' | 'subject'>): void {
    this.remove(c.id)
    this.series.set(c.id, { kind: c.kind, subject: c.subject, value: 0 })
    this.cleared++
    // the map keeps insertion order: the first cleared series found is the oldest
    for (const [id, g] of this.series) {
      if (this.cleared <= this.maxCleared) break
      if (g.value === 0) this.remove(id)
    }
  }

  private remove(id: string): void {
    if (this.series.get(id)?.value === 0) this.cleared--
    this.series.delete(id)
  }
}
