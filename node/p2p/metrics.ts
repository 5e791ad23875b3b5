import type { TopicKind } from '../../protocol/gossip/topics.ts'

export type ValidationAction = 'accept' | 'reject' | 'ignore'

/** One counter line: how many messages of one topic kind got one result with one code. */
export interface ValidationCount {
  kind: TopicKind
  action: ValidationAction
  code: string
  count: number
}

/**
 * Plain counters of gossip validation results per (topic kind, action, code).
 * Codes are bounded (protocol reject/ignore codes, `OK` for accepts,
 * `VALIDATOR_ERROR` for a validator that threw), so every key is a valid
 * metrics label set for the Prometheus registry that will read these.
 */
export class GossipMetrics {
  private readonly counts = new Map<string, ValidationCount>()

  inc(kind: TopicKind, action: ValidationAction, code: string): void {
    const key = `${kind}\u0000${action}\u0000${code}`
    const c = this.counts.get(key)
    if (c === undefined) this.counts.set(key, { kind, action, code, count: 1 })
    else c.count++
  }

  /** Count for one (kind, action, code); with `code` omitted, summed over codes. */
  get(kind: TopicKind, action: ValidationAction, code?: string): number {
    let n = 0
    for (const c of this.counts.values()) if (c.kind === kind && c.action === action && (code === undefined || c.code === code)) n += c.count
    return n
  }

  /** Every non-zero counter, sorted by kind, action, code. */
  snapshot(): ValidationCount[] {
    return [...this.counts.values()].map((c) => ({ ...c })).sort((a, b) => (a.kind + a.action + a.code < b.kind + b.action + b.code ? -1 : 1))
  }
}
