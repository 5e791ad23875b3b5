import * as prom from 'prom-client'
import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * The node's Prometheus registry, on prom-client: counters, gauges and
 * histograms with fixed label names, rendered in the text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * A thin layer keeps the small interface callers use all over node/ (typed
 * label sets, `set` on counters mirrored from counts kept elsewhere, sync
 * `get`) and checks names when a metric is registered and label sets when a
 * value is recorded, so a typo throws an ArkError at the call site instead of
 * producing a scrape the server rejects. prom-client escapes label values and
 * HELP text. `prom` is the prom-client registry itself: default process
 * metrics and libp2p's metrics (@libp2p/prometheus-metrics) register there.
 */

export const PROM_CONTENT_TYPE = prom.Registry.PROMETHEUS_CONTENT_TYPE

/** Prometheus client default buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export type Labels<L extends string> = { readonly [K in L]: string | number | bigint | boolean }

export interface MetricOptions<L extends string> {
  name: string
  help: string
  labelNames?: readonly L[]
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** upper bounds, strictly increasing and finite; +Inf is added (default DEFAULT_BUCKETS) */
  buckets?: readonly number[]
}

function invalid(message: string): ArkError {
  return new ArkError('INVALID_INPUT', message)
}

type PromLabels = Record<string, string>
type Args<L extends string> = [L] extends [never] ? [value?: number] : [labels: Labels<L>, value?: number]

abstract class Metric<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]

  constructor(opts: MetricOptions<L>, reserved: readonly string[]) {
    if (!METRIC_NAME.test(opts.name)) throw invalid(`metric name ${JSON.stringify(opts.name)} is not valid: use [a-zA-Z_:][a-zA-Z0-9_:]*`)
    if (opts.help.trim() === '') throw invalid(`metric ${opts.name} needs HELP text (what it counts, in a sentence)`)
    const labelNames = [...(opts.labelNames ?? [])]
    const seen = new Set<string>()
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw invalid(`label name ${JSON.stringify(l)} of metric ${opts.name} is not valid: use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __`)
      if (reserved.includes(l)) throw invalid(`label name ${l} is reserved in metric ${opts.name}`)
      if (seen.has(l)) throw invalid(`label name ${l} appears twice in metric ${opts.name}`)
      seen.add(l)
    }
    this.name = opts.name
    this.help = opts.help
    this.labelNames = Object.freeze(labelNames)
  }

  /** The label set as prom-client takes it (strings, in declared order), after checking it names exactly the declared labels. */
  protected labels(labels: Labels<L> | undefined): PromLabels {
    const given = labels === undefined ? [] : Object.keys(labels)
    if (given.length !== this.labelNames.length || given.some((k) => !(this.labelNames as readonly string[]).includes(k))) {
      throw invalid(`metric ${this.name} takes labels {${this.labelNames.join(', ')}}, got {${given.join(', ')}}`)
    }
    const out: PromLabels = {}
    for (const l of this.labelNames) out[l] = String(labels![l])
    return out
  }

  /** Split (labels?, value?) call arguments. */
  protected split(args: unknown[]): { labels: PromLabels; key: string; value: number | undefined } {
    const [l, v] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number | undefined]
    const labels = this.labels(l)
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw invalid(`metric ${this.name}: value must be a number, got ${String(v)}`)
    return { labels, key: this.labelNames.map((n) => labels[n]).join('\u0000'), value: v }
  }
}

/** Counter and gauge keep a copy of each series' value so `get` stays synchronous. */
abstract class Valued<L extends string> extends Metric<L> {
  protected readonly values = new Map<string, number>()

  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.values.get(this.split(args).key) ?? 0
  }
}

export class Counter<L extends string = never> extends Valued<L> {
  private readonly c: prom.Counter<string>

  constructor(opts: MetricOptions<L>, registry: prom.Registry) {
    super(opts, [])
    this.c = new prom.Counter({ name: this.name, help: this.help, labelNames: [...this.labelNames], registers: [registry] })
  }

  /** Add `by` (≥ 0, default 1). */
  inc(...args: Args<L>): void {
    const { labels, key, value } = this.split(args)
    const n = value ?? 1
    if (n < 0) throw invalid(`counter ${this.name} can only go up (inc by ${n})`)
    this.c.inc(labels, n)
    this.values.set(key, (this.values.get(key) ?? 0) + n)
  }

  /** Mirror a count kept elsewhere (e.g. copied in a collector): value must be ≥ 0. */
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const { labels, key, value } = this.split(args)
    if (value === undefined || value < 0) throw invalid(`counter ${this.name} cannot be set to ${String(value)}`)
    if (this.labelNames.length === 0) this.c.reset()
    else this.c.remove(labels)
    this.c.inc(labels, value)
    this.values.set(key, value)
  }
}

export class Gauge<L extends string = never> extends Valued<L> {
  private readonly g: prom.Gauge<string>

