/**
 * Issue 10 item 4 on a real network: a node on the on-chain operator set (ArkRegistry on anvil, read
 * through the real OperatorSets with pinned eth_calls) whose RPC answers 429 or times out while an
 * honest peer gossips valid certificates. Our dependency failing is never the sender's fault: the
 * certificates are ignored (DEPENDENCY_FAILED), nothing is rejected, and the honest peer's score never
 * drops below zero; once the RPC is back, the next certificate is accepted.
 *
 * Fails on the old validator: a certificate whose set lookup threw was rejected (MALFORMED), so every
 * 429 cost the forwarding honest peer peer score (about five graylist it).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OperatorSets } from '../../node/archive/operator-sets.ts'
import { deployRegistry } from '../../node/chain/registry.ts'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'
import { attestationDigest, normalizeV, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { operatorKey, until } from '../support/archive-cluster.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { startRpcProxy, type RpcProxy } from '../support/rpc-proxy.ts'

const ops: PrivateKeyAccount[] = [0, 1, 2, 3].map((i) => privateKeyToAccount(operatorKey(i)))
const CONFIG_HASH = `0x${'22'.repeat(32)}` as const
let f: ChainFixture
let proxy: RpcProxy
let dir: string
let honest: ArkNetwork | undefined
let node: ArkNetwork | undefined

async function sign(account: PrivateKeyAccount, block: bigint): Promise<SignedAttestation> {
  const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash: CONFIG_HASH, blockNumber: block, blockHash: `0x${'11'.repeat(32)}`, snapshotCid: encodeBlock({ dependency: 'test', block }).cid, stateRoot: `0x${'33'.repeat(32)}`, specVersion: 1, kind: 0 }
  return { body, signer: account.address.toLowerCase() as `0x${string}`, signature: normalizeV(await account.sign({ hash: attestationDigest(body) })) }
}

const certAt = async (block: bigint): Promise<Uint8Array> => encodeCertificate(certificateFrom(await Promise.all(ops.slice(0, 3).map((o) => sign(o, block))))).bytes

beforeAll(async () => {
  f = await startChain()
  dir = await mkdtemp(join(tmpdir(), 'ark-dependency-'))
  const d = await deployRegistry({ rpcUrl: f.anvil.rpcUrl, operators: ops.map((o) => ({ address: o.address, weight: 1n })) })
  for (let i = 0; i < 40; i++) await f.rpc('evm_mine')
  proxy = await startRpcProxy(f.anvil.rpcUrl)
  const source = new ChainSource({ rpcUrls: [proxy.url], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 }, rpc: { retries: 0, backoffMs: 10, timeoutMs: 300 } })
  const head = await blockNumber(f)
  const sets = await OperatorSets.open({ source, config: { registry: d.address } }, await source.agreedHeader(head))
  const signal = new AbortController().signal
  const context = (): ValidatorContext => ({
    chainId: 31337n,
    adapterId: 'perp-reference',
    configHash: CONFIG_HASH,
    operators: sets.latest,
    operatorsAt: (b) => sets.forBlock(b, head, signal),
    finalizedHead: head,
    maxAheadBlocks: 100n,
    oldestBlock: 0n,
    schedule: { interval: 1n, first: 0n },
  })
  node = await createArkNetwork({ dataDir: join(dir, 'node'), chainId: 31337n, adapterId: 'perp-reference', context })
  await node.start()
  honest = await createArkNetwork({ dataDir: join(dir, 'honest'), chainId: 31337n, adapterId: 'perp-reference', context, bootstrap: node.multiaddrs().map(String) })
  await honest.start()
}, 180_000)

afterAll(async () => {
  await honest?.stop()
  await node?.stop()
  await proxy?.close()
  await f?.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe("a node whose RPC fails (429, timeouts) while valid certificates gossip", () => {
  it('ignores them as DEPENDENCY_FAILED and never lowers the honest peer below zero', { timeout: 180_000 }, async () => {
    await until('the node subscribed, as the honest peer sees it', () => honest!.subscribers('certificate').includes(node!.peerId.toString()), 30_000)
    // every RPC call now fails: half 429, half a stall past the client's timeout
    proxy.setFault((r) => (r.n % 2 === 0 ? { kind: 'http', status: 429 } : { kind: 'delay', ms: 1_000 }))
    const head = await blockNumber(f)
    let block = 1n
    await until('twenty certificates ignored for our failing RPC', async () => {
      if (block < head) await honest!.publish('certificate', await certAt(block++)).catch(() => {})
      await new Promise((r) => setTimeout(r, 100))
      return node!.metrics.get('certificate', 'ignore', 'DEPENDENCY_FAILED') >= 20
    }, 120_000)
    expect(node!.metrics.get('certificate', 'reject')).toBe(0)
    expect(node!.peerScore(honest!.peerId)).toBeGreaterThanOrEqual(0)
    // the RPC recovers: the next valid certificate is accepted, and the peer is still in good standing
    proxy.setFault(() => ({ kind: 'pass' }))
    await until('a certificate accepted once the RPC is back', async () => {
      if (block < head) await honest!.publish('certificate', await certAt(block++)).catch(() => {})
      await new Promise((r) => setTimeout(r, 200))
      return node!.metrics.get('certificate', 'accept') >= 1
    }, 60_000)
    expect(node!.metrics.get('certificate', 'reject')).toBe(0)
    expect(node!.peerScore(honest!.peerId)).toBeGreaterThanOrEqual(0)
  })
})
