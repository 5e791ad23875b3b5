import type { SignedAttestation } from '../../../protocol/attestation.ts'
import { GossipAdversary } from '../adversary/gossip-adversary.ts'
import type { ChaosCluster } from '../cluster/cluster.ts'
import { chaosOperator } from '../cluster/keys.ts'
import { dirBytes, procStats } from '../cluster/proc-stats.ts'
import { percentile, sleep, waitFor, withCluster, type Figures, type Goals, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'
import { certLatencies } from '../cluster/timeline.ts'


/**
 * Scenario 5: operators below a third of the weight (7 nodes: 2) flood the attestation topic at
 * >= 100 msg/s with valid-but-useless messages: signed attestations off the schedule, far ahead, and
 * equivocations (another content for every honest checkpoint, many times). Figures: honest
 * certificate latency p50/p95 against the same cluster's baseline (goal within 2x), node memory
 * and data-directory growth, evidence kept.
 */
export const byzantineFlood: Scenario = {
  id: 'byzantine-flood',
  title: 'Byzantine flood',
  run(o) {
    const n = o.nodes ?? 7
    const byz = Array.from({ length: Math.floor((n - 1) / 3) }, (_, k) => n - 1 - k)
    let adv: GossipAdversary | undefined
    return withCluster(
      'byzantine-flood',
      { operators: n, withoutProcess: byz },
      o,
      async (c, goals) => {
        try {
          return await flood(c, goals)
        } finally {
          await adv?.stop()
        }
      },
      { byzantine: byz.map(chaosOperator) },
    )

    async function flood(c: ChaosCluster, goals: Goals): Promise<Figures> {
      const phaseMs = (o.short ? 40 : 120) * 1000
      adv = await GossipAdversary.start(c, byz)
      await waitFor(() => adv!.peers() >= c.running.length, 30_000)
      c.mine()
      await baseline(c, 1, 120_000)
      const b0 = Date.now()
      // signing is the adversary's bottleneck (and shares the CPU): sign the flood during the baseline,
      // modelled on the newest honest attestation, then publish it at the flood's pace
      const template = await waitFor(() => adv!.heard.at(-1), 30_000)
      if (template === undefined) throw new Error('the adversary heard no honest attestation to model its flood on')
      const pool: SignedAttestation[] = []
      let k = 0
      const poolSize = Math.ceil((125 * phaseMs) / 1000)
      while (Date.now() - b0 < phaseMs && pool.length < poolSize) {
        const acc = adv.accounts[k % adv.accounts.length]!
        const kind = k % 3
        // off-schedule blocks just past the head, far-ahead blocks, and equivocations on an honest checkpoint
        const block = kind === 0 ? template.body.blockNumber + 1n + BigInt(k % 3) : kind === 1 ? template.body.blockNumber + 100_000n + BigInt(k) : template.body.blockNumber
        pool.push(await adv.sign(GossipAdversary.otherContent({ ...template.body, blockNumber: block }, `flood-${k}`), acc))
        k++
        if (k % 20 === 0) await new Promise((r) => setImmediate(r))
      }
      await sleep(Math.max(0, b0 + phaseMs - Date.now()))
      const b1 = Date.now()
      const rss0 = await Promise.all(c.running.map((i) => procStats(c.nodes[i]!.pid)))
      const disk0 = await Promise.all(c.running.map((i) => dirBytes(c.dataDirs[i]!)))
      let sent = 0
      const stopAt = Date.now() + phaseMs
      // 125 msg/s, until the pool is spent: each 40 ms tick sends what is due by the clock, so a tick
      // that ran late (the harness shares two cores with the nodes) is made up by the next one
      while (Date.now() < stopAt && sent < pool.length) {
        const tick = Date.now()
        const due = Math.min(pool.length, Math.floor(((tick - b1) * 125) / 1000) + 5)
        while (sent < due) void adv.publish(pool[sent++]!).catch(() => {})
        await sleep(Math.max(0, tick + 40 - Date.now()))
      }
      const f1 = Date.now()
      const floodSeconds = (f1 - b1) / 1000
      await sleep(10_000)
      const rss1 = await Promise.all(c.running.map((i) => procStats(c.nodes[i]!.pid)))
      const disk1 = await Promise.all(c.running.map((i) => dirBytes(c.dataDirs[i]!)))
      const base = certLatencies(c, b0, b1)
      const during = certLatencies(c, b1, f1)
      const p50b = percentile(base, 50)
      const p50f = percentile(during, 50)
      const rate = Math.round(sent / floodSeconds)
      goals.expect(rate >= 100, `flood at >= 100 msg/s (${rate})`)
      goals.expect(during.length > 0, 'honest checkpoints still certified during the flood')
      goals.expect(p50b !== null && p50f !== null && p50f <= 2 * p50b, `honest certificate latency within 2x of the baseline (p50 ${p50b} -> ${p50f} ms)`)
      return {
        nodes: n,
        byzantine: byz.length,
        floodMsgPerSec: rate,
        floodSeconds: Math.round(floodSeconds),
        sent,
        presigned: pool.length,
        certLatencyBaselineMs: { p50: p50b, p95: percentile(base, 95), n: base.length },
        certLatencyFloodMs: { p50: p50f, p95: percentile(during, 95), n: during.length },
        rssGrowthMiBMax: Math.max(...rss1.map((r, j) => (r?.rssMiB ?? 0) - (rss0[j]?.rssMiB ?? 0))),
        rssMiBEnd: rss1.map((r) => r?.rssMiB ?? null),
        dataDirGrowthKiBMax: Math.round(Math.max(...disk1.map((d, j) => d - disk0[j]!)) / 1024),
        equivocationsLogged: c.running.reduce((a, i) => a + c.logs[i]!.equivocations, 0),
      }
    }
  },
}
