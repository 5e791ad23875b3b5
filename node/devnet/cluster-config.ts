import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import type { ReferenceDeployment } from './deploy.ts'
import { prepareMesh } from './mesh.ts'

/** A devnet operator key, derived from the node index: development only, never for real funds. */
export function devnetOperatorKey(i: number): `0x${string}` {
  return bytesToHex(keccak256(Buffer.from(`ark-devnet-operator-${i}`)))
}

export const CLUSTER_DEFAULTS = Object.freeze({ quorumTimeoutMs: 20_000, pollMs: 250, confirmations: 2 })

export interface ClusterConfigOptions {
  dir: string
  rpcUrl: string
  deployment: ReferenceDeployment
  nodes: number
  interval: number
  firstBlock: bigint
  /** operator set from this on-chain ArkRegistry (default: operators.json) */
  registry?: `0x${string}`
  quorumTimeoutMs?: number
  pollMs?: number
  confirmations?: number
  retention?: { keepLast: number; keepEvery: number }
}

export interface ClusterNodeFiles {
  index: number
  operator: string
  dataDir: string
  configPath: string
}

/**
 * Write operators.json and one directory per node (dev key 0600, config.json).
 * Every node bootstraps from every other one (a mesh, ./mesh.ts), so the
 * configs are complete before the first node starts and stay valid across restarts.
 */
export async function writeClusterFiles(o: ClusterConfigOptions): Promise<ClusterNodeFiles[]> {
  const operators = Array.from({ length: o.nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1 }))
  await mkdir(o.dir, { recursive: true })
  await writeFile(join(o.dir, 'operators.json'), `${JSON.stringify({ operators }, null, 2)}\n`)
  const dirs = operators.map((_, i) => join(o.dir, `node${i}`))
  // every devnet runs on a fresh chain: a node directory left by an earlier one holds signatures and
  // certificates of another chain at the same block numbers (its sign log would refuse to sign)
  for (const d of dirs) await rm(d, { recursive: true, force: true })
  for (const d of dirs) await mkdir(d, { recursive: true, mode: 0o700 })
  const mesh = await prepareMesh(dirs)
  const files: ClusterNodeFiles[] = []
  for (const [i, nd] of dirs.entries()) {
    await writeFile(join(nd, 'dev.key'), devnetOperatorKey(i), { mode: 0o600 })
    await chmod(join(nd, 'dev.key'), 0o600)
    const config = {
      dataDir: '.',
      chain: { chainId: 31337, rpc: [o.rpcUrl], finality: { confirmations: o.confirmations ?? CLUSTER_DEFAULTS.confirmations } },
      adapter: { id: 'perp-reference', config: { exchange: o.deployment.exchange, options: o.deployment.options, startBlock: Number(o.deployment.deployBlock) } },
      checkpoint: { interval: o.interval, quorumTimeoutMs: o.quorumTimeoutMs ?? CLUSTER_DEFAULTS.quorumTimeoutMs, pollMs: o.pollMs ?? CLUSTER_DEFAULTS.pollMs, firstBlock: Number(o.firstBlock) },
      operators: o.registry === undefined ? { file: '../operators.json' } : { registry: o.registry },
      key: { devPrivateKeyFile: 'dev.key' },
      p2p: { listen: [mesh.listen[i]!], bootstrap: mesh.bootstrap(i) },
      http: { host: '127.0.0.1', port: 0 },
      ...(o.retention === undefined ? {} : { retention: o.retention }),
    }
    const configPath = join(nd, 'config.json')
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`)
    files.push({ index: i, operator: operators[i]!.address, dataDir: nd, configPath })
  }
  return files
}
