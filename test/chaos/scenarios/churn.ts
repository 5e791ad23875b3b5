import type { ChaosCluster } from '../cluster/cluster.ts'
import { procStats } from '../cluster/proc-stats.ts'
import { rng, sleep, waitFor, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

type Fault = 'SIGKILL' | 'SIGSTOP' | 'disconnect'

/** Inflict one fault on node i for `ms`, then restore it (restart with the same data directory, SIGCONT, reconnect). */
async function churnOnce(c: ChaosCluster, i: number, fault: Fault, ms: number): Promise<void> {
  if (fault === 'SIGKILL') {
    await c.crash(i)
    await sleep(ms)
    await c.startNode(i)
  } else if (fault === 'SIGSTOP') {
    c.kill(i, 'SIGSTOP')
    await sleep(ms)
    c.kill(i, 'SIGCONT')
  } else {
    c.net.isolate(i)
    await sleep(ms)
    c.net.heal()
  }
}

/**
 * Scenario 4: churn soak. Every 30 s a random node is SIGKILLed (then restarted on its data
 * directory), SIGSTOPped (then continued) or cut off (then reconnected), for 5–15 s, one node at a
 * time: the next fault waits until the last node signs again (a restarted node first sits out its
 * doppelganger quiet period), up to 90 s.
 * Figures: share of the checkpoints certified among those scheduled while at least the threshold of
 * nodes could sign (up, connected, past the quiet period: the goal, 100%), share of all scheduled
 * checkpoints, faults inflicted, memory and open-file growth of the nodes that were never restarted.
 */
export const churn: Scenario = {
  id: 'churn',
  title: 'Churn soak',
  run(o) {
    const minutes = o.minutes ?? 3
    const everyMs = 30_000
    return withCluster('churn', { operators: o.nodes ?? 7 }, o, async (c, goals) => {
      c.mine()
      await baseline(c, 1, 120_000)
      const interval = BigInt(c.o.interval ?? 4)
      const start = await c.head()
      const firstPid = new Map(c.running.map((i) => [i, c.nodes[i]!.pid]))
      const before = new Map(await Promise.all(c.running.map(async (i) => [i, await procStats(c.nodes[i]!.pid)] as const)))
      const faults: Record<Fault, number> = { SIGKILL: 0, SIGSTOP: 0, disconnect: 0 }
      const end = Date.now() + minutes * 60_000
      const rnd = rng(4)
      const unable: { node: number; from: number; to: number }[] = []
      while (Date.now() + everyMs <= end) {
        const t = Date.now()
        const i = c.running[rnd(c.running.length)]!
        // the kinds in turn (a random pick gave a 3-minute run no SIGSTOP at all), the node at random
        const fault = (['SIGKILL', 'SIGSTOP', 'disconnect'] as const)[(faults.SIGKILL + faults.SIGSTOP + faults.disconnect) % 3]!
        faults[fault]++
        o.log?.(`churn: ${fault} node ${i}`)
        await churnOnce(c, i, fault, 5_000 + rnd(10_000))
        const restored = Date.now()
        // unable to sign from the fault until it derives a checkpoint it signs (not quiet) after the restore
        const back = await waitFor(() => [...c.logs[i]!.derived].find(([b, e]) => e.at > restored && !c.logs[i]!.quiet.has(b))?.[1].at, 90_000, 250)
        unable.push({ node: i, from: t, to: back ?? Infinity })
        await sleep(Math.max(0, t + everyMs - Date.now()))
      }
      const last = await c.head()
      // let the last checkpoints finish and the restored nodes catch up
      await sleep(15_000)
      const after = new Map(await Promise.all(c.running.map(async (i) => [i, await procStats(c.nodes[i]!.pid)] as const)))
      const scheduled: bigint[] = []
      for (let b = ((start / interval) + 1n) * interval; b <= last - interval; b += interval) scheduled.push(b)
      const anywhere = scheduled.filter((b) => c.running.some((i) => c.logs[i]!.certified.has(b)))
      // a checkpoint's moment: when the first node derived it (none did: it counts, as a miss)
      const able = (b: bigint): boolean => {
        const at = Math.min(...c.running.map((i) => c.logs[i]!.derived.get(b)?.at ?? Infinity))
        if (at === Infinity) return true
        const down = new Set(unable.filter((w) => w.from <= at && at <= w.to).map((w) => w.node))
        return c.running.length - down.size >= c.threshold
      }
      const eligible = scheduled.filter(able)
      const eligibleCertified = eligible.filter((b) => anywhere.includes(b))
      const everywhere = scheduled.filter((b) => c.running.every((i) => c.logs[i]!.certified.has(b)))
      const steady = c.running.filter((i) => c.nodes[i]!.pid === firstPid.get(i) && before.get(i) !== undefined && after.get(i) !== undefined)
      const rssGrowth = steady.map((i) => Math.round((after.get(i)!.rssMiB - before.get(i)!.rssMiB) * 10) / 10)
      const fdGrowth = steady.map((i) => after.get(i)!.fds - before.get(i)!.fds)
      const pct = (a: number, b: number): number | null => (b === 0 ? null : Math.round((a / b) * 1000) / 10)
      const share = pct(eligibleCertified.length, eligible.length)
      goals.expect(eligible.length > 0, 'checkpoints were scheduled while the threshold of nodes could sign')
      goals.expect(share === 100, `every checkpoint certified while more than 2/3 of the weight is up (${share}%: missing ${eligible.filter((b) => !anywhere.includes(b)).slice(0, 10).join(', ')})`)
      return {
        nodes: c.n,
        minutes,
        faults,
        checkpointsScheduled: scheduled.length,
        checkpointsWithThresholdUp: eligible.length,
        certifiedSharePct: share,
        certifiedShareOfAllPct: pct(anywhere.length, scheduled.length),
        notCertified: scheduled.filter((b) => !anywhere.includes(b)).slice(0, 20).map((b) => `${b}${able(b) ? '' : ' (threshold not up)'}`),
        unableWindowsS: unable.map((w) => `${w.node}:${c.since(w.from)}-${w.to === Infinity ? 'end' : c.since(w.to)}`),
        heldByEveryNodeSharePct: scheduled.length === 0 ? null : Math.round((everywhere.length / scheduled.length) * 1000) / 10,
        nodesNeverRestarted: steady.length,
        rssGrowthMiBMax: rssGrowth.length === 0 ? null : Math.max(...rssGrowth),
        openFilesGrowthMax: fdGrowth.length === 0 ? null : Math.max(...fdGrowth),
        rssMiBEnd: c.running.map((i) => after.get(i)?.rssMiB ?? null),
      }
    })
  },
}
