import type { ChaosCluster } from '../cluster/cluster.ts'
import { sleep, waitFor, withCluster, type RunOptions, type ScenarioResult } from '../scenario.ts'

/** Checkpoints certified by node i for blocks in (after, upTo], certified before `before`. */
function certifiedIn(c: ChaosCluster, i: number, after: bigint, upTo: bigint, before = Infinity): bigint[] {
  return [...c.logs[i]!.certified].filter(([b, e]) => b > after && b <= upTo && e.at < before).map(([b]) => b)
}

/** Wait until every node holds at least `k` certificates; resolves with when that happened. */
export async function baseline(c: ChaosCluster, k: number, timeoutMs: number): Promise<number> {
  const ok = await waitFor(() => c.running.every((i) => c.logs[i]!.certified.size >= k), timeoutMs)
  if (ok === undefined) throw new Error(`no ${k} certificates on every node within ${timeoutMs} ms: ${c.running.map((i) => `${i}:${c.logs[i]!.certified.size}`).join(' ')}; errors: ${c.running.flatMap((i) => c.logs[i]!.lastErrors.slice(-2)).join(' | ')}`)
  return Date.now()
}

/** Certificates per minute on node i between two times. */
function rate(c: ChaosCluster, i: number, from: number, to: number): number {
  const n = [...c.logs[i]!.certified.values()].filter((e) => e.at >= from && e.at < to && e.from !== 'catchup').length
  return Math.round((n * 60_000 * 10) / Math.max(1, to - from)) / 10
}

/**
 * Split the cluster into a majority and a minority of `minority` nodes (7 nodes: 4|3 or 5|2), keep
 * the chain moving, heal, and measure: certificates formed on each side during the split (with both
 * sides below the threshold: none), the majority's rate vs its baseline, the time from heal to a new
 * certificate on every node, and whether the checkpoints missed during the split reach every node.
 */
export async function runPartition(id: string, minorityShare: 'third' | 'small', o: RunOptions): Promise<ScenarioResult> {
  const n = o.nodes ?? 7
  const minority = minorityShare === 'third' ? Math.floor(n / 2) : Math.max(1, Math.floor((n - 1) / 3))
  const splitMs = (o.short ? 25 : 60) * 1000
  return withCluster(id, { operators: n }, o, async (c, goals) => {
    const nodes = c.running
    const major = nodes.slice(0, n - minority)
    const minor = nodes.slice(n - minority)
    c.mine()
    const base0 = await baseline(c, 1, 120_000)
    await sleep(o.short ? 8_000 : 30_000)
    const tSplit = Date.now()
    const baseRate = rate(c, major[0]!, base0, tSplit)
    const headAtSplit = await c.head()
    c.net.partition([major, minor])
    o.log?.(`${id}: split ${major.length}|${minor.length} at block ${headAtSplit}`)
    await sleep(splitMs)
    const tHeal = Date.now()
    const headAtHeal = await c.head()
    const majorityCerts = new Set(major.flatMap((i) => certifiedIn(c, i, headAtSplit, headAtHeal, tHeal)))
    const minorityCerts = new Set(minor.flatMap((i) => certifiedIn(c, i, headAtSplit, headAtHeal, tHeal)))
    const majorRate = rate(c, major[0]!, tSplit, tHeal)
    c.net.heal()
    o.log?.(`${id}: healed at block ${headAtHeal}; during the split: majority ${majorityCerts.size}, minority ${minorityCerts.size} certificates`)
    // the next certificate formed after the heal (for a checkpoint after the split began), on every node
    const next = await waitFor(() => {
      const firsts = nodes.map((i) => [...c.logs[i]!.certified].filter(([b, e]) => b > headAtSplit && e.at >= tHeal).map(([, e]) => e.at))
      return firsts.every((f) => f.length > 0) ? Math.max(...firsts.map((f) => Math.min(...f))) : undefined
    }, 90_000)
    // checkpoints the majority certified while split: on every minority node by catch-up
    const missed = [...majorityCerts]
    const caughtUp = await waitFor(() => (minor.every((i) => missed.every((b) => c.logs[i]!.certified.has(b))) ? Date.now() : undefined), 60_000)
    const scheduled = Number((headAtHeal - headAtSplit) / BigInt(c.o.interval ?? 4))
    const everywhere = [...new Set(nodes.flatMap((i) => certifiedIn(c, i, headAtSplit, headAtHeal)))].filter((b) => nodes.every((i) => c.logs[i]!.certified.has(b)))
    if (minorityShare === 'third') goals.expect(majorityCerts.size === 0 && minorityCerts.size === 0, `no certificate on either side during a split below the threshold (majority ${majorityCerts.size}, minority ${minorityCerts.size})`)
    else {
      goals.expect(minorityCerts.size === 0, `no certificate on the minority side (got ${minorityCerts.size})`)
      goals.expect(majorityCerts.size > 0, 'the majority keeps certifying during the split')
      goals.expect(caughtUp !== undefined, `the minority catches up the ${missed.length} checkpoints certified during the split`)
    }
    goals.expect(next !== undefined, 'a new certificate on every node after the heal')
    return {
      nodes: n,
      split: `${major.length}|${minor.length}`,
      splitSeconds: splitMs / 1000,
      checkpointsDuringSplit: scheduled,
      certifiedDuringSplitMajority: majorityCerts.size,
      certifiedDuringSplitMinority: minorityCerts.size,
      baselineCertsPerMin: baseRate,
      majorityCertsPerMinDuringSplit: majorRate,
      healToCertificateOnAllNodesMs: next === undefined ? null : next - tHeal,
      minorityCatchUpMs: caughtUp === undefined ? null : missed.length === 0 ? 0 : caughtUp - tHeal,
      splitCheckpointsOnEveryNodeAfterHeal: everywhere.length,
      proxiedConnections: c.net.stats().connections,
    }
  })
}
