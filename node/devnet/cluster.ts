import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { privateKeyToAccount } from 'viem/accounts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import type { ReferenceDeployment } from './deploy.ts'
import { ArkError } from '../../snapshot/errors.ts'

const BIN = fileURLToPath(new URL('../cli/bin.js', import.meta.url))

/** A devnet operator key, derived from the node index: development only, never for real funds. */
export function devnetOperatorKey(i: number): `0x${string}` {
  return bytesToHex(keccak256(Buffer.from(`ark-devnet-operator-${i}`)))
}

export interface ClusterOptions {
  dir: string
  rpcUrl: string
  deployment: ReferenceDeployment
  nodes: number
  interval: number
  firstBlock: bigint
  /** operator set from this on-chain ArkRegistry (default: operators.json) */
  registry?: `0x${string}`
  /** called with every JSON log line of every node */
  onLog: (node: number, line: Record<string, unknown>) => void
  signal: AbortSignal
  /** node config overrides (defaults in CLUSTER_DEFAULTS) */
  quorumTimeoutMs?: number
  pollMs?: number
  confirmations?: number
  retention?: { keepLast: number; keepEvery: number }
  /** the nodes' --log-level (default info: the cluster follows progress from info lines) */
  logLevel?: string
}

export const CLUSTER_DEFAULTS = Object.freeze({ quorumTimeoutMs: 20_000, pollMs: 250, confirmations: 2 })

export interface ClusterNode {
  index: number
  operator: string
  configPath: string
  process: ChildProcess
  multiaddrs: string[]
  httpUrl: string | null
  exited: Promise<number>
}

export interface Cluster {
  /** the current process of each node (restart replaces an entry) */
  nodes: ClusterNode[]
  /** start node i again from its config and data dir (after it exited or was killed); resolves once it is up */
  restart: (i: number) => Promise<ClusterNode>
  stop: () => Promise<void>
}

/**
 * Write the configs and start the archive nodes as separate processes: node 0
 * first (everyone's bootstrap peer), then the others together.
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const operators = Array.from({ length: o.nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1 }))
  await mkdir(o.dir, { recursive: true })
  await writeFile(join(o.dir, 'operators.json'), `${JSON.stringify({ operators }, null, 2)}\n`)
  const nodes: ClusterNode[] = []
  const all = new Set<ClusterNode>()
  const stop = async (): Promise<void> => {
    const running = [...all]
    for (const n of [...running].reverse()) if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill('SIGTERM')
    const grace = setTimeout(() => running.forEach((n) => n.process.exitCode === null && n.process.signalCode === null && n.process.kill('SIGKILL')), 10_000)
    await Promise.all(running.map((n) => n.exited))
    clearTimeout(grace)
  }
  const configPaths: string[] = []
  const spawnNode = async (i: number): Promise<ClusterNode> => {
    // stdin is the lifeline: if this process dies, the pipe closes and the node stops itself
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', configPaths[i]!, '--dev-key', '--stdin-lifeline', '--log-level', o.logLevel ?? 'info'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === null ? 1 : 128))))
    const pending: ClusterNode = { index: i, operator: operators[i]!.address, configPath: configPaths[i]!, process: child, multiaddrs: [], httpUrl: null, exited }
    all.add(pending)
    const started = new Promise<Record<string, unknown>>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      lines.on('line', (l) => {
        let j: Record<string, unknown>
        try {
          j = JSON.parse(l) as Record<string, unknown>
        } catch {
          return
        }
        if (j.event === 'started') resolve(j)
        o.onLog(i, j)
      })
      const errLines = createInterface({ input: child.stderr! })
      const tail: string[] = []
      errLines.on('line', (l) => {
        tail.push(l)
        if (tail.length > 20) tail.shift()
      })
      void exited.then((code) => reject(new ArkError('IO', `archive node ${i} exited with code ${code} before starting:\n${tail.join('\n')}`)))
    })
    const s = await started
    pending.multiaddrs = s.addrs as string[]
    pending.httpUrl = (s.http as string | undefined) ?? null
    nodes[i] = pending
    return pending
  }
  try {
    for (let i = 0; i < o.nodes; i++) {
      const nd = join(o.dir, `node${i}`)
      await mkdir(nd, { recursive: true, mode: 0o700 })
      await writeFile(join(nd, 'dev.key'), devnetOperatorKey(i), { mode: 0o600 })
      await chmod(join(nd, 'dev.key'), 0o600)
      const config = {
        dataDir: '.',
        chain: { chainId: 31337, rpc: [o.rpcUrl], finality: { confirmations: o.confirmations ?? CLUSTER_DEFAULTS.confirmations } },
        adapter: { id: 'perp-reference', config: { exchange: o.deployment.exchange, options: o.deployment.options, startBlock: Number(o.deployment.deployBlock) } },
        checkpoint: { interval: o.interval, quorumTimeoutMs: o.quorumTimeoutMs ?? CLUSTER_DEFAULTS.quorumTimeoutMs, pollMs: o.pollMs ?? CLUSTER_DEFAULTS.pollMs, firstBlock: Number(o.firstBlock) },
        operators: o.registry === undefined ? { file: '../operators.json' } : { registry: o.registry },
        key: { devPrivateKeyFile: 'dev.key' },
        // node 0's address is known once it runs: the others' configs are written after it started
        p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] as string[] },
        http: { host: '127.0.0.1', port: 0 },
        ...(o.retention === undefined ? {} : { retention: o.retention }),
      }
      configPaths.push(join(nd, 'config.json'))
      if (i === 0) {
        await writeFile(configPaths[0]!, `${JSON.stringify(config, null, 2)}\n`)
        await spawnNode(0)
      } else {
        config.p2p.bootstrap = nodes[0]!.multiaddrs
        await writeFile(configPaths[i]!, `${JSON.stringify(config, null, 2)}\n`)
      }
    }
    await Promise.all(configPaths.slice(1).map((_, k) => spawnNode(k + 1)))
  } catch (err) {
    await stop()
    throw err
  }
  const restart = async (i: number): Promise<ClusterNode> => {
    const old = nodes[i]
    if (old === undefined) throw new ArkError('USAGE', `no cluster node ${i}`)
    if (old.process.exitCode === null && old.process.signalCode === null) throw new ArkError('USAGE', `cluster node ${i} is still running; stop or kill it before restarting it`)
    return spawnNode(i)
  }
  return { nodes, restart, stop }
}
