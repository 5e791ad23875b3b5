import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { defaultThreshold } from '../../../protocol/operator-set.ts'
import { deployRegistry } from '../../chain/registry.ts'
import { devnetOperatorKey, startCluster, type Cluster, type ClusterNode, type ClusterOptions, type NodeAction, type NodeExit } from '../../devnet/cluster.ts'
import { serveControl } from '../../devnet/control.ts'
import { watchCheckpoints, type CertifiedEvent } from '../../devnet/watch.ts'
import { runWorkload } from '../../devnet/workload.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'

export interface ClusterRunOptions extends Pick<ClusterOptions, 'dir' | 'rpcUrl' | 'deployment' | 'nodes' | 'interval' | 'firstBlock' | 'signal'> {
  traders: number
  seed: bigint
  limit: number
  /** stop the devnet when a node exits on its own (default: report it and keep running) */
  stopOnNodeExit: boolean
  say: (human: string, machine: Record<string, unknown>) => void
}

const PAST: Record<NodeAction, string> = { stop: 'stopped', kill: 'killed', pause: 'paused', resume: 'resumed', restart: 'restarted' }

/** "3 of 4 operators remain, quorum still reachable" (every devnet operator has weight 1) */
function quorumLine(c: Cluster, total: number): { text: string; live: number; needed: number; reachable: boolean } {
  const live = c.live()
  const needed = Number(defaultThreshold(BigInt(total)))
  const reachable = live >= needed
  return { text: `${live} of ${total} operators remain, quorum ${reachable ? 'still reachable' : `NOT reachable (needs ${needed}): no certificates until enough nodes run again`}`, live, needed, reachable }
}

function nodeLine(n: ClusterNode): [string, Record<string, unknown>] {
  return [`node ${n.index}  operator ${n.operator}  ${n.multiaddrs[0] ?? ''}${n.httpUrl === null ? '' : `  api ${n.httpUrl}\n  explorer ${n.httpUrl}/explorer/`}\n  config ${n.configPath}`, { event: 'node', index: n.index, operator: n.operator, pid: n.process.pid, multiaddrs: n.multiaddrs, http: n.httpUrl, explorer: n.httpUrl === null ? null : `${n.httpUrl}/explorer/`, config: n.configPath }]
}

/**
 * Start the node processes and the control socket, keep the workload running,
 * report each checkpoint (who signed it) and each node exit, until Ctrl-C,
 * --checkpoints N, or (with --stop-on-node-exit) a node exiting by itself.
 */
