import { execFileSync, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { blockNumber } from '../support/chain.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'
import { watchdogOptions } from '../support/watchdog.ts'

/**
 * deploy/prometheus/alerts.yml passes promtool, and every metric the alerts and deploy/grafana/ark.json use
 * exists on a real node's /metrics (one node on anvil, with a watchdog so its series are there too).
 */

const ALERTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url))
const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/ark.json', import.meta.url))
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0
/** Series Prometheus makes itself (not on any /metrics). */
const SYNTHETIC = new Set(['up'])
const METRIC = /\b(?:up|(?:ark|nodejs|process|libp2p|helia)_[a-zA-Z0-9_:]*)\b/g

/** Metric names in the rules' `expr` (annotations and comments left out: they quote series as examples). */
async function alertMetrics(): Promise<Set<string>> {
  const text = await readFile(ALERTS, 'utf8')
  const exprLines = text.split('\n').filter((l) => !/^\s*(#|summary:|description:)/.test(l))
  return new Set(exprLines.join('\n').match(METRIC) ?? [])
}

async function dashboardMetrics(): Promise<Set<string>> {
  const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } }
  const exprs = [...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.templating.list.map((v) => JSON.stringify(v.query ?? ''))]
  expect(exprs.length).toBeGreaterThan(20)
  return new Set(exprs.join('\n').match(METRIC) ?? [])
}

/** Families on a scrape: `# TYPE name type`; a histogram's _bucket/_sum/_count samples count as its name too. */
function families(text: string): Set<string> {
  const out = new Set<string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    out.add(m[1]!)
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) out.add(m[1]! + s)
  }
  return out
}

describe('alert rules', () => {
  it.skipIf(!PROMTOOL)('promtool check rules deploy/prometheus/alerts.yml', () => {
    const out = execFileSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' })
    expect(out).toMatch(/SUCCESS: \d+ rules found/)
  })
  if (!PROMTOOL) console.warn('promtool is not installed (Debian package "prometheus"; .ci/run installs it): the alert rule check is skipped')
})

describe('metrics of a running node', () => {
  let fx: ArchiveFixture
  let node: ArchiveNode
  let scrape: string

  beforeAll(async () => {
    fx = await archiveFixture({ name: 'observability', seed: 14, traders: 4, steps: 12 })
    const configs = await writeClusterConfigs(fx.dir, fx.chain, 1, { firstBlock: await blockNumber(fx.chain), interval: 4 })
    configs[0]!.watchdog = { options: watchdogOptions({ pollMs: 500 }), secretFiles: [] }
    node = await fx.start(configs[0]!)
    fx.mine({ seed: 140, traders: 4, steps: 6, sameTraders: true, pauseMs: 300 })
    // a derived and certified checkpoint (one operator: its own quorum), so every series has samples
    await until('a certificate', () => node.certificates.latest() !== undefined, 90_000)
    scrape = await (await fetch(`${node.httpUrl!}/metrics`)).text()
  }, 150_000)

  afterAll(async () => {
    await fx?.stop()
  })

  it('every metric the dashboard and the alerts use is on /metrics', async () => {
    const have = families(scrape)
    const used = new Set([...(await alertMetrics()), ...(await dashboardMetrics())])
    const missing = [...used].filter((m) => !SYNTHETIC.has(m) && !have.has(m))
    expect(missing).toEqual([])
    expect(used.size).toBeGreaterThan(20)
  })

  it('process, build, RPC (host only), derivation, certification, disk and libp2p series', () => {
    const rpc = [...scrape.matchAll(/^ark_rpc_requests_total\{([^}]*)\} (\d+)$/gm)]
    expect(rpc.length).toBeGreaterThan(0)
    for (const [, labels] of rpc) expect(labels).toMatch(/endpoint="http:\/\/127\.0\.0\.1:\d+",method="eth_[A-Za-z]+",outcome="[A-Z_a-z]+"/)
    expect(scrape).toMatch(/^ark_build_info\{version="\d+\.\d+\.\d+[^"]*",commit="[0-9a-f]*"\} 1$/m)
    expect(scrape).toMatch(/^ark_derive_seconds_count [1-9]\d*$/m)
    expect(scrape).toMatch(/^ark_quorum_latency_seconds_count [1-9]\d*$/m)
    expect(scrape).toMatch(/^ark_disk_total_bytes [1-9]/m)
    expect(scrape).toMatch(/^ark_disk_available_bytes [1-9]/m)
    for (const name of ['process_cpu_seconds_total', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'nodejs_eventloop_lag_p99_seconds', 'libp2p_data_transfer_bytes_total']) {
      expect(scrape).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
  })

  it('/readyz answers 200 once caught up; /v1/status carries the version', async () => {
    await until('ready', async () => (await fetch(`${node.httpUrl!}/readyz`)).status === 200, 30_000)
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    const status = (await (await fetch(`${node.httpUrl!}/v1/status`)).json()) as { version: string }
    expect(status.version).toBe(pkg.version)
    // the data dir is walked in the background at the first scrape: it shows on a later one
    await until('data dir size', async () => /^ark_data_dir_bytes [1-9]/m.test(await (await fetch(`${node.httpUrl!}/metrics`)).text()), 10_000)
  })
})
