import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { deployRegistry } from '../../chain/registry.ts'
import { devnetOperatorKey, startCluster, type ClusterOptions } from '../../devnet/cluster.ts'
import { runWorkload } from '../../devnet/workload.ts'

export interface ClusterRunOptions extends Pick<ClusterOptions, 'dir' | 'rpcUrl' | 'deployment' | 'nodes' | 'interval' | 'firstBlock' | 'signal'> {
  traders: number
  seed: bigint
  limit: number
  say: (human: string, machine: Record<string, unknown>) => void
}

/** Start the node processes, keep the workload running, report each checkpoint as the nodes log it. */
export async function runCluster(o: ClusterRunOptions): Promise<void> {
  // filled once the nodes are up; the log handler (which runs earlier) reads it when it can
  const started: { cluster?: Awaited<ReturnType<typeof startCluster>>; registry?: string } = {}
  const derived = new Map<string, Set<number>>()
  const certified = new Map<string, { certificate: string; snapshot: string; signers: number; nodes: Set<number> }>()
  let done = 0
  const finished = new AbortController()
  const onLog = (node: number, l: Record<string, unknown>): void => {
    if (l.msg === 'checkpoint derived' && typeof l.block === 'string') {
      const s = derived.get(l.block) ?? new Set<number>()
      s.add(node)
      derived.set(l.block, s)
    } else if (l.msg === 'certified' && typeof l.block === 'string') {
      const c = certified.get(l.block)
      if (c === undefined) {
        certified.set(l.block, { certificate: String(l.certificate), snapshot: String(l.snapshot), signers: Number(l.signers), nodes: new Set([node]) })
        done++
        const api = started.cluster?.nodes[Math.min(1, started.cluster.nodes.length - 1)]?.httpUrl
        // a ready-to-paste recovery command, trusting the devnet's on-chain operator set
        const fetchArgs = api === null || api === undefined ? undefined : ['fetch', '--chain', '31337', '--adapter', 'perp-reference', '--block', l.block, ...(started.registry === undefined ? ['--trust', join(o.dir, 'operators.json')] : ['--registry', started.registry, '--rpc', o.rpcUrl]), '--gateway', api, '--out', join(o.dir, `recovered-${l.block}`)]
        const fetchLine = fetchArgs === undefined ? '' : `\n  recover it: npx ark ${fetchArgs.join(' ')}`
        o.say(`checkpoint block ${l.block}: built by ${derived.get(l.block)?.size ?? 0}/${o.nodes} nodes, attestations ${String(l.signers)}/${o.nodes}, certified ${String(l.certificate)}\n  snapshot ${String(l.snapshot)}${fetchLine}`, { event: 'certified', block: l.block, certificate: l.certificate, snapshot: l.snapshot, signers: l.signers, builtBy: derived.get(l.block)?.size ?? 0, ...(fetchArgs === undefined ? {} : { fetch: fetchArgs }) })
        if (done >= o.limit) finished.abort()
      } else c.nodes.add(node)
    } else if (l.msg === 'no quorum within the timeout') {
      o.say(`checkpoint block ${String(l.block)}: no quorum within the timeout (node ${node}): ${JSON.stringify(l.tally)}`, { event: 'no-quorum', node, block: l.block, tally: l.tally })
    } else if (l.msg === 'divergence: our snapshot differs from the certified one') {
      o.say(`node ${node} diverged at block ${String(l.block)}: ${String(l.differing)} accounts differ`, { event: 'divergence', node, block: l.block })
    }
  }
  const signal = AbortSignal.any([o.signal, finished.signal])
  // the operator set lives on-chain: an ArkRegistry owned by the devnet's governance account
  const operators = Array.from({ length: o.nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1n }))
  const registry = await deployRegistry({ rpcUrl: o.rpcUrl, operators, signal })
  started.registry = registry.address
  o.say(`registry   ${registry.address} (ArkRegistry: ${o.nodes} operators of weight 1, threshold more than 2/3)`, { event: 'registry', address: registry.address, block: registry.deployBlock.toString() })
  // nodes read the registry at the finalized head (2 confirmations here): let its deployment become final first
  for (let i = 0; i < 3; i++) await fetch(o.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] }) })
  const firstBlock = o.firstBlock > registry.deployBlock ? o.firstBlock : registry.deployBlock + BigInt(o.interval)
  const cluster = await startCluster({ dir: o.dir, rpcUrl: o.rpcUrl, deployment: o.deployment, nodes: o.nodes, interval: o.interval, firstBlock, registry: registry.address, onLog, signal })
  started.cluster = cluster
  try {
    for (const n of cluster.nodes) {
      o.say(`node ${n.index}  operator ${n.operator}  ${n.multiaddrs[0] ?? ''}${n.httpUrl === null ? '' : `  api ${n.httpUrl}`}\n  config ${n.configPath}`, { event: 'node', index: n.index, operator: n.operator, multiaddrs: n.multiaddrs, http: n.httpUrl, config: n.configPath })
    }
    o.say(`quorum: more than 2/3 of ${o.nodes} operators (registry ${registry.address}); checkpoints every ${o.interval} blocks from block ${firstBlock}`, { event: 'quorum', registry: registry.address, operators: join(o.dir, 'operators.json') })
    const exits = Promise.race(cluster.nodes.map((n) => n.exited.then((code) => ({ node: n.index, code }))))
    let crashed: { node: number; code: number } | undefined
    void exits.then((e) => {
      if (!signal.aborted) {
        crashed = e
        finished.abort()
      }
    })
    for (let round = 0; !signal.aborted; round++) {
      await runWorkload({ rpcUrl: o.rpcUrl, deployment: o.deployment, seed: o.seed * 1000n + BigInt(round), traders: o.traders, steps: 60, signal }).catch((err: unknown) => {
        if (!signal.aborted) throw err
      })
      await new Promise((r) => setTimeout(r, 300))
    }
    if (crashed !== undefined) throw new Error(`archive node ${crashed.node} exited with code ${crashed.code}; see its log lines above and ${o.dir}/node${crashed.node}`)
  } finally {
    await cluster.stop()
  }
}
