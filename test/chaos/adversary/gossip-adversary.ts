import { pino } from 'pino'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { decodeAttestation, encodeAttestation, normalizeV, attestationDigest, type AttestationBody, type SignedAttestation } from '../../../protocol/attestation.ts'
import type { ValidatorContext } from '../../../protocol/gossip/validate.ts'
import { makeOperatorSet } from '../../../protocol/operator-set.ts'
import { encodeBlock } from '../../../snapshot/codec/block.ts'
import { createArkNetwork, type ArkNetwork } from '../../../node/p2p/network.ts'
import type { ChaosCluster } from '../cluster/cluster.ts'
import { chaosOperatorKey } from '../cluster/keys.ts'

/**
 * Byzantine operators without a node process: one libp2p peer (the identity of the first of them,
 * dialing every honest node through that operator's fault proxies) holding their keys. It hears
 * the honest attestations (to learn each checkpoint's scope and block hash) and publishes what the
 * scenario tells it to: signed attestations for another content, equivocations, floods.
 */
export class GossipAdversary {
  readonly accounts: PrivateKeyAccount[]
  readonly heard: SignedAttestation[] = []
  private readonly listeners = new Set<(a: SignedAttestation) => void>()
  published = 0
  publishFailures = 0
  private readonly net: ArkNetwork

  private constructor(net: ArkNetwork, operators: number[]) {
    this.net = net
    this.accounts = operators.map((i) => privateKeyToAccount(chaosOperatorKey(i)))
  }

  static async start(c: ChaosCluster, operators: number[]): Promise<GossipAdversary> {
    const me = operators[0]!
    const dummy: ValidatorContext = { chainId: 31337n, adapterId: 'perp-reference', configHash: '0x', operators: makeOperatorSet(new Map([[privateKeyToAccount(chaosOperatorKey(me)).address.toLowerCase() as `0x${string}`, 1n]])), finalizedHead: 0n, maxAheadBlocks: 0n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } }
    // it validates nothing it hears (it is not a node): every attestation is decoded and passed on
    const net = await createArkNetwork({
      dataDir: c.dataDirs[me]!,
      chainId: 31337n,
      adapterId: 'perp-reference',
      context: () => dummy,
      validators: { attestation: (bytes) => ({ action: 'accept', value: decodeAttestation(bytes) }), certificate: () => ({ action: 'ignore', code: 'DUPLICATE', message: 'adversary' }), evidence: () => ({ action: 'ignore', code: 'DUPLICATE', message: 'adversary' }) },
      bootstrap: c.running.map((j) => c.net.addr(me, j, c.peerIds[j]!)),
      logger: pino({ level: 'silent' }),
    })
    await net.start()
    const adv = new GossipAdversary(net, operators)
    net.onMessage('attestation', (m) => {
      adv.heard.push(m.value)
      if (adv.heard.length > 2000) adv.heard.splice(0, 1000)
      for (const l of adv.listeners) l(m.value)
    })
    return adv
  }

  onAttestation(fn: (a: SignedAttestation) => void): void {
    this.listeners.add(fn)
  }

  peers(): number {
    return this.net.libp2p.getPeers().length
  }

  async sign(body: AttestationBody, account: PrivateKeyAccount): Promise<SignedAttestation> {
    return { body, signer: account.address.toLowerCase() as `0x${string}`, signature: normalizeV(await account.sign({ hash: attestationDigest(body) })) }
  }

  /** A body for the same checkpoint with another content (a snapshot nobody derived). */
  static otherContent(b: AttestationBody, salt: string): AttestationBody {
    const fake = encodeBlock({ ark: 'byzantine', block: b.blockNumber, salt })
    return { ...b, snapshotCid: fake.cid, stateRoot: `0x${Buffer.from(fake.cid.multihash.digest).toString('hex')}` }
  }

  async publish(a: SignedAttestation): Promise<void> {
    try {
      await this.net.publish('attestation', encodeAttestation(a))
      this.published++
    } catch {
      this.publishFailures++
    }
  }

  async publishRaw(kind: 'attestation' | 'evidence' | 'alert' | 'certificate', bytes: Uint8Array): Promise<void> {
    try {
      await this.net.publish(kind, bytes)
      this.published++
    } catch {
      this.publishFailures++
    }
  }

  async stop(): Promise<void> {
    await this.net.stop().catch(() => {})
  }
}
