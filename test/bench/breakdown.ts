/**
 * Where a benchmark's time goes: named phases timed explicitly (wall ms) with
 * the garbage collector's pauses during each phase (perf_hooks 'gc' entries),
 * plus the whole run's GC total by kind and the event-loop delay. Written into
 * each benchmark's JSON as `breakdown`, so the next person sees hashing,
 * encoding, sorting, I/O and GC side by side without profiling first. For a
 * flame graph, run a case with `npm run bench -- NAME --profile DIR` (--cpu-prof).
 */
import { monitorEventLoopDelay, PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks'

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

export interface PhaseFigure {
  ms: number
  gcMs: number
}

export interface Breakdown {
  /** time `fn` as phase `name` (a repeated name adds up) */
  time<T>(name: string, fn: () => T): T
  timeAsync<T>(name: string, fn: () => Promise<T>): Promise<T>
  /** record a phase measured elsewhere (e.g. a split reported by the code under test) */
  add(name: string, ms: number): void
  /** phases in the order first seen, the GC totals by kind, event-loop delay; stops observing */
  finish(): { phases: Record<string, PhaseFigure>; gc: { ms: number; count: number; byKind: Record<string, number> }; eventLoopDelayMs: { p50: number; p99: number; max: number } }
}

const kindOf = (e: PerformanceEntry): string => GC_KINDS[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'

const r1 = (x: number): number => Math.round(x * 10) / 10

export function breakdown(): Breakdown {
  const gcs: { start: number; end: number; kind: string }[] = []
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind: kindOf(e) })
    }
  })
  obs.observe({ entryTypes: ['gc'] })
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const spans: { name: string; start: number; end: number }[] = []
  const order: string[] = []
  const extra = new Map<string, number>()
  const note = (name: string): void => {
    if (!order.includes(name)) order.push(name)
  }
  return {
    time(name, fn) {
      note(name)
      const start = performance.now()
      try {
        return fn()
      } finally {
        spans.push({ name, start, end: performance.now() })
      }
    },
    async timeAsync(name, fn) {
      note(name)
      const start = performance.now()
      try {
        return await fn()
      } finally {
        spans.push({ name, start, end: performance.now() })
      }
    },
    add(name, ms) {
      note(name)
      extra.set(name, (extra.get(name) ?? 0) + ms)
    },
    finish() {
      // entries are delivered asynchronously; take what has arrived (the last few ms of GC may be missed)
      for (const e of obs.takeRecords()) gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind: kindOf(e) })
      obs.disconnect()
      loop.disable()
      const phases: Record<string, PhaseFigure> = {}
      for (const name of order) {
        let ms = extra.get(name) ?? 0
        let gcMs = 0
        for (const s of spans) {
          if (s.name !== name) continue
          ms += s.end - s.start
          for (const g of gcs) gcMs += Math.max(0, Math.min(g.end, s.end) - Math.max(g.start, s.start))
        }
        phases[name] = { ms: r1(ms), gcMs: r1(gcMs) }
      }
      const byKind: Record<string, number> = {}
      let total = 0
      for (const g of gcs) {
        byKind[g.kind] = r1((byKind[g.kind] ?? 0) + g.end - g.start)
        total += g.end - g.start
      }
      const ns = (x: number): number => r1(x / 1e6)
      return { phases, gc: { ms: r1(total), count: gcs.length, byKind }, eventLoopDelayMs: { p50: ns(loop.percentile(50)), p99: ns(loop.percentile(99)), max: ns(loop.max) } }
    },
  }
}
