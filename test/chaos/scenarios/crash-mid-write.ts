import { truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { DagChecker, readStoredState } from '../safety/read-store.ts'
import { rng, sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

/**
 * Scenario 9: one node is SIGKILLed at random moments (while it derives, stores, signs and writes
 * certificates) and restarted on the same data directory, again and again (100 times in the full run);
 * every fifth time its last-checkpoint.json is also truncated between kill and restart (a torn write).
 * Figures: restarts, restarts that failed (the node refused to start), snapshots it signed whose DAG is
 * incomplete in its own blockstore, sign-log damage and double contents (the safety check).
 */
export const crashMidWrite: Scenario = {
  id: 'crash-mid-write',
  title: 'Crash mid-write',
  run(o) {
    const cycles = o.short ? 10 : 100
    const n = o.nodes ?? 7
    const victim = 1
    return withCluster('crash-mid-write', { operators: n }, o, async (c, goals) => {
      c.mine()
      await baseline(c, 1, 120_000)
      let refused = 0
      let truncated = 0
      const rnd = rng(9)
      for (let k = 0; k < cycles; k++) {
        // most kills land while the node is busy with a checkpoint: derivation, storage, signing
        await sleep(500 + rnd(4_000))
        await c.crash(victim)
        if (k % 5 === 4) {
          await truncate(join(c.dataDirs[victim]!, 'last-checkpoint.json'), rnd(20)).catch(() => {})
          truncated++
        }
        try {
          await c.startNode(victim)
        } catch (err) {
          refused++
          o.log?.(`crash-mid-write: node refused to start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
          if (refused > 3) break
        }
      }
      await sleep(10_000)
      await c.stopNodes()
      // every snapshot the victim signed must be whole in its own blockstore
      const s = await readStoredState(c.dataDirs[victim]!)
      const dag = new DagChecker(c.dataDirs[victim]!)
      let missing = 0
      // within its retention window: from its oldest certificate on (older snapshots are garbage-collected)
      const oldest = s.certificates.reduce((m, x) => (x.body.blockNumber < m ? x.body.blockNumber : m), BigInt(Number.MAX_SAFE_INTEGER))
      const signed = new Set(s.signLog.filter((e) => BigInt(e.checkpoint.split('/').at(-2) ?? '0') >= oldest).map((e) => e.content.split('/')[1]!))
      try {
        for (const cid of signed) if (!(await dag.isComplete(CID.parse(cid)))) missing++
      } finally {
        await dag.close()
      }
      goals.expect(refused === 0, `the node starts after every crash (${refused} refusals)`)
      goals.expect(missing === 0, `no signed snapshot with missing blocks (${missing} of ${signed.size})`)
      return { nodes: n, cycles, restarts: cycles - refused, refusedToStart: refused, truncatedLastCheckpoint: truncated, signedSnapshots: signed.size, signedWithMissingBlocks: missing, signLogDamagedLines: s.damagedSignLogLines }
    })
  },
}
