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
  /** called with every JSON log line of every node */
  /** operator set from this on-chain ArkRegistry (default: operators.json) */
  registry?: `0x${string}`
  onLog: (node: number, line: Record<string, unknown>) => void
  signal: AbortSignal
}

export interface ClusterNode {
  index: number
  operator: string
  configPath: string
  process: ChildProcess
  multiaddrs: string[]
  httpUrl: string | null
  exited: Promise<number>
}

/** Write the configs and start the archive nodes as separate processes; node 0 is everyone's bootstrap peer. */
export async function startCluster(o: ClusterOptions): Promise<{ nodes: ClusterNode[]; stop: () => Promise<void> }> {
  const operators = Array.from({ length: o.nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1 }))
  await mkdir(o.dir, { recursive: true })
  await writeFile(join(o.dir, 'operators.json'), `${JSON.stringify({ operators }, null, 2)}\n`)
  const nodes: ClusterNode[] = []
  const stop = async (): Promise<void> => {
    for (const n of [...nodes].reverse()) if (n.process.exitCode === null) n.process.kill('SIGTERM')
    const grace = setTimeout(() => nodes.forEach((n) => n.process.exitCode === null && n.process.kill('SIGKILL')), 10_000)
    await Promise.all(nodes.map((n) => n.exited))
    clearTimeout(grace)
  }
  try {
    for (let i = 0; i < o.nodes; i++) {
      const nd = join(o.dir, `node${i}`)
      await mkdir(nd, { recursive: true, mode: 0o700 })
      await writeFile(join(nd, 'dev.key'), devnetOperatorKey(i), { mode: 0o600 })
      await chmod(join(nd, 'dev.key'), 0o600)
      const config = {
        dataDir: '.',
        chain: { chainId: 31337, rpc: [o.rpcUrl], finality: { confirmations: 2 } },
        adapter: { id: 'perp-reference', config: { exchange: o.deployment.exchange, options: o.deployment.options, startBlock: Number(o.deployment.deployBlock) } },
        checkpoint: { interval: o.interval, quorumTimeoutMs: 20_000, pollMs: 250, firstBlock: Number(o.firstBlock) },
        operators: o.registry === undefined ? { file: '../operators.json' } : { registry: o.registry },
        key: { devPrivateKeyFile: 'dev.key' },
        p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : nodes[0]!.multiaddrs },
        http: { host: '127.0.0.1', port: 0 },
      }
      const configPath = join(nd, 'config.json')
      await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`)
      // stdin is the lifeline: if this process dies, the pipe closes and the node stops itself
      const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', configPath, '--dev-key', '--stdin-lifeline'], { stdio: ['pipe', 'pipe', 'pipe'] })
      const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === null ? 1 : 128))))
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
      nodes.push({ index: i, operator: operators[i]!.address, configPath, process: child, multiaddrs: s.addrs as string[], httpUrl: (s.http as string | undefined) ?? null, exited })
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, stop }
}
