/**
 * The compose demo's one-shot setup (deploy/compose/compose.yaml, service
 * `setup`): deploy the reference protocol on the compose anvil, then write
 * operators.json, deployment.json and, per node, config.json and a plain
 * development key (0600) under --out, and the node's libp2p peer key into its
 * data volume (--data/nodeN), so every node can name every other in its
 * bootstrap list before any starts. Idempotent per volume: an existing
 * deployment.json means the chain and configs are already there.
 *
 *   node node/deploy/compose-setup.ts --rpc http://anvil:8545 --out /setup --data /data --nodes 4
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { privateKeyToAccount } from 'viem/accounts'
import { devnetOperatorKey } from '../devnet/cluster-config.ts'
import { deployReferenceProtocol } from '../devnet/deploy.ts'
import { writeDeployment } from '../cli/devnet/deployment-file.ts'
import { loadOrCreatePeerKey } from '../p2p/identity.ts'

/** The node config compose gives node i (also what test/deploy/packaging.test.ts starts a node with). */
export function composeNodeConfig(i: number, o: { nodes: number; rpc: string; peerIds: string[]; deployment: { exchange: string; options: string; deployBlock: bigint } }): Record<string, unknown> {
  return {
    dataDir: '/var/lib/ark',
    chain: { chainId: 31337, rpc: [o.rpc], finality: { confirmations: 2 } },
    adapter: { id: 'perp-reference', config: { exchange: o.deployment.exchange, options: o.deployment.options, startBlock: Number(o.deployment.deployBlock) } },
    checkpoint: { interval: 10, quorumTimeoutMs: 20_000, pollMs: 500 },
    operators: { file: '../operators.json' },
    key: { devPrivateKeyFile: 'dev.key' },
    p2p: { listen: ['/ip4/0.0.0.0/tcp/4001'], announce: [`/dns4/node${i}/tcp/4001`], bootstrap: o.peerIds.flatMap((id, j) => (j === i ? [] : [`/dns4/node${j}/tcp/4001/p2p/${id}`])) },
    http: { host: '0.0.0.0', port: 9545 },
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { rpc: { type: 'string' }, out: { type: 'string' }, data: { type: 'string' }, nodes: { type: 'string', default: '4' } } })
  const [rpc, out, data, nodes] = [values.rpc!, values.out!, values.data!, Number(values.nodes)]
  if (existsSync(join(out, 'deployment.json'))) {
    process.stdout.write(`setup: ${out}/deployment.json exists; keeping the deployment and node files\n`)
  } else {
    const deployment = await deployReferenceProtocol({ rpcUrl: rpc })
    const operators = Array.from({ length: nodes }, (_, i) => ({ address: privateKeyToAccount(devnetOperatorKey(i)).address, weight: 1 }))
    await writeFile(join(out, 'operators.json'), `${JSON.stringify({ operators }, null, 2)}\n`)
    const peerIds: string[] = []
    for (let i = 0; i < nodes; i++) peerIds.push(peerIdFromPrivateKey(await loadOrCreatePeerKey(join(data, `node${i}`))).toString())
    for (let i = 0; i < nodes; i++) {
      const dir = join(out, `node${i}`)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await writeFile(join(dir, 'dev.key'), devnetOperatorKey(i), { mode: 0o600 })
      await writeFile(join(dir, 'config.json'), `${JSON.stringify(composeNodeConfig(i, { nodes, rpc, peerIds, deployment }), null, 2)}\n`)
    }
    await writeDeployment(join(out, 'deployment.json'), deployment)
    process.stdout.write(`setup: reference protocol at ${deployment.exchange}; ${nodes} node configs in ${out}\n`)
  }
}
