import { percentile, sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'
import { certLatencies } from '../cluster/timeline.ts'


/**
 * Scenario 3: the same cluster clean, then with 200 ms ± 50 ms latency and 5% loss (a lost segment
 * costs a 200 ms retransmission) on every link. Figures: certificate latency p50/p95 in both phases.
 */
export const latencyLoss: Scenario = {
  id: 'latency-loss',
  title: 'Latency and loss',
  run(o) {
    const phaseMs = (o.short ? 40 : 180) * 1000
    return withCluster('latency-loss', { operators: o.nodes ?? 7 }, o, async (c, goals) => {
      c.mine()
      await baseline(c, 1, 120_000)
      const t0 = Date.now()
      await sleep(phaseMs)
      const t1 = Date.now()
      c.net.setAll({ latencyMs: 200, jitterMs: 50, loss: 0.05, lossPenaltyMs: 200 })
      await sleep(phaseMs)
      const t2 = Date.now()
      c.net.heal()
      await sleep(10_000)
      const clean = certLatencies(c, t0, t1)
      const faulty = certLatencies(c, t1, t2)
      goals.expect(faulty.length > 0, 'certificates still form with latency and loss on every link')
      return {
        nodes: c.n,
        phaseSeconds: phaseMs / 1000,
        link: '200 ms ± 50 ms, 5% loss',
        cleanCertLatencyMs: { p50: percentile(clean, 50), p95: percentile(clean, 95), n: clean.length },
        faultyCertLatencyMs: { p50: percentile(faulty, 50), p95: percentile(faulty, 95), n: faulty.length },
      }
    })
  },
}
