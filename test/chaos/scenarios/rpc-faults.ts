import { startRpcProxy, type Fault, type ProxyRequest, type RpcProxy } from '../../support/rpc-proxy.ts'
import { startLaggingRpc, type LaggingRpc } from '../chain/lagging-rpc.ts'
import { orphanedSignatures } from '../chain/reorg.ts'
import { readStoredState } from '../safety/read-store.ts'
import { rng, sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

/** A flaky provider: errors, 429/503, slow answers, timeouts, cut and garbage bodies, wrong eth_call results. */
function flaky(rate: number, rnd: () => number, count: () => void): (r: ProxyRequest) => Fault {
  return (r) => {
    if (rnd() >= rate) return { kind: 'pass' }
    count()
    const k = Math.floor(rnd() * 9)
    if (k === 0) return { kind: 'rpc-error', code: -32000, message: 'header not found' }
    if (k === 1) return { kind: 'http', status: 429 }
    if (k === 2) return { kind: 'http', status: 503 }
    if (k === 3) return { kind: 'delay', ms: 1500 }
    // past the node's 10 s request timeout
    if (k === 8) return { kind: 'delay', ms: 10_500 }
    if (k === 4) return { kind: 'truncate' }
    if (k === 5) return { kind: 'garbage' }
    // a wrong answer: a lying eth_call (the spot check and the second endpoint must catch it)
    if (r.method === 'eth_call') return { kind: 'rewrite', fn: (x) => (typeof x === 'string' && x.length > 2 ? `0x${'7'.repeat(x.length - 2)}` : x) }
    return { kind: 'rpc-error', code: -32005, message: 'limit exceeded' }
  }
}

/** A second provider that sometimes disagrees about block hashes (a lying or forked endpoint). */
function disagreeing(rate: number, rnd: () => number, count: () => void): (r: ProxyRequest) => Fault {
  return (r) => {
    if (r.method !== 'eth_getBlockByNumber' && r.method !== 'eth_getBlockByHash') return { kind: 'pass' }
    if (rnd() >= rate) return { kind: 'pass' }
    count()
    return { kind: 'rewrite', fn: (b) => (b !== null && typeof b === 'object' ? { ...(b as Record<string, unknown>), hash: `0x${'ab'.repeat(32)}` } : b) }
  }
}

/**
 * Scenario 7: every node reads the chain through three endpoints in front of the one anvil: a flaky
 * one (test/support/rpc-proxy.ts: errors, 429/503, slow answers, timeouts, cut and garbage bodies,
 * wrong eth_call answers, at `rpcFaultRate` of its requests, default 0.1 short, 0.15 full; `npm run chaos
 * -- --rpc-fault-rate R`), one that sometimes lies
 * about block hashes (a fifth of that rate), and one whose head lags 4 blocks behind
 * (chain/lagging-rpc.ts); the order differs per node, so each kind is some node's first endpoint.
 * The run lasts until 500 (short) or 10,000 faults are injected (capped at 3 or 45 minutes; 4 nodes at
 * 0.1 inject about 200 a minute on a loaded 2-core machine, 7 nodes at 0.15 about 500).
 * Figures: faults injected (per kind), node crashes (goal 0), wrong snapshots signed (a content
 * other than the certified one; goal 0), signatures for a block hash the real chain contradicts
 * (goal 0), checkpoints certified during the faults, retried and skipped, and why they failed.
 */
export const rpcFaults: Scenario = {
  id: 'rpc-faults',
  title: 'RPC faults',
  run(o) {
    const proxies: RpcProxy[] = []
    const lagging: LaggingRpc[] = []
    const faults = { flaky: 0, lying: 0 }
    let lag = 0
    const int = rng(7)
    const rnd = (): number => int(1_000_000) / 1_000_000
    const rate = o.rpcFaultRate ?? (o.short ? 0.1 : 0.15)
    const target = o.short ? 500 : 10_000
    const injected = (): number => faults.flaky + faults.lying + lagging.reduce((a, l) => a + l.answered, 0)
    return withCluster(
      'rpc-faults',
      {
        operators: o.nodes ?? 7,
        rpc: async (i, url) => {
          // clean while the nodes start (a provider failing eth_chainId at start stops the node: a start-up
          // check, not what this scenario measures); faulty once the cluster certifies
          const a = await startRpcProxy(url)
          const b = await startRpcProxy(url)
          const l = await startLaggingRpc(url, () => lag)
          proxies.push(a, b)
          lagging.push(l)
          const urls = [a.url, b.url, l.url]
          return [...urls.slice(i % 3), ...urls.slice(0, i % 3)]
        },
      },
      o,
      async (c, goals) => {
        c.mine()
        await baseline(c, 1, 180_000)
        for (let k = 0; k < proxies.length; k += 2) {
          proxies[k]!.setFault(flaky(rate, rnd, () => void faults.flaky++))
          proxies[k + 1]!.setFault(disagreeing(rate / 5, rnd, () => void faults.lying++))
        }
        lag = 4
        const tFaults = Date.now()
        const from = await c.head()
        const end = Date.now() + (o.short ? 3 : 45) * 60_000
        for (let k = 1; injected() < target && Date.now() < end; k++) {
          await sleep(2_000)
          if (k % 15 === 0) o.log?.(`rpc-faults: ${injected()} faults injected, ${new Set(c.running.flatMap((i) => [...c.logs[i]!.certified].filter(([, e]) => e.at >= tFaults).map(([b]) => b))).size} checkpoints certified since they began`)
        }
        const byKind = { ...faults, lagging: lagging.reduce((a, l) => a + l.answered, 0) }
        const total = byKind.flaky + byKind.lying + byKind.lagging
        const tEnd = Date.now()
        await sleep(10_000)
        await c.stopMining()
        const orphaned = await orphanedSignatures(c.chain, c.running.map((i) => c.dataDirs[i]!), from)
        // wrong snapshots: a node signed a content for a checkpoint other than the one certified for it
        const certified = new Map<string, string>()
        const states = await Promise.all(c.running.map((i) => readStoredState(c.dataDirs[i]!)))
        for (const s of states) for (const cert of s.certificates) certified.set(`${cert.body.blockNumber}`, cert.body.snapshotCid.toString())
        let wrong = 0
        for (const s of states)
          for (const e of s.signLog) {
            const cid = certified.get(e.checkpoint.split('/').at(-2) ?? '')
            if (cid !== undefined && e.content.split('/')[1] !== cid) wrong++
          }
        const during = new Set(c.running.flatMap((i) => [...c.logs[i]!.certified].filter(([, e]) => e.at >= tFaults && e.at <= tEnd).map(([b]) => b)))
        const causes = new Map<string, number>()
        for (const i of c.running) for (const [k, v] of c.logs[i]!.failureCauses) causes.set(k, (causes.get(k) ?? 0) + v)
        const crashes = c.running.filter((i) => c.logs[i]!.fatal.length > 0 || !c.isUp(i)).length
        goals.expect(crashes === 0, `no node crashes (${crashes})`)
        goals.expect(wrong === 0, `no wrong snapshot signed (${wrong})`)
        goals.expect(orphaned.attestations === 0, `no signature for a block the chain contradicts (${orphaned.attestations})`)
        goals.expect(total >= target, `${target} faults injected (${total})`)
        return {
          nodes: c.n,
          faultRate: rate,
          faultsInjected: total,
          faultsByKind: byKind,
          faultMinutes: Math.round((tEnd - tFaults) / 6_000) / 10,
          crashes,
          wrongSnapshotsSigned: wrong,
          contradictedSignatures: orphaned.attestations,
          checkpointsCertified: certified.size,
          checkpointsCertifiedDuringFaults: during.size,
          checkpointRetries: c.running.reduce((a, i) => a + c.logs[i]!.checkpointRetries, 0),
          checkpointsSkipped: c.running.reduce((a, i) => a + c.logs[i]!.checkpointsSkipped, 0),
          failureCauses: Object.fromEntries([...causes].sort((x, y) => y[1] - x[1]).slice(0, 8)),
        }
      },
    ).finally(() => Promise.all([...proxies.map((p) => p.close()), ...lagging.map((l) => l.close())]))
  },
}
