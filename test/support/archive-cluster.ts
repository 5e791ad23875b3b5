import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { privateKeyToAccount } from 'viem/accounts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { parseNodeConfig, type NodeConfig } from '../../node/archive/config.ts'
import { ArchiveNode } from '../../node/archive/node.ts'
import type { ChainFixture } from './chain.ts'

export function operatorKey(i: number): `0x${string}` {
  return bytesToHex(keccak256(Buffer.from(`ark-test-operator-${i}`)))
}

/** Write n node directories (dev keys 0600, shared operators.json) and return their configs. */
export async function writeClusterConfigs(dir: string, f: ChainFixture, n: number, opts: { interval?: number; firstBlock: bigint; quorumTimeoutMs?: number; bootstrap?: (i: number) => string[] }): Promise<NodeConfig[]> {
  await mkdir(dir, { recursive: true })
  const operators = Array.from({ length: n }, (_, i) => ({ address: privateKeyToAccount(operatorKey(i)).address, weight: 1 }))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators }))
  const configs: NodeConfig[] = []
  for (let i = 0; i < n; i++) {
    const nd = join(dir, `node${i}`)
    await mkdir(nd, { recursive: true, mode: 0o700 })
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
          p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: opts.bootstrap?.(i) ?? [] },
          http: { port: 0 },
        },
        dir,
      ),
    )
  }
  return configs
}

export function startNode(config: NodeConfig): Promise<ArchiveNode> {
  const node = new ArchiveNode({ config, devKey: true, logger: pino({ level: process.env.ARK_TEST_LOG ?? 'silent' }) })
  return node.start().then(() => node)
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
