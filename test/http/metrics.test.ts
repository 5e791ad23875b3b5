import { describe, expect, it } from 'vitest'
import { ArkError } from '../../snapshot/ark-error.ts'
import { PromRegistry } from '../../node/http/metrics.ts'

/** Every line of a 0.0.4 exposition is a comment or `name{labels} value`. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|[+-]Inf|NaN|Nan)$/

function checkFormat(text: string): void {
  expect(text.endsWith('\n')).toBe(true)
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
    expect(line).toMatch(SAMPLE)
  }
}

describe('PromRegistry', () => {
  it('renders counters, gauges and histograms with labels in the 0.0.4 text format', async () => {
    const r = new PromRegistry()
    const c = r.counter({ name: 'ark_gossip_validations_total', help: 'Gossip validation results.', labelNames: ['kind', 'action'] })
    const g = r.gauge({ name: 'ark_peers', help: 'Connected peers.' })
    const h = r.histogram({ name: 'ark_derive_seconds', help: 'Derivation time.', labelNames: ['adapter'], buckets: [0.5, 1, 5] })
    c.inc({ kind: 'attestation', action: 'accept' })
    c.inc({ kind: 'attestation', action: 'accept' }, 2)
    c.inc({ kind: 'attestation', action: 'reject' })
    g.set(7)
    g.dec()
    h.observe({ adapter: 'perp' }, 0.25)
    h.observe({ adapter: 'perp' }, 3)
    h.observe({ adapter: 'perp' }, 10)
    const text = await r.text()
    expect(text).toBe(
      [
        '# HELP ark_gossip_validations_total Gossip validation results.',
        '# TYPE ark_gossip_validations_total counter',
        'ark_gossip_validations_total{kind="attestation",action="accept"} 3',
        'ark_gossip_validations_total{kind="attestation",action="reject"} 1',
        '# HELP ark_peers Connected peers.',
        '# TYPE ark_peers gauge',
        'ark_peers 6',
        '# HELP ark_derive_seconds Derivation time.',
        '# TYPE ark_derive_seconds histogram',
        'ark_derive_seconds_bucket{le="0.5",adapter="perp"} 1',
        'ark_derive_seconds_bucket{le="1",adapter="perp"} 1',
        'ark_derive_seconds_bucket{le="5",adapter="perp"} 2',
        'ark_derive_seconds_bucket{le="+Inf",adapter="perp"} 3',
        'ark_derive_seconds_sum{adapter="perp"} 13.25',
        'ark_derive_seconds_count{adapter="perp"} 3',
        '',
      ].join('\n'),
    )
    checkFormat(text)
  })

  it('escapes label values and help text', async () => {
    const r = new PromRegistry()
    const c = r.counter({ name: 'x_total', help: 'back\\slash and\nnewline', labelNames: ['v'] })
    c.inc({ v: 'a"b\\c\nd' })
    const text = await r.text()
    expect(text).toContain('# HELP x_total back\\\\slash and\\nnewline\n')
    expect(text).toContain('x_total{v="a\\"b\\\\c\\nd"} 1\n')
    checkFormat(text)
  })

  it('prints unlabelled metrics with no samples as 0, special values as Prometheus reads them', async () => {
    const r = new PromRegistry()
    r.counter({ name: 'a_total', help: 'a' })
    r.histogram({ name: 'lat', help: 'l', buckets: [1] })
    const g = r.gauge({ name: 'g', help: 'g', labelNames: ['k'] })
    g.set({ k: 'inf' }, Infinity)
    g.set({ k: 'neg' }, -Infinity)
    const text = await r.text()
    expect(text).toContain('a_total 0\n')
    expect(text).toContain('lat_bucket{le="1"} 0\nlat_bucket{le="+Inf"} 0\nlat_sum 0\nlat_count 0\n')
    expect(text).toContain('g{k="inf"} +Inf\ng{k="neg"} -Inf\n')
    checkFormat(text)
  })

  it('collectors run before every scrape', async () => {
    const r = new PromRegistry()
    const c = r.counter({ name: 'mirrored_total', help: 'kept elsewhere', labelNames: ['code'] })
    let external = 5
    r.addCollector(() => c.set({ code: 'OK' }, external))
    expect(await r.text()).toContain('mirrored_total{code="OK"} 5\n')
    external = 9
    expect(await r.text()).toContain('mirrored_total{code="OK"} 9\n')
  })

  it('rejects invalid names, reserved and duplicate labels, wrong label sets, collisions, bad values', async () => {
    const r = new PromRegistry()
    const bad = (f: () => unknown): void => expect(f).toThrow(ArkError)
    bad(() => r.counter({ name: '1abc', help: 'h' }))
    bad(() => r.counter({ name: 'no_help_total', help: ' ' }))
    bad(() => r.counter({ name: 'a-b', help: 'h' }))
    bad(() => r.gauge({ name: 'ok', help: 'h', labelNames: ['bad-label'] }))
    bad(() => r.gauge({ name: 'ok2', help: 'h', labelNames: ['__reserved'] }))
    bad(() => r.gauge({ name: 'ok3', help: 'h', labelNames: ['a', 'a'] }))
    bad(() => r.histogram({ name: 'h', help: 'h', labelNames: ['le'] }))
    bad(() => r.histogram({ name: 'h2', help: 'h', buckets: [2, 1] }))
    bad(() => r.histogram({ name: 'h3', help: 'h', buckets: [1, Infinity] }))
    const c = r.counter({ name: 'c_total', help: 'h', labelNames: ['a'] })
    bad(() => r.gauge({ name: 'c_total', help: 'h' }))
    r.histogram({ name: 'req', help: 'h' })
    bad(() => r.counter({ name: 'req_count', help: 'h' }))
    bad(() => c.inc({ a: 'x' }, -1))
    bad(() => c.inc({ a: 'x' }, NaN))
    bad(() => (c.inc as (l: unknown) => void)({ b: 'x' }))
    bad(() => (c.inc as (l: unknown) => void)({ a: 'x', b: 'y' }))
    bad(() => (c.inc as (l?: unknown) => void)())
    expect(() => r.counter({ name: 'ns:sub_total', help: 'h' })).not.toThrow()
  })

  it('default process metrics: CPU, memory, heap, GC, event-loop lag, file descriptors; their names cannot be taken', async () => {
    const r = new PromRegistry()
    r.collectDefaultMetrics()
    const text = await r.text()
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_open_fds', 'process_max_fds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    checkFormat(text)
    expect(() => r.counter({ name: 'process_cpu_seconds_total', help: 'h' })).toThrow(ArkError)
  })
})
