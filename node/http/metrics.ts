import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * A small Prometheus registry: counters, gauges and histograms with fixed
 * label names, rendered in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Names are validated when a metric is registered and label sets when a
 * value is recorded, so a typo fails at the call site instead of producing a
 * scrape the server rejects. Label values are escaped; HELP text too.
 * Series print in label order, metrics in registration order, so the same
 * values always give the same text.
 */

export const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

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

/** Escape a label value: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Escape HELP text: backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Sample value as Prometheus parses it (Go ParseFloat): +Inf, -Inf, NaN, or a JS number literal. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return Object.is(v, -0) ? '0' : String(v)
}

abstract class Metric<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
  abstract readonly type: 'counter' | 'gauge' | 'histogram'

  constructor(opts: MetricOptions<L>, reserved: readonly string[]) {
    if (!METRIC_NAME.test(opts.name)) throw invalid(`metric name ${JSON.stringify(opts.name)} is not valid: use [a-zA-Z_:][a-zA-Z0-9_:]*`)
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

  /** Canonical key of a label set (also checks it names exactly the declared labels). */
  protected key(labels: Labels<L> | undefined): string {
    const given = labels === undefined ? [] : Object.keys(labels)
    if (given.length !== this.labelNames.length || given.some((k) => !(this.labelNames as readonly string[]).includes(k))) {
      throw invalid(`metric ${this.name} takes labels {${this.labelNames.join(', ')}}, got {${given.join(', ')}}`)
    }
    return this.labelNames.map((l) => String(labels![l])).join('\u0000')
  }

  protected labelText(key: string, extra?: [string, string]): string {
    const values = this.labelNames.length === 0 ? [] : key.split('\u0000')
    const parts = this.labelNames.map((l, i) => `${l}="${escapeLabelValue(values[i]!)}"`)
    if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`)
    return parts.length === 0 ? '' : `{${parts.join(',')}}`
  }

  header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`
  }

  abstract samples(): string

  /** Names this metric's samples use (for collision checks). */
  sampleNames(): string[] {
    return [this.name]
  }
}

function checkNumber(metric: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalid(`metric ${metric}: value must be a number, got ${String(v)}`)
}

export class Counter<L extends string = never> extends Metric<L> {
  readonly type = 'counter' as const
  private readonly values = new Map<string, number>()

  /** Add `by` (≥ 0, default 1). */
  inc(...args: [L] extends [never] ? [by?: number] : [labels: Labels<L>, by?: number]): void {
    const [labels, by] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number | undefined]
    const n = by ?? 1
    checkNumber(this.name, n)
    if (n < 0) throw invalid(`counter ${this.name} can only go up (inc by ${n})`)
    const k = this.key(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + n)
  }

  /** Mirror a count kept elsewhere (e.g. copied in a collector): value must be ≥ 0. */
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number]
    checkNumber(this.name, value)
    if (value < 0) throw invalid(`counter ${this.name} cannot be negative (${value})`)
    this.values.set(this.key(labels), value)
  }

  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.values.get(this.key(args[0] as Labels<L> | undefined)) ?? 0
  }

  samples(): string {
    if (this.values.size === 0 && this.labelNames.length === 0) return `${this.name} 0\n`
    let out = ''
    for (const k of [...this.values.keys()].sort()) out += `${this.name}${this.labelText(k)} ${formatValue(this.values.get(k)!)}\n`
    return out
  }
}

export class Gauge<L extends string = never> extends Metric<L> {
  readonly type = 'gauge' as const
  private readonly values = new Map<string, number>()

  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number]
    checkNumber(this.name, value)
    this.values.set(this.key(labels), value)
  }

  inc(...args: [L] extends [never] ? [by?: number] : [labels: Labels<L>, by?: number]): void {
    const [labels, by] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number | undefined]
    const n = by ?? 1
    checkNumber(this.name, n)
    const k = this.key(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + n)
  }

  dec(...args: [L] extends [never] ? [by?: number] : [labels: Labels<L>, by?: number]): void {
    const [labels, by] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number | undefined]
    const n = by ?? 1
    checkNumber(this.name, n)
    const k = this.key(labels)
    this.values.set(k, (this.values.get(k) ?? 0) - n)
  }

  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.values.get(this.key(args[0] as Labels<L> | undefined)) ?? 0
  }

  /** Drop every series (for gauges rebuilt from scratch in a collector). */
  reset(): void {
    this.values.clear()
  }

  samples(): string {
    if (this.values.size === 0 && this.labelNames.length === 0) return `${this.name} 0\n`
    let out = ''
    for (const k of [...this.values.keys()].sort()) out += `${this.name}${this.labelText(k)} ${formatValue(this.values.get(k)!)}\n`
    return out
  }
}