  constructor(opts: MetricOptions<L>, registry: prom.Registry) {
    super(opts, [])
    this.g = new prom.Gauge({ name: this.name, help: this.help, labelNames: [...this.labelNames], registers: [registry] })
  }

  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const { labels, key, value } = this.split(args)
    if (value === undefined) throw invalid(`gauge ${this.name}: set needs a value`)
    this.g.set(labels, value)
    this.values.set(key, value)
  }

  inc(...args: Args<L>): void {
    const { labels, key, value } = this.split(args)
    const v = (this.values.get(key) ?? 0) + (value ?? 1)
    this.g.set(labels, v)
    this.values.set(key, v)
  }

  dec(...args: Args<L>): void {
    const { labels, key, value } = this.split(args)
    const v = (this.values.get(key) ?? 0) - (value ?? 1)
    this.g.set(labels, v)
    this.values.set(key, v)
  }

  /** Drop every series (for gauges rebuilt from scratch in a collector). */
  reset(): void {
    this.g.reset()
    this.values.clear()
  }
}

export class Histogram<L extends string = never> extends Metric<L> {
  readonly buckets: readonly number[]
  private readonly h: prom.Histogram<string>

  constructor(opts: HistogramOptions<L>, registry: prom.Registry) {
    super(opts, ['le'])
    const b = [...(opts.buckets ?? DEFAULT_BUCKETS)]
    if (b.length === 0) throw invalid(`histogram ${opts.name} needs at least one bucket`)
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]!)) throw invalid(`histogram ${opts.name}: bucket bounds must be finite (+Inf is implied), got ${b[i]}`)
      if (i > 0 && b[i]! <= b[i - 1]!) throw invalid(`histogram ${opts.name}: bucket bounds must be strictly increasing`)
    }
    this.buckets = Object.freeze(b)
    this.h = new prom.Histogram({ name: this.name, help: this.help, labelNames: [...this.labelNames], buckets: b, registers: [registry] })
  }

  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const { labels, value } = this.split(args)
    if (value === undefined) throw invalid(`histogram ${this.name}: observe needs a value`)
    this.h.observe(labels, value)
  }

  /** Start a timer; calling the returned function observes the elapsed seconds (and returns them). */
  startTimer(...args: [L] extends [never] ? [] : [labels: Labels<L>]): () => number {
    const labels = this.labels(args[0] as Labels<L> | undefined)
    const t0 = process.hrtime.bigint()
    return () => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9
      this.h.observe(labels, s)
      return s
    }
  }
}

export class PromRegistry {
  /** the prom-client registry (default metrics and libp2p's register here directly) */
  readonly prom = new prom.Registry()
  private readonly names = new Set<string>()
  private readonly collectors: (() => void | Promise<void>)[] = []

  /** Names are checked against ours and prom-client's (default and libp2p metrics) before prom-client sees them. */
  private add<M extends Metric<string>>(name: string, samples: string[], make: () => M): M {
    if (!METRIC_NAME.test(name)) throw invalid(`metric name ${JSON.stringify(name)} is not valid: use [a-zA-Z_:][a-zA-Z0-9_:]*`)
    for (const n of samples) {
      if (this.names.has(n) || this.prom.getSingleMetric(n) !== undefined) throw invalid(`metric ${name} collides with an already registered metric (${n})`)
    }
    const m = make()
    for (const n of samples) this.names.add(n)
    return m
  }

  counter<L extends string = never>(opts: MetricOptions<L>): Counter<L> {
    return this.add(opts.name, [opts.name], () => new Counter<L>(opts, this.prom))
  }

  gauge<L extends string = never>(opts: MetricOptions<L>): Gauge<L> {
    return this.add(opts.name, [opts.name], () => new Gauge<L>(opts, this.prom))
  }

  histogram<L extends string = never>(opts: HistogramOptions<L>): Histogram<L> {
    const samples = [`${opts.name}_bucket`, `${opts.name}_sum`, `${opts.name}_count`, opts.name]
    return this.add(opts.name, samples, () => new Histogram<L>(opts, this.prom))
  }

  /** Run `fn` before every scrape (to copy values kept elsewhere into gauges/counters). */
  addCollector(fn: () => void | Promise<void>): void {
    this.collectors.push(fn)
  }

  /**
   * Process metrics (CPU, resident memory, heap and heap spaces, GC durations, event-loop lag, open and
   * max file descriptors, active handles) under prom-client's standard names (`process_*`, `nodejs_*`).
   */
  collectDefaultMetrics(): void {
    prom.collectDefaultMetrics({ register: this.prom })
  }

  /** The exposition text (format 0.0.4), ending with a newline. */
  async text(): Promise<string> {
    for (const c of this.collectors) await c()
    // prom-client separates metric families with a blank line; the format allows it, the old output had none
    return (await this.prom.metrics()).replace(/\n\n+/g, '\n')
  }
}
