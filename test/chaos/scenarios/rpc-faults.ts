import { startRpcProxy, type Fault, type ProxyRequest, type RpcProxy } from '../../support/rpc-proxy.ts'
import { orphanedSignatures } from '../chain/reorg.ts'
import { readStoredState } from '../safety/read-store.ts'
import { rng, sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

/** A flaky provider: errors, 429/503, slow answers, cut and garbage bodies, wrong eth_call results. */
function flaky(rate: number, rnd: () => number, count: () => void): (r: ProxyRequest) => Fault {
  return (r) => {
    if (rnd() >= rate) return { kind: 'pass' }
    count()
    const k = Math.floor(rnd() * 8)
    if (k === 0) return { kind: 'rpc-error', code: -32000, message: 'header not found' }
    if (k === 1) return { kind: 'http', status: 429 }
    if (k === 2) return { kind: 'http', status: 503 }
    if (k === 3) return { kind: 'delay', ms: 1500 }
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
 * Scenario 7: every node reads the chain through two JSON-RPC fault proxies (test/support/rpc-proxy.ts)
 * in front of the one anvil: a flaky one and one that sometimes disagrees about block hashes.
 * Figures: faults injected, node crashes (goal 0), wrong snapshots signed (a content other than the
 * certified one; goal 0), signatures for a block hash the real chain contradicts (goal 0), checkpoints
 * retried and skipped.
 */
export const rpcFaults: Scenario = {
  id: 'rpc-faults',
  title: 'RPC faults',
  run(o) {
    const proxies: RpcProxy[] = []
    let injected = 0
    const int = rng(7)
    const rnd = (): number => int(1_000_000) / 1_000_000
    const count = (): void => void injected++
    const target = o.short ? 2_000 : 10_000
    return withCluster(
      'rpc-faults',
      {
        operators: o.nodes ?? 7,
        rpc: async (_i, url) => {
          // clean while the nodes start (a provider failing eth_chainId at start stops the node: a start-up
          // check, not what this scenario measures); faulty once the cluster certifies
          const a = await startRpcProxy(url)
          const b = await startRpcProxy(url)
          proxies.push(a, b)
          return [a.url, b.url]
        },
      },
      o,
      async (c, goals) => {
        c.mine()
        await baseline(c, 1, 180_000)
        for (let k = 0; k < proxies.length; k += 2) {
          proxies[k]!.setFault(flaky(0.25, rnd, count))
          proxies[k + 1]!.setFault(disagreeing(0.05, rnd, count))
        }
        const from = await c.head()
        const end = Date.now() + (o.short ? 3 : 15) * 60_000
        while (injected < target && Date.now() < end) await sleep(2_000)
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
        const crashes = c.running.filter((i) => c.logs[i]!.fatal.length > 0 || !c.isUp(i)).length
        goals.expect(crashes === 0, `no node crashes (${crashes})`)
        goals.expect(wrong === 0, `no wrong snapshot signed (${wrong})`)
        goals.expect(orphaned.attestations === 0, `no signature for a block the chain contradicts (${orphaned.attestations})`)
        return {
          nodes: c.n,
          faultsInjected: injected,
          crashes,
          wrongSnapshotsSigned: wrong,
          contradictedSignatures: orphaned.attestations,
          checkpointsCertified: certified.size,
          checkpointRetries: c.running.reduce((a, i) => a + c.logs[i]!.checkpointRetries, 0),
          checkpointsSkipped: c.running.reduce((a, i) => a + c.logs[i]!.checkpointsSkipped, 0),
        }
      },
    ).finally(() => Promise.all(proxies.map((p) => p.close())))
  },
}
