import { loadavg } from 'node:os'
import { ChaosCluster, type ClusterOptions } from './cluster/cluster.ts'
import { checkSafety, type SafetyReport } from './safety/check.ts'

/** How a run is sized: the short version for `npm test`, the long one for `npm run chaos`. */
export interface RunOptions {
  short: boolean
  /** soak length (churn), default 3 */
  minutes?: number
  /** nodes in the cluster, default 7 */
  nodes?: number
  /** rpc-faults: share of the flaky endpoint's requests that fail (default 0.1) */
  rpcFaultRate?: number
  log?: (line: string) => void
}

export type Figures = Record<string, unknown>

/** One scenario's result: the JSON line `npm run chaos` prints and RESULTS.md is made of. */
export interface ScenarioResult {
  scenario: string
  ok: boolean
  ms: number
  figures: Figures
  safety?: SafetyReport
  /** why the run failed (an exception, a violated goal), when it did */
  failures: string[]
  at: string
  /** the machine's 1-minute load average when the scenario started and when it ended */
  loadAvg?: [number, number]
}

export interface Scenario {
  id: string
  title: string
  run(o: RunOptions): Promise<ScenarioResult>
}

/** Goals a scenario checks; each failed one is listed in the result (and fails the test). */
export class Goals {
  readonly failures: string[] = []
  expect(ok: boolean, what: string): void {
    if (!ok) this.failures.push(what)
  }
}

/**
 * Run a scenario body against a fresh cluster and always: stop the nodes, run the safety check over
 * their data directories, and tear everything down (also when the body throws).
 */
export async function withCluster(id: string, copts: Omit<ClusterOptions, 'name'>, o: RunOptions, body: (c: ChaosCluster, goals: Goals) => Promise<Figures>, safety: { byzantine?: string[]; dags?: boolean } = {}): Promise<ScenarioResult> {
  const t0 = Date.now()
  const load0 = loadavg()[0]!
  const goals = new Goals()
  let figures: Figures = {}
  let report: SafetyReport | undefined
  let c: ChaosCluster | undefined
  try {
    c = await ChaosCluster.start({ name: id, ...copts })
    o.log?.(`${id}: cluster of ${c.n} up in ${Date.now() - t0} ms`)
    figures = await body(c, goals)
    figures.bypassConnectionsReset = c.net.bypassKilled
    figures.bypassConnectionsOpen = await c.net.bypassing()
    if (c.net.enforcement !== 'on') figures.bypassEnforcement = c.net.enforcement
    await c.stopNodes()
    report = await checkSafety({ dataDirs: c.running.map((i) => c!.dataDirs[i]!), quorum: c.threshold, ...safety })
    for (const v of report.violations) goals.failures.push(`safety: ${v}`)
    for (const i of c.running) if (c.logs[i]!.fatal.length > 0) goals.failures.push(`node ${i} stopped on an error: ${c.logs[i]!.fatal[0]}`)
  } catch (err) {
    goals.failures.push(`error: ${(err as Error).stack ?? String(err)}`.slice(0, 2000))
  } finally {
    await c?.stop()
  }
  return { scenario: id, ok: goals.failures.length === 0, ms: Date.now() - t0, figures, ...(report === undefined ? {} : { safety: report }), failures: goals.failures, at: new Date().toISOString(), loadAvg: [round1(load0), round1(loadavg()[0]!)] }
}

const round1 = (x: number): number => Math.round(x * 10) / 10

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Poll until fn returns something truthy or the deadline passes (then undefined). */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T | undefined> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) return undefined
    await sleep(everyMs)
  }
}

export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/** A seeded generator of integers in [0, k) from the high bits of an LCG (its low bits repeat with a short period). */
export function rng(seed: number): (k: number) => number {
  let s = seed >>> 0
  return (k) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return Math.floor(((s >>> 8) / 2 ** 24) * k)
  }
}
