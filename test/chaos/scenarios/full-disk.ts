import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { readStoredState } from '../safety/read-store.ts'
import { fillDisk, freeDisk, mountTmpfs, unmount } from '../storage/tmpfs.ts'
import { sleep, waitFor, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

/** The node's own count of failed checkpoint attempts, from /metrics. */
async function failures(httpUrl: string): Promise<number | null> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text().catch(() => '')
  const m = /ark_node_events_total\{event="checkpointFailures"\} (\d+)/.exec(text)
  return m === null ? null : Number(m[1])
}

/**
 * Scenario 10: one node's data directory is a small tmpfs, filled to ENOSPC while the cluster runs,
 * then freed. Figures: the node's log lines naming ENOSPC and its checkpoint-failure metric while
 * full, whether it kept running, torn files (the safety check reads every certificate and sign-log
 * line), and the time from freeing space to its next signature. Skipped where tmpfs cannot be mounted.
 */
export const fullDisk: Scenario = {
  id: 'full-disk',
  title: 'Full disk',
  async run(o) {
    const n = o.nodes ?? 7
    const victim = n - 1
    const mounts: string[] = []
    let skipped: string | undefined
    try {
      const r = await withCluster(
        'full-disk',
        {
          operators: n,
          dataDir: async (i, root) => {
            const dir = join(root, `node${i}`)
            if (i !== victim) return dir
            const m = await mountTmpfs(dir, 64)
            if (m.ok) mounts.push(dir)
            else skipped = m.reason
            return dir
          },
        },
        o,
        async (c, goals) => {
          if (skipped !== undefined) return { skipped }
          c.mine()
          await baseline(c, 1, 120_000)
          const node = c.nodes[victim]!
          const dir = c.dataDirs[victim]!
          const before = await failures(node.httpUrl)
          const fill = await fillDisk(dir)
          o.log?.(`full-disk: node ${victim} data dir full (${fill.bytes} filler bytes)`)
          const fullMs = (o.short ? 25 : 90) * 1000
          await sleep(fullMs)
          const during = await failures(node.httpUrl)
          const signedBeforeFree = (await readStoredState(dir)).signLog.length
          const aliveWhileFull = c.isUp(victim)
          await freeDisk(fill.file)
          const tFree = Date.now()
          const again = await waitFor(async () => ((await readStoredState(dir)).signLog.length > signedBeforeFree ? Date.now() : undefined), 90_000, 500)
          goals.expect(aliveWhileFull, 'the node keeps running at ENOSPC')
          goals.expect(c.logs[victim]!.enospc > 0, 'a log line names ENOSPC')
          goals.expect(again !== undefined, 'the node signs again once space returns')
          return {
            nodes: n,
            tmpfsMiB: 64,
            fullSeconds: fullMs / 1000,
            enospcLogLines: c.logs[victim]!.enospc,
            checkpointFailuresMetricDelta: before === null || during === null ? null : during - before,
            aliveWhileFull,
            fatal: c.logs[victim]!.fatal.length,
            signAgainAfterFreeMs: again === undefined ? null : again - tFree,
          }
        },
      )
      return r
    } finally {
      for (const m of mounts) {
        await unmount(m)
        // the cluster could not remove its directory while the tmpfs was mounted in it
        if (process.env.ARK_CHAOS_KEEP === undefined) await rm(dirname(m), { recursive: true, force: true })
      }
    }
  },
}
