import type { LogLine } from './node-process.ts'

export interface Certified {
  at: number
  snapshot: string
  certificate: string
  from: string
}

/** What one node said in its log, by the lines the harness cares about (tolerant: unknown lines are ignored). */
export interface NodeLog {
  derived: Map<bigint, { at: number; snapshot: string }>
  certified: Map<bigint, Certified>
  noQuorum: { block: bigint; at: number; tally: unknown }[]
  divergences: number
  equivocations: number
  /** checkpoint attempts that failed and were retried, and checkpoints given up (the node's own words) */
  checkpointRetries: number
  checkpointsSkipped: number
  /** log lines (warn and above) that mention ENOSPC */
  enospc: number
  fatal: string[]
  errors: number
  /** recent error and warn messages, for reports */
  lastErrors: string[]
  /** why checkpoints failed: error message (numbers and URLs blanked) -> count */
  failureCauses: Map<string, number>
  /** checkpoints the node derived but did not sign: its doppelganger quiet period after a (re)start */
  quiet: Set<bigint>
}

export function newNodeLog(): NodeLog {
  return { derived: new Map(), certified: new Map(), noQuorum: [], divergences: 0, equivocations: 0, checkpointRetries: 0, checkpointsSkipped: 0, enospc: 0, fatal: [], errors: 0, lastErrors: [], failureCauses: new Map(), quiet: new Set() }
}

const big = (v: unknown): bigint | undefined => (typeof v === 'string' && /^[0-9]+$/.test(v) ? BigInt(v) : undefined)

/** Fold one pino JSON line into the node's log summary. */
export function observe(log: NodeLog, l: LogLine, now = Date.now()): void {
  const msg = typeof l.msg === 'string' ? l.msg : ''
  const block = big(l.block)
  if (msg === 'checkpoint derived' && block !== undefined) log.derived.set(block, { at: now, snapshot: String(l.root) })
  else if (msg === 'certified' && block !== undefined && !log.certified.has(block)) log.certified.set(block, { at: now, snapshot: String(l.snapshot), certificate: String(l.certificate), from: String(l.from) })
  else if (msg === 'no quorum within the timeout' && block !== undefined) log.noQuorum.push({ block, at: now, tally: l.tally })
  else if (msg === 'checkpoint failed; retrying') log.checkpointRetries++
  else if (msg.startsWith('checkpoint failed; skipped')) log.checkpointsSkipped++
  if (msg.startsWith('checkpoint failed')) {
    const cause = String((l.err as { message?: string } | undefined)?.message ?? '?').replace(/https?:\/\/\S+/g, 'URL').replace(/0x[0-9a-f]+/gi, '0x…').replace(/[0-9]+/g, 'N').slice(0, 90)
    log.failureCauses.set(cause, (log.failureCauses.get(cause) ?? 0) + 1)
  }
  else if (msg === 'doppelganger quiet period: not signing this checkpoint' && block !== undefined) log.quiet.add(block)
  else if (msg.startsWith('divergence')) log.divergences++
  else if (msg.startsWith('equivocation')) log.equivocations++
  else if (msg === 'archive node stopped on an error') log.fatal.push(JSON.stringify(l.err ?? null))
  if (typeof l.level === 'number' && l.level >= 40 && JSON.stringify(l).includes('ENOSPC')) log.enospc++
  if (typeof l.level === 'number' && l.level >= 50) {
    log.errors++
    log.lastErrors.push(`${msg} ${JSON.stringify((l.err as { message?: string } | undefined)?.message ?? '')}`.slice(0, 300))
    if (log.lastErrors.length > 10) log.lastErrors.shift()
  }
}
