import { contentKey } from '../../../protocol/attestation.ts'
import { GossipAdversary } from '../adversary/gossip-adversary.ts'
import { chaosOperator } from '../cluster/keys.ts'
import type { ChaosCluster } from '../cluster/cluster.ts'
import { sleep, waitFor, withCluster, type Figures, type Goals, type Scenario } from '../scenario.ts'

/**
 * Scenario 6: operators holding at least a third of the weight (7 nodes: 3) sign a different content
 * for every checkpoint the honest nodes attest. Neither content may be certified; the honest nodes
 * report the split (no quorum, a tally with two contents).
 */
export const byzantineThird: Scenario = {
  id: 'byzantine-third',
  title: 'Byzantine third',
  run(o) {
    const n = o.nodes ?? 7
    const threshold = Math.floor((2 * n) / 3) + 1
    const byz = Array.from({ length: n - threshold + 1 }, (_, k) => threshold - 1 + k)
    let adv: GossipAdversary | undefined
    const attacked = new Map<bigint, string>()
    return withCluster(
      'byzantine-third',
      { operators: n, withoutProcess: byz, quorumTimeoutMs: 6_000 },
      o,
      async (c, goals) => {
        try {
          return await attack(c, goals)
        } finally {
          await adv?.stop()
        }
      },
      { byzantine: byz.map(chaosOperator) },
    )
    async function attack(c: ChaosCluster, goals: Goals): Promise<Figures> {
        const honest = c.running
        adv = await GossipAdversary.start(c, byz)
        await waitFor(() => adv!.peers() >= honest.length, 30_000)
        adv.onAttestation((a) => {
          if (a.body.kind !== 0 || attacked.has(a.body.blockNumber)) return
          const other = GossipAdversary.otherContent(a.body, 'third')
          attacked.set(a.body.blockNumber, contentKey(other))
          void (async () => {
            for (const acc of adv!.accounts) await adv!.publish(await adv!.sign(other, acc))
          })().catch(() => {})
        })
        c.mine()
        const runMs = (o.short ? 30 : 120) * 1000
        await sleep(runMs)
        // the quorum timeout of the last attacked checkpoints
        await sleep(7_000)
        const certified = new Set(honest.flatMap((i) => [...c.logs[i]!.certified.keys()]))
        const certifiedAttacked = [...attacked.keys()].filter((b) => certified.has(b))
        const reports = honest.map((i) => c.logs[i]!.noQuorum.filter((q) => Array.isArray(q.tally) && q.tally.length >= 2).length)
        const reported = reports.filter((r) => r > 0).length
        goals.expect(attacked.size > 0, 'the byzantine operators attacked at least one checkpoint')
        goals.expect(certifiedAttacked.length === 0, `no certificate for an attacked checkpoint (got ${certifiedAttacked.join(', ')})`)
        goals.expect(reported === honest.length, `every honest node reports the split (${reported} of ${honest.length})`)
        return {
          nodes: n,
          byzantine: byz.length,
          threshold,
          seconds: runMs / 1000,
          checkpointsAttacked: attacked.size,
          byzantineAttestations: adv.published,
          certificatesForAttackedCheckpoints: certifiedAttacked.length,
          honestNodesReportingSplit: reported,
          splitReportsPerNode: reports,
        }
    }
  },
}
