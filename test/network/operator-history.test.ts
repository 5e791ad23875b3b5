/**
 * A node whose operator set is the on-chain ArkRegistry checks each message
 * against the set the chain had at the attested block (governance removed an
 * operator in between), in gossip validation and in catch-up; and its gossip
 * validators ignore attestations older than its retention window (TOO_OLD).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { attestationDigest, encodeAttestation, normalizeV, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import { validateAttestation, validateCertificate, type ValidatorContext } from '../../protocol/gossip/validate.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { ARK_REGISTRY_ABI, deployRegistry } from '../../node/chain/registry.ts'
import { serveCatchup } from '../../node/p2p/catchup.ts'
import { retentionFloor } from '../../node/archive/retention.ts'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { operatorKey, startNode, until, writeClusterConfigs } from '../support/archive-cluster.ts'

const INTERVAL = 4n
const KEEP_LAST = 3
const ops: PrivateKeyAccount[] = [0, 1, 2, 3].map((i) => privateKeyToAccount(operatorKey(i)))
let f: ChainFixture
let dir: string
let registry: Hex
/** a block at which operator 3 was still in the set, and one after governance removed it */
let before: bigint
let after: bigint
let node: ArchiveNode | undefined
let peer: ArkNetwork | undefined

async function mine(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await f.rpc('evm_mine')
}

async function sign(account: PrivateKeyAccount, block: bigint, configHash: Hex, variant = 0): Promise<SignedAttestation> {
  const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash, blockNumber: block, blockHash: `0x${'11'.repeat(32)}`, snapshotCid: encodeBlock({ history: 'test', block, variant }).cid, stateRoot: `0x${'33'.repeat(32)}`, specVersion: 1, kind: 0 }
  return { body, signer: account.address.toLowerCase() as Hex, signature: normalizeV(await account.sign({ hash: attestationDigest(body) })) }
}

beforeAll(async () => {
  f = await startChain()
  dir = await mkdtemp(join(tmpdir(), 'ark-history-'))
  const d = await deployRegistry({ rpcUrl: f.anvil.rpcUrl, operators: ops.map((o) => ({ address: o.address, weight: 1n })) })
  registry = d.address
  await mine(2)
  before = await blockNumber(f)
  const tx = await f.rpc<Hex>('eth_sendTransaction', [{ from: d.owner, to: registry, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'removeOperator', args: [ops[3]!.address] }) }])
  await until('the removal mined', async () => (await f.rpc<{ status: Hex } | null>('eth_getTransactionReceipt', [tx]))?.status === '0x1', 30_000)
  await mine(2)
  after = await blockNumber(f)
}, 120_000)

afterAll(async () => {
  await peer?.stop()
  await node?.stop()
  await f?.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('a node on the on-chain operator set', () => {
  it('checks attestations and certificates against the set at their block; ignores attestations older than its retention window', { timeout: 120_000 }, async () => {
    const [config] = await writeClusterConfigs(dir, f, 1, { firstBlock: after + 1000n, interval: Number(INTERVAL) })
    config!.operators = { registry }
    config!.retention = { keepLast: KEEP_LAST, keepEvery: 1000 }
    node = await startNode(config!)
    // `before` and `after` are not checkpoint blocks: this test is about the operator set, not the schedule
    const ctx: ValidatorContext = { ...node.validatorContext(), schedule: { interval: 1n, first: 0n } }
    const head = node.finalizedHead
    expect(head).toBeGreaterThanOrEqual(after)
    // the newest set has three operators; operator 3 is gone
    expect(ctx.operators.weights.size).toBe(3)
    expect(ctx.operators.weights.has(ops[3]!.address.toLowerCase() as Hex)).toBe(false)

    // retention window: the node keeps the newest KEEP_LAST checkpoints, so older attestations are of no use
    expect(ctx.oldestBlock).toBe(retentionFloor(head, INTERVAL, KEEP_LAST))
    expect(ctx.oldestBlock).toBeGreaterThan(1n)
    expect(before).toBeGreaterThanOrEqual(ctx.oldestBlock)
    const configHash = ctx.configHash as Hex
    expect(await validateAttestation(encodeAttestation(await sign(ops[0]!, ctx.oldestBlock - 1n, configHash)), ctx)).toMatchObject({ action: 'ignore', code: 'TOO_OLD' })

    // gossip validation: operator 3 counts at `before`, not at `after`
    expect((await validateAttestation(encodeAttestation(await sign(ops[3]!, before, configHash)), ctx)).action).toBe('accept')
    expect(await validateAttestation(encodeAttestation(await sign(ops[3]!, after, configHash)), ctx)).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
    const certAt = async (block: bigint, signers: PrivateKeyAccount[]) => encodeCertificate(certificateFrom(await Promise.all(signers.map((o) => sign(o, block, configHash)))))
    const old = await certAt(before, [ops[0]!, ops[1]!, ops[3]!])
    expect((await validateCertificate(old.bytes, ctx)).action).toBe('accept')
    expect(await validateCertificate((await certAt(after, [ops[0]!, ops[1]!, ops[3]!])).bytes, ctx)).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })

    // over the wire: a peer gossips an attestation older than the window (ignored, counted), and serves
    // the old certificate by catch-up, which the node keeps because it verifies against the set at `before`
    peer = await createArkNetwork({ dataDir: join(dir, 'peer'), chainId: 31337n, adapterId: 'perp-reference', context: () => ctx, bootstrap: node.network.multiaddrs().map(String) })
    await peer.start()
    await serveCatchup(peer.libp2p, () => [old.bytes])
    await until('the old certificate caught up from the peer', () => node!.certificates.get(before)?.cid.toString() === old.cid.toString(), 60_000)
    await until('the node subscribed, as the peer sees it', () => peer!.subscribers('attestation').includes(node!.network.peerId.toString()), 30_000)
    await until('the peer subscribed, as the node sees it', () => node!.network.subscribers('attestation').includes(peer!.peerId.toString()), 30_000)
    // gossipsub may not have its outbound stream yet: publish stale attestations (each a new message) until one arrives
    let variant = 0
    await until('a stale attestation ignored as TOO_OLD', async () => {
      await peer!.publish('attestation', encodeAttestation(await sign(ops[1]!, ctx.oldestBlock - 1n, configHash, variant++)))
      await new Promise((r) => setTimeout(r, 200))
      return node!.network.metrics.get('attestation', 'ignore', 'TOO_OLD') >= 1
    }, 30_000)
    expect(node.network.metrics.get('attestation', 'reject')).toBe(0)
    expect(node.fatal).toBeUndefined()
  })
})
