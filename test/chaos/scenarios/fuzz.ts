import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fuzzTarget, type TargetFigures } from '../fuzz/fuzz-bytes.ts'
import { fuzzHttp, httpFixture } from '../fuzz/fuzz-http.ts'
import { fuzzTargets } from '../fuzz/targets.ts'
import { Goals, type Scenario } from '../scenario.ts'

/** Per-case budget: no single input may hold the event loop longer than this. */
export const MAX_BLOCKING_MS = 100

/**
 * Scenario 11: fast-check over every gossip decoder and validator, the catch-up codec, the CAR
 * readers, the CBOR link walker and every HTTP route. Short: >= 10,000 cases; full: >= 1,000,000.
 * Figures: cases, refusals, crashes (a throw that is not the target's documented refusal, a 5xx,
 * an uncaught exception or unhandled rejection), the slowest case and the event loop's worst delay.
 */
export const fuzz: Scenario = {
  id: 'fuzz',
  title: 'Fuzzing',
  async run(o) {
    const t0 = Date.now()
    const goals = new Goals()
    const total = o.short ? 10_000 : 1_000_000
    const httpCases = o.short ? 1_000 : 25_000
    const seed = Number(process.env.ARK_CHAOS_SEED ?? 11)
    let uncaught = 0
    const onUncaught = (): void => void uncaught++
    process.on('uncaughtException', onUncaught)
    process.on('unhandledRejection', onUncaught)
    // the loop's delay is measured while inputs run, not while fixtures are built
    const h = monitorEventLoopDelay({ resolution: 10 })
    let loopMax = 0
    let loopP99 = 0
    const measured = async <T>(fn: () => Promise<T>): Promise<T> => {
      h.reset()
      h.enable()
      try {
        return await fn()
      } finally {
        h.disable()
        loopMax = Math.max(loopMax, h.max)
        loopP99 = Math.max(loopP99, h.percentile(99))
      }
    }
    const results: TargetFigures[] = []
    try {
      const targets = await fuzzTargets()
      const per = Math.ceil((total - httpCases) / targets.length)
      for (const t of targets) {
        results.push(await measured(() => fuzzTarget(t, per, seed)))
        o.log?.(`fuzz: ${t.name} ${JSON.stringify(results.at(-1))}`)
      }
      const fx = await httpFixture()
      results.push(await measured(() => fuzzHttp(fx, httpCases, seed)))
    } catch (err) {
      goals.failures.push(`error: ${(err as Error).stack ?? String(err)}`.slice(0, 2000))
    } finally {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUncaught)
    }
    const cases = results.reduce((a, r) => a + r.cases, 0)
    const crashes = results.reduce((a, r) => a + r.crashes, 0)
    const http = results.find((r) => r.target === 'http-routes')
    // HTTP cases are timed as round trips (not loop blocking): the loop-delay histogram covers them
    const slowest = results.filter((r) => r !== http).reduce((a, r) => (r.maxCaseMs > a.maxCaseMs ? r : a), { target: '-', maxCaseMs: 0 } as Pick<TargetFigures, 'target' | 'maxCaseMs'>)
    const loopMaxMs = Math.round(loopMax / 1e5) / 10
    goals.expect(cases >= total, `at least ${total} cases (ran ${cases})`)
    goals.expect(crashes === 0, `no crashes (${results.filter((r) => r.crashes > 0).map((r) => `${r.target}: ${r.crashes}, e.g. ${r.firstCrash?.error} on ${r.firstCrash?.input}`).join('; ')})`)
    goals.expect(uncaught === 0, `no uncaught exceptions (${uncaught})`)
    goals.expect(slowest.maxCaseMs <= MAX_BLOCKING_MS, `no input blocks the event loop over ${MAX_BLOCKING_MS} ms (${slowest.target}: ${slowest.maxCaseMs} ms)`)
    return {
      scenario: 'fuzz',
      ok: goals.failures.length === 0,
      ms: Date.now() - t0,
      figures: {
        cases,
        targets: results.length,
        crashes,
        uncaught,
        refused: results.reduce((a, r) => a + r.refused, 0),
        slowestCaseMs: slowest.maxCaseMs,
        slowestTarget: slowest.target,
        httpMaxRoundTripMs: http?.maxCaseMs ?? null,
        eventLoopMaxDelayMs: loopMaxMs,
        eventLoopP99DelayMs: Math.round(loopP99 / 1e5) / 10,
        untypedErrors: results.reduce((a, r) => a + (r.untyped ?? 0), 0),
        perTarget: Object.fromEntries(results.map((r) => [r.target, { cases: r.cases, refused: r.refused, crashes: r.crashes, untyped: r.untyped, maxCaseMs: r.maxCaseMs, firstSeenMaxMs: r.firstSeenMaxMs, ...(r.firstCrash === undefined ? {} : { firstCrash: r.firstCrash }), ...(r.firstUntyped === undefined ? {} : { firstUntyped: r.firstUntyped }) }])),
      },
      failures: goals.failures,
      at: new Date().toISOString(),
    }
  },
}
