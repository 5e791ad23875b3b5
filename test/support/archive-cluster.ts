import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { privateKeyToAccount } from 'viem/accounts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { parseNodeConfig, type NodeConfig } from '../../node/archive/config.ts'
import { ArchiveNode, type ArchiveNodeInit } from '../../node/archive/node.ts'
import { prepareMesh } from '../../node/devnet/mesh.ts'
import { runWorkload, type WorkloadResult } from '../../node/devnet/workload.ts'
import { startChain, type ChainFixture } from './chain.ts'

export function operatorKey(i: number): `0x${string}` {
  return bytesToHex(keccak256(Buffer.from(`ark-test-operator-${i}`)))
}

/**
 * Write n node directories (dev keys 0600, shared operators.json) and return their configs. The
 * nodes form a mesh (node/devnet/mesh.ts: peer keys made now, fixed loopback ports, each node
 * bootstraps from all the others) unless `bootstrap` gives a test's own topology.
 */
export async function writeClusterConfigs(dir: string, f: ChainFixture, n: number, opts: { interval?: number; firstBlock: bigint; quorumTimeoutMs?: number; bootstrap?: (i: number) => string[] }): Promise<NodeConfig[]> {
  await mkdir(dir, { recursive: true })
  const dirs = Array.from({ length: n }, (_, i) => join(dir, `node${i}`))
  for (const nd of dirs) await mkdir(nd, { recursive: true, mode: 0o700 })
  const mesh = opts.bootstrap === undefined ? await prepareMesh(dirs) : undefined
  const operators = Array.from({ length: n }, (_, i) => ({ address: privateKeyToAccount(operatorKey(i)).address, weight: 1 }))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators }))
  const configs: NodeConfig[] = []
  for (let i = 0; i < n; i++) {
    const nd = dirs[i]!
    await writeFile(join(nd, 'dev.key'), operatorKey(i), { mode: 0o600 })
    await chmod(join(nd, 'dev.key'), 0o600)
    configs.push(
      parseNodeConfig(
        {
          dataDir: nd,
          chain: { chainId: 31337, rpc: [f.anvil.rpcUrl], finality: { confirmations: 0 } },
          adapter: { id: 'perp-reference', config: { exchange: f.deployment.exchange, options: f.deployment.options, startBlock: Number(f.deployment.deployBlock) } },
          checkpoint: { interval: opts.interval ?? 4, quorumTimeoutMs: opts.quorumTimeoutMs ?? 8000, pollMs: 100, firstBlock: Number(opts.firstBlock) },
          operators: { file: join(dir, 'operators.json') },
          key: { devPrivateKeyFile: join(nd, 'dev.key') },
          p2p: { listen: [mesh?.listen[i] ?? '/ip4/127.0.0.1/tcp/0'], bootstrap: opts.bootstrap?.(i) ?? mesh?.bootstrap(i) ?? [] },
          http: { port: 0 },
        },
        dir,
      ),
    )
  }
  return configs
}

export function startNode(config: NodeConfig, init: Partial<Omit<ArchiveNodeInit, 'config'>> = {}): Promise<ArchiveNode> {
  const node = new ArchiveNode({ devKey: true, logger: pino({ level: process.env.ARK_TEST_LOG ?? 'silent' }), ...init, config })
  return node.start().then(() => node)
}

/** Workload rounds that keep the chain moving (each mines a few blocks). */
export interface MiningOptions {
  seed: number
  traders: number
  steps: number
  /** the same traders every round (seed unchanged), so the account count stays small; default a new seed each round */
  sameTraders?: boolean
  /** pause between rounds, default 1000 ms */
  pauseMs?: number
}

/**
 * What the archive network tests share: a real anvil with the reference protocol and seeded state, a
 * temporary directory, the nodes started through `start` and the workload started by `mine`, all
 * torn down by `stop` (mining first, then the nodes newest first, the chain, the directory).
 */
export interface ArchiveFixture {
  chain: ChainFixture
  dir: string
  /** the seeding workload's result (its traders, counts) */
  seeded: WorkloadResult
  nodes: ArchiveNode[]
  start: (config: NodeConfig, init?: Partial<Omit<ArchiveNodeInit, 'config'>>) => Promise<ArchiveNode>
  mine: (o: MiningOptions) => void
  stop: () => Promise<void>
}

export async function archiveFixture(o: { name: string; seed: number; traders: number; steps: number }): Promise<ArchiveFixture> {
  const chain = await startChain()
  const stopMining = new AbortController()
  const rounds: Promise<void>[] = []
  const nodes: ArchiveNode[] = []
  try {
    const seeded = await runWorkload({ rpcUrl: chain.anvil.rpcUrl, deployment: chain.deployment, seed: o.seed, traders: o.traders, steps: o.steps })
    const dir = await mkdtemp(join(tmpdir(), `ark-${o.name}-`))
    return {
      chain,
      dir,
      seeded,
      nodes,
      start: async (config, init) => {
        const n = await startNode(config, init)
        nodes.push(n)
        return n
      },
      mine: (m) => {
        rounds.push(
          (async () => {
            for (let round = 0; !stopMining.signal.aborted; round++) {
              await runWorkload({ rpcUrl: chain.anvil.rpcUrl, deployment: chain.deployment, seed: m.seed + (m.sameTraders === true ? 0 : round), traders: m.traders, steps: m.steps, signal: stopMining.signal }).catch(() => {})
              await new Promise((r) => setTimeout(r, m.pauseMs ?? 1000))
            }
          })(),
        )
      },
      stop: async () => {
        stopMining.abort()
        await Promise.all(rounds)
        for (const n of [...nodes].reverse()) await n.stop().catch(() => {})
        await chain.stop()
        await rm(dir, { recursive: true, force: true, maxRetries: 5 })
      },
    }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    signal?.throwIfAborted()
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
