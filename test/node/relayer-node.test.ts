/**
 * The relayer inside a running node (issue 14 "automatic anchoring"): a 3-node network whose node 0 is
 * configured with `relayer` anchors every certificate in a real ArkRegistry on anvil without anyone
 * sending a transaction by hand, and its /metrics shows the outcomes and the lag.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { parseNodeConfig, type NodeConfig } from '../../node/archive/config.ts'
import { ARK_REGISTRY_ABI, deployRegistry } from '../../node/chain/registry.ts'
import { pinnedCall } from '../../snapshot/chain/pinned-call.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { archiveFixture, operatorKey, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture
let configs: NodeConfig[]
let registry: Hex

beforeAll(async () => {
  fx = await archiveFixture({ name: 'relayer-node', seed: 41, traders: 4, steps: 12 })
  const deployed = await deployRegistry({ rpcUrl: fx.chain.anvil.rpcUrl, operators: [0, 1, 2].map((i) => ({ address: privateKeyToAccount(operatorKey(i)).address, weight: 1 })) })
  registry = deployed.address
  const head = await new ChainSource({ rpcUrls: [fx.chain.anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 } }).finalizedHead()
  configs = await writeClusterConfigs(fx.dir, fx.chain, 3, { interval: 4, firstBlock: head.number + 4n })
  // node 0 relays with a funded key of its own (anvil's first dev account)
  const relayerKey = join(fx.dir, 'relayer.key')
  await writeFile(relayerKey, '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', { mode: 0o600 })
  const raw = { ...configToJson(configs[0]!), relayer: { devPrivateKeyFile: relayerKey, registry } }
  configs[0] = parseNodeConfig(raw, fx.dir)
  for (const c of configs) await fx.start(c)
  fx.mine({ seed: 42, traders: 3, steps: 4, sameTraders: true, pauseMs: 300 })
}, 120_000)

afterAll(async () => {
  await fx?.stop()
})

/** The parsed config back in file form (only what writeClusterConfigs set). */
function configToJson(c: NodeConfig): Record<string, unknown> {
  return {
    dataDir: c.dataDir,
    chain: { chainId: Number(c.chain.chainId), rpc: c.chain.rpc, finality: { confirmations: 0 } },
    adapter: { id: c.adapter.id, config: c.adapter.config },
    checkpoint: { interval: Number(c.checkpoint.interval), quorumTimeoutMs: c.checkpoint.quorumTimeoutMs, pollMs: c.checkpoint.pollMs, firstBlock: Number(c.checkpoint.firstBlock) },
    operators: c.operators,
    key: c.key,
    p2p: c.p2p,
    http: { port: 0 },
  }
}

describe('a node with a relayer', () => {
  it('anchors the certificates it holds, and reports it in /metrics', async () => {
    const node = fx.nodes[0]!
    await until('two certificates', () => node.certificates.size >= 2, 90_000)
    const source = new ChainSource({ rpcUrls: [fx.chain.anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 } })
    // any certificate the node holds, recorded with its own root (under load the first ones may still be in flight)
    const anchored = await until(
      'a certificate recorded in the registry',
      async () => {
        const head = await source.finalizedHead()
        for (const c of node.certificates.list().slice(-5)) {
          const b = c.certificate.body
          const r = await pinnedCall<Hex>(source, registry, ARK_REGISTRY_ABI, 'recordedRoot', [b.adapterId, b.configHash, b.kind, b.blockNumber], head.hash)
          if (r !== `0x${'00'.repeat(32)}`) return { recorded: r, certified: b.stateRoot }
        }
        return undefined
      },
      120_000,
    )
    expect(anchored.recorded.toLowerCase()).toBe(anchored.certified.toLowerCase())
    const text = await (await fetch(`${node.httpUrl}/metrics`)).text()
    expect(text).toMatch(/ark_anchor_submissions_total\{result="submitted"\} [1-9]/)
    expect(text).toMatch(/ark_anchor_lag_seconds_count [1-9]/)
    // the other nodes relay nothing: their counters stay at zero
    const other = await (await fetch(`${fx.nodes[1]!.httpUrl}/metrics`)).text()
    expect(other).not.toMatch(/ark_anchor_submissions_total\{result="submitted"\}/)
  }, 240_000)
})