export async function runCluster(o: ClusterRunOptions): Promise<void> {
  const live: { cluster?: Cluster } = {}
  const finished = new AbortController()
  const signal = AbortSignal.any([o.signal, finished.signal])
  let crashed: NodeExit | undefined
  const onExit = (e: NodeExit): void => {
    const c = live.cluster
    const how = e.signal === null ? `code ${e.code}` : `${e.signal}, code ${e.code}`
    const q = c === undefined ? undefined : quorumLine(c, o.nodes)
    const why = e.requested ? ' on request' : `${e.reason === '' ? '' : `: ${e.reason}`}`
    o.say(`node ${e.node} exited (${how})${why}${q === undefined ? '' : `; ${q.text}`}`, { event: 'node-exit', node: e.node, code: e.code, signal: e.signal, reason: e.reason, requested: e.requested, ...(q === undefined ? {} : { live: q.live, needed: q.needed, quorumReachable: q.reachable }) })
    if (!e.requested && o.stopOnNodeExit && !signal.aborted) {
      crashed = e
      finished.abort()
    }
  }

  // the operator set lives on-chain: an ArkRegistry owned by the devnet's governance account
  const operators = Array.from({ length: o.nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1n }))
  const registry = await deployRegistry({ rpcUrl: o.rpcUrl, operators, signal })
  o.say(`registry   ${registry.address} (ArkRegistry: ${o.nodes} operators of weight 1, threshold more than 2/3)`, { event: 'registry', address: registry.address, block: registry.deployBlock.toString() })
  // nodes read the registry at the finalized head (2 confirmations here): let its deployment become final first
  for (let i = 0; i < 3; i++) await fetch(o.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] }) })
  const firstBlock = o.firstBlock > registry.deployBlock ? o.firstBlock : registry.deployBlock + BigInt(o.interval)
  const cluster = await startCluster({ dir: o.dir, rpcUrl: o.rpcUrl, deployment: o.deployment, nodes: o.nodes, interval: o.interval, firstBlock, registry: registry.address, onExit, signal })
  live.cluster = cluster
  const control = await serveControl(o.dir, {
    status: () => ({ nodes: cluster.nodes.map((n) => ({ index: n.index, state: n.state, pid: n.process.pid, http: n.httpUrl, operator: n.operator })), ...quorumLine(cluster, o.nodes) }),
    node: async (i, action) => {
      const n = await cluster.control(i, action)
      const q = quorumLine(cluster, o.nodes)
      if (action !== 'stop' && action !== 'kill') o.say(`node ${i} ${PAST[action]}; ${q.text}`, { event: `node-${action}`, node: i, pid: n.process.pid, live: q.live, needed: q.needed, quorumReachable: q.reachable })
      return { node: i, action, state: n.state, pid: n.process.pid, http: n.httpUrl, live: q.live, needed: q.needed, quorumReachable: q.reachable }
    },
  })
  let done = 0
  const onCertified = (e: CertifiedEvent): void => {
    const api = cluster.nodes.find((n) => n.state === 'running' && n.httpUrl !== null)?.httpUrl
    // a ready-to-paste recovery command, trusting the devnet's on-chain operator set
    const fetchArgs = api === null || api === undefined ? undefined : ['fetch', '--chain', '31337', '--adapter', 'perp-reference', '--block', e.block, '--registry', registry.address, '--rpc', o.rpcUrl, '--gateway', api, '--out', join(o.dir, `recovered-${e.block}`)]
    const fetchLine = fetchArgs === undefined ? '' : `\n  recover it: npx ark ${fetchArgs.join(' ')}`
    o.say(`checkpoint block ${e.block}: signed by node${e.signedBy.length === 1 ? '' : 's'} ${e.signedBy.join(', ')} (${e.signers} of ${o.nodes}, threshold ${e.threshold}), certified ${e.certificate}\n  snapshot ${e.snapshot}${fetchLine}`, { ...e, ...(fetchArgs === undefined ? {} : { fetch: fetchArgs }) })
    if (++done >= o.limit) finished.abort()
  }
  const watching = watchCheckpoints({ nodes: () => cluster.nodes, onCertified, onCaughtUp: (e) => o.say(`node ${e.node} caught up checkpoint block ${e.block} (certified while it was not running)`, { ...e }),
    onSigning: (e) => o.say(`node ${e.node} signs again (${e.attestations} attestation${e.attestations === 1 ? '' : 's'} since it came back)`, { ...e }),
    onNoQuorum: (e) => o.say(`node ${e.node}: a checkpoint got no quorum within the timeout (${e.total} so far); ${quorumLine(cluster, o.nodes).text}`, { ...e }),
    signal,
  })
  try {
    for (const n of cluster.nodes) o.say(...nodeLine(n))
    o.say(`quorum: more than 2/3 of ${o.nodes} operators (registry ${registry.address}); checkpoints every ${o.interval} blocks from block ${firstBlock}\n  try: npx ark devnet node kill 0 --dir ${o.dir}   (stop|kill|pause|resume|restart N)`, { event: 'quorum', registry: registry.address, operators: join(o.dir, 'operators.json'), control: join(o.dir, 'control.sock') })
    for (let round = 0; !signal.aborted; round++) {
      await runWorkload({ rpcUrl: o.rpcUrl, deployment: o.deployment, seed: o.seed * 1000n + BigInt(round), traders: o.traders, steps: 60, signal }).catch((err: unknown) => {
        if (!signal.aborted) throw err
      })
      await new Promise((r) => setTimeout(r, 300))
    }
    if (crashed !== undefined) throw new ArkError('IO', `archive node ${crashed.node} exited with code ${crashed.code} and --stop-on-node-exit is set; see ${join(o.dir, `node${crashed.node}`, 'node.log')}`)
  } finally {
    finished.abort()
    await watching
    await control.close()
    await cluster.stop()
  }
}
