import { sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

/**
 * Not one of issue 11's twelve: found by the churn soak (certified snapshots, signed by every node,
 * whole on one node only, once a node held more than retention.keepLast certificates). A clean
 * cluster with a small keepLast, no fault at all: the safety check says whether retention's garbage
 * collection removes blocks that a newer certified snapshot still needs.
 */
export const retentionRace: Scenario = {
  id: 'retention-race',
  title: 'Retention under a running cluster',
  run(o) {
    return withCluster('retention-race', { operators: o.nodes ?? 7, retention: { keepLast: 4, keepEvery: 1000 } }, o, async (c) => {
      c.mine()
      await baseline(c, 1, 120_000)
      await sleep((o.short ? 60 : 180) * 1000)
      return { nodes: c.n, keepLast: 4, certifiedPerNode: c.running.map((i) => c.logs[i]!.certified.size) }
    })
  },
}