interface HistogramSeries {
  counts: number[]
  sum: number
  count: number
}

export class Histogram<L extends string = never> extends Metric<L> {
  readonly type = 'histogram' as const
  readonly buckets: readonly number[]
  private readonly series = new Map<string, HistogramSeries>()

  constructor(opts: HistogramOptions<L>) {
    super(opts, ['le'])
    const b = [...(opts.buckets ?? DEFAULT_BUCKETS)]
    if (b.length === 0) throw invalid(`histogram ${opts.name} needs at least one bucket`)
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]!)) throw invalid(`histogram ${opts.name}: bucket bounds must be finite (+Inf is implied), got ${b[i]}`)
      if (i > 0 && b[i]! <= b[i - 1]!) throw invalid(`histogram ${opts.name}: bucket bounds must be strictly increasing`)
    }
    this.buckets = Object.freeze(b)
  }

  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number]
    checkNumber(this.name, value)
    const k = this.key(labels)
    let s = this.series.get(k)
    if (s === undefined) this.series.set(k, (s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }))
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++
    s.sum += value
    s.count++
  }

  /** Start a timer; calling the returned function observes the elapsed seconds. */
  startTimer(...args: [L] extends [never] ? [] : [labels: Labels<L>]): () => number {
    const t0 = process.hrtime.bigint()
    return () => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9
      ;(this.observe as (...a: unknown[]) => void)(...(this.labelNames.length === 0 ? [s] : [args[0], s]))
      return s
    }
  }

  override sampleNames(): string[] {
    return [`${this.name}_bucket`, `${this.name}_sum`, `${this.name}_count`, this.name]
  }

  samples(): string {
    const keys = [...this.series.keys()].sort()
    if (keys.length === 0 && this.labelNames.length === 0) keys.push('')
    let out = ''
    for (const k of keys) {
      const s = this.series.get(k) ?? { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }
      for (let i = 0; i < this.buckets.length; i++) out += `${this.name}_bucket${this.labelText(k, ['le', formatValue(this.buckets[i]!)])} ${s.counts[i]}\n`
      out += `${this.name}_bucket${this.labelText(k, ['le', '+Inf'])} ${s.count}\n`
      out += `${this.name}_sum${this.labelText(k)} ${formatValue(s.sum)}\n`
      out += `${this.name}_count${this.labelText(k)} ${s.count}\n`
    }
    return out
  }
}

export class PromRegistry {
  private readonly metrics: Metric<string>[] = []
  private readonly names = new Set<string>()
  private readonly collectors: (() => void)[] = []

  private add<M extends Metric<string>>(m: M): M {
    for (const n of m.sampleNames()) {
      if (this.names.has(n)) throw invalid(`metric ${m.name} collides with an already registered metric (${n})`)
    }
    for (const n of m.sampleNames()) this.names.add(n)
    this.metrics.push(m)
    return m
  }

  counter<L extends string = never>(opts: MetricOptions<L>): Counter<L> {
    return this.add(new Counter<L>(opts, []))
  }

  gauge<L extends string = never>(opts: MetricOptions<L>): Gauge<L> {
    return this.add(new Gauge<L>(opts, []))
  }

  histogram<L extends string = never>(opts: HistogramOptions<L>): Histogram<L> {
    return this.add(new Histogram<L>(opts))
  }

  /** Run `fn` before every text() (to copy values kept elsewhere into gauges/counters). */
  addCollector(fn: () => void): void {
    this.collectors.push(fn)
  }

  /** The exposition text (format 0.0.4), ending with a newline. */
  text(): string {
    for (const c of this.collectors) c()
    let out = ''
    for (const m of this.metrics) out += m.header() + m.samples()
    return out
  }
}
