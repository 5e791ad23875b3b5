import type { Logger } from 'pino'

export interface FetchLimits {
  deadlineMs: number
  concurrency: number
  maxQueued: number
}

export const FETCH_LIMITS: Readonly<FetchLimits> = Object.freeze({
  /** one snapshot fetch (a whole DAG over bitswap) is abandoned after this long */
  deadlineMs: 10 * 60_000,
  /** fetches running at once per lane */
  concurrency: 2,
  /** fetches waiting per lane; past it the new one is dropped (catch-up offers it again later) */
  maxQueued: 64,
})

/** Live certificates (gossip, our aggregation) and catch-up run in separate lanes: history never delays the current checkpoint. */
export type FetchLane = 'live' | 'catchup'

interface Job {
  key: string
  run: (signal: AbortSignal) => Promise<void>
}

class Lane {
  readonly queue: Job[] = []
  running = 0
}

/**
 * Snapshot fetches from bounded queues: every fetch gets a deadline (its
 * signal aborts), at most `concurrency` run per lane, at most `maxQueued`
 * wait per lane, one job per key at a time. A fetch that stalls holds one
 * slot until its deadline and never blocks the other lane.
 */
export class SnapshotFetches {
  private readonly limits: FetchLimits
  private readonly signal: AbortSignal
  private readonly log: Logger
  private readonly lanes: Record<FetchLane, Lane> = { live: new Lane(), catchup: new Lane() }
  private readonly pending = new Set<string>()
  readonly stats = { dropped: 0, timedOut: 0, failed: 0, done: 0 }

  constructor(init: { signal: AbortSignal; log: Logger; limits?: Partial<FetchLimits> }) {
    this.limits = { ...FETCH_LIMITS, ...init.limits }
    this.signal = init.signal
    this.log = init.log
  }

  /** Queue a fetch; false if dropped (lane full, already pending, or stopping). */
  enqueue(lane: FetchLane, key: string, run: (signal: AbortSignal) => Promise<void>): boolean {
    const l = this.lanes[lane]
    if (this.signal.aborted || this.pending.has(key)) return false
    if (l.queue.length >= this.limits.maxQueued) {
      this.stats.dropped++
      this.log.warn({ lane, key, queued: l.queue.length }, 'snapshot fetch queue full; dropped (catch-up will offer it again)')
      return false
    }
    this.pending.add(key)
    l.queue.push({ key, run })
    this.pump(lane)
    return true
  }

  get queued(): number {
    return this.lanes.live.queue.length + this.lanes.catchup.queue.length
  }

  get running(): number {
    return this.lanes.live.running + this.lanes.catchup.running
  }

  private pump(lane: FetchLane): void {
    const l = this.lanes[lane]
    while (l.running < this.limits.concurrency && l.queue.length > 0 && !this.signal.aborted) {
      const job = l.queue.shift()!
      l.running++
      this.runJob(job)
        .catch((err: unknown) => this.log.warn({ err, key: job.key }, 'snapshot fetch failed'))
        .finally(() => {
          l.running--
          this.pending.delete(job.key)
          this.pump(lane)
        })
    }
  }

  private async runJob(job: Job): Promise<void> {
    const deadline = AbortSignal.timeout(this.limits.deadlineMs)
    const signal = AbortSignal.any([this.signal, deadline])
    let onAbort: (() => void) | undefined
    // the slot frees at the deadline even if the fetch ignores its signal
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason as Error)
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    const run = job.run(signal)
    run.catch(() => {})
    try {
      await Promise.race([run, aborted])
      this.stats.done++
    } catch (err) {
      if (this.signal.aborted) return
      if (deadline.aborted) {
        this.stats.timedOut++
        this.log.warn({ key: job.key, deadlineMs: this.limits.deadlineMs }, 'snapshot fetch passed its deadline; abandoned')
        return
      }
      this.stats.failed++
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort!)
    }
  }
}
