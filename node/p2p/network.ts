import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import { gossipsub, StrictSign, type GossipSub, type GossipSubComponents, type GossipsubMessage, type Message, type TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight } from 'helia'
import type { CID } from 'multiformats/cid'
import { pino, type Logger } from 'pino'
import type { SignedAlert } from '../../protocol/alert.ts'
import type { SignedAttestation } from '../../protocol/attestation.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import type { Evidence } from '../../protocol/evidence.ts'
import { topicName, type TopicKind } from '../../protocol/gossip/topics.ts'
import { validateAttestation, validateCertificate, validateEvidence, type ValidatorContext } from '../../protocol/gossip/validate.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { heliaBlockStore, type HeliaBlockStoreOptions } from './blockstore.ts'
import { migrateFsBlocks } from './blockstore-migration.ts'
import { BLOCKSTORE_DIR, DiskBlockstore } from './disk-blockstore.ts'
import { bootstrapDialer, type BootstrapDialer } from './bootstrap.ts'
import { loadOrCreatePeerKey } from './identity.ts'
import { GossipMetrics } from './metrics.ts'
import { startAll, stopAll, type Service } from './service.ts'
import { gossipValidator, type TopicValidator } from './validation.ts'
import { background } from '../util/background.ts'

/** What an accepted message of each topic kind decodes to. */
export interface KindValues {
  attestation: SignedAttestation
  certificate: Certificate
  evidence: Evidence
  alert: SignedAlert
}

export const TOPIC_KINDS: readonly TopicKind[] = ['attestation', 'certificate', 'evidence', 'alert']

/** An accepted gossip message, handed to onMessage handlers. */
export interface GossipDelivery<K extends TopicKind = TopicKind> {
  kind: K
  /** the validator's decoded value */
  value: KindValues[K]
  bytes: Uint8Array
  /** the peer that sent it to us (may be a forwarder) */
  from: PeerId
  /** the peer that published it (gossipsub StrictSign: signed by that peer's key) */
  origin: PeerId | undefined
  msgId: string
}

export type GossipHandler<K extends TopicKind> = (msg: GossipDelivery<K>) => void | Promise<void>

/** gossipsub's service with the two methods the class has but its factory type hides. */
export interface ArkGossipSub extends GossipSub {
  getMeshPeers(topic: string): string[]
  getScore(peerId: string): number
}

export interface ArkServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  pubsub: ArkGossipSub
}

export interface ArkNetworkInit {
  /** node data dir: peer.key, blockstore/ (DiskBlockstore: LevelDB), datastore/ (FsDatastore); an old blocks/ (one file per block) is migrated at start */
  dataDir: string
  /** the (chain, adapter) this network gossips about: topics are named after it */
  chainId: bigint
  adapterId: string
  /** read on every message: the validators' view of local state (finalized head, operator set, …) */
  context: () => ValidatorContext
  /**
   * Per-kind validators replacing the protocol defaults (attestation,
   * certificate, evidence). A kind is subscribed only if it has a validator,
   * so `alert` is off until one is given.
   */
  validators?: Partial<{ [K in TopicKind]: TopicValidator<KindValues[K]> }>
  /** default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** addresses to advertise instead of the listen addresses */
  announce?: string[]
  /** peers to dial at start and keep redialing (multiaddrs, ideally with /p2p/<peer id>) */
  bootstrap?: (string | Multiaddr)[]
  bootstrapBackoff?: { minMs?: number; maxMs?: number; tickMs?: number }
  /** overrides of the score parameters (see ARK_TOPIC_SCORE, ARK_PEER_SCORE) */
  score?: { topic?: Partial<TopicScoreParams>; peer?: Partial<Omit<PeerScoreParams, 'topics'>>; thresholds?: Partial<PeerScoreThresholds> }
  logger?: Logger
  /** share counters between networks (default: a fresh GossipMetrics) */
  metrics?: GossipMetrics
  /** libp2p's metrics service (the node passes @libp2p/prometheus-metrics bound to its registry) */
  libp2pMetrics?: Libp2pOptions['metrics']
}

export interface ArkNetwork {
  readonly peerId: PeerId
  /** valid after start() */
  readonly helia: HeliaWithLibp2p<ArkServices>
  /** valid after start() */
  readonly libp2p: Libp2p<ArkServices>
  readonly metrics: GossipMetrics
  /** local blocks only (no network fetch): the node's own snapshots */
  readonly blocks: BlockStore
  /**
   * Remove a block from the on-disk blockstore (retention's garbage collection). Not through Helia's
   * blockstore: its delete asks the content routers to stop providing the block first, and this node
   * has none (it throws NoContentRoutersError).
   */
  deleteBlock(cid: CID): Promise<void>
  start(): Promise<void>
  /** stops every part in reverse start order; a stopped network cannot be restarted (create a new one on the same data dir) */
  stop(): Promise<void>
  topic(kind: TopicKind): string
  publish(kind: TopicKind, bytes: Uint8Array): Promise<{ recipients: number }>
  /** returns a function that removes the handler */
  onMessage<K extends TopicKind>(kind: K, handler: GossipHandler<K>): () => void
  dial(addr: string | Multiaddr, options?: { signal?: AbortSignal }): Promise<PeerId>
  multiaddrs(): Multiaddr[]
  /** gossipsub score of a peer as this node sees it */
  peerScore(peer: PeerId | string): number
  meshPeers(kind: TopicKind): string[]
  subscribers(kind: TopicKind): string[]
  /** a BlockStore over Helia's blockstore, optionally fetching missing blocks over bitswap */
  blockStore(options?: HeliaBlockStoreOptions): BlockStore
  bootstrap(): ReturnType<BootstrapDialer['status']>
}

/**
 * Per-topic score: P4 (invalid message deliveries) is the point: every
 * rejected message adds one to the sender's counter and the score falls with
 * its square, so ~5 invalid messages within a minute or so take a peer below
 * the graylist threshold. P3 (mesh delivery rate) is off: attestations come
 * a few per checkpoint, so a delivery-rate target would punish honest peers.
 * P1/P2 give honest mesh members a small positive score.
 */
export const ARK_TOPIC_SCORE: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0.1,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 100,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -4,
  // per decay interval (1 s): the counter halves in about 70 s
  invalidMessageDeliveriesDecay: 0.99,
}

export const ARK_PEER_SCORE: Partial<Omit<PeerScoreParams, 'topics'>> = {
  topicScoreCap: 20,
  decayInterval: 1000,
}

/** Content-addressed message ids: the same bytes re-published (after a restart, by another node) are one message. */
function msgIdFn(msg: Message): Uint8Array {
  return createHash('sha256').update(msg.topic).update(Uint8Array.of(0)).update(msg.data).digest().subarray(0, 20)
}

type ArkHelia = HeliaWithLibp2p<ArkServices>

/**
 * The node's network: libp2p over TCP (noise, yamux, identify, ping),
 * gossipsub (StrictSign, peer scoring, one validation adapter), Helia with
 * bitswap over an on-disk blockstore/datastore, a persistent peer identity,
 * and a bootstrap dialer. Nothing else: no mDNS, DHT, relay or UPnP.
 */
export async function createArkNetwork(init: ArkNetworkInit): Promise<ArkNetwork> {
  const log = init.logger ?? pino({ level: 'silent' })
  const metrics = init.metrics ?? new GossipMetrics()
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const privateKey = await loadOrCreatePeerKey(init.dataDir)
  const peerId = peerIdFromPrivateKey(privateKey)

  const topics = new Map<TopicKind, string>(TOPIC_KINDS.map((k) => [k, topicName(k, init.chainId, init.adapterId)]))
  const kindOf = new Map<string, TopicKind>([...topics].map(([k, t]) => [t, k]))
  const topic = (kind: TopicKind): string => topics.get(kind)!

  const validators: Partial<Record<TopicKind, TopicValidator>> = {
    attestation: (bytes) => validateAttestation(bytes, init.context()),
    certificate: (bytes) => validateCertificate(bytes, init.context()),
    evidence: (bytes) => validateEvidence(bytes, init.context()),
    ...(init.validators as Partial<Record<TopicKind, TopicValidator>> | undefined),
  }
  const subscribed = TOPIC_KINDS.filter((k) => validators[k] !== undefined)

  const blockstore = new DiskBlockstore(join(init.dataDir, BLOCKSTORE_DIR))
  const datastore = new FsDatastore(join(init.dataDir, 'datastore'))
  const topicScore = { ...ARK_TOPIC_SCORE, ...init.score?.topic }
  const helia: ArkHelia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore, datastore, codecs: [dagCbor] }), {
      privateKey,
      addresses: { listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'], ...(init.announce === undefined ? {} : { announce: init.announce }) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(init.libp2pMetrics === undefined ? {} : { metrics: init.libp2pMetrics }),
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictSign,
          emitSelf: false,
          fallbackToFloodsub: false,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          allowedTopics: [...topics.values()],
          msgIdFn,
          scoreParams: {
            ...ARK_PEER_SCORE,
            ...init.score?.peer,
            topics: Object.fromEntries([...topics.values()].map((t) => [t, topicScore as TopicScoreParams])),
          },
          ...(init.score?.thresholds === undefined ? {} : { scoreThresholds: init.score.thresholds }),
        }) as (components: GossipSubComponents) => ArkGossipSub,
      },
    }),
  )

  const accepted = new WeakMap<Message, unknown>()
  const handlers = new Map<TopicKind, Set<GossipHandler<TopicKind>>>()
  const pubsub = (): ArkGossipSub => helia.libp2p.services.pubsub

  const onGossip = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource, msgId } = evt.detail
    const kind = kindOf.get(msg.topic)
    if (kind === undefined || !accepted.has(msg)) return
    const delivery: GossipDelivery = { kind, value: accepted.get(msg) as KindValues[TopicKind], bytes: msg.data, from: propagationSource, origin: msg.type === 'signed' ? msg.from : undefined, msgId }
    accepted.delete(msg)
    for (const h of handlers.get(kind) ?? []) {
      background(Promise.resolve().then(() => h(delivery)), log, `gossip handler (${kind})`)
    }
  }

  const dialer = bootstrapDialer({ libp2p: () => helia.libp2p, self: peerId, addrs: init.bootstrap ?? [], log, ...init.bootstrapBackoff })
  const services: Service[] = [
    storesService({ blockstore, datastore, migrate: async () => void (await migrateFsBlocks(init.dataDir, blockstore, log)) }),
    heliaService(helia),
    gossipService({ pubsub, topics: subscribed.map((kind) => ({ topic: topic(kind), validator: gossipValidator(kind, validators[kind]!, metrics, accepted, log) })), onGossip }),
    dialer,
  ]

  let state: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  const requireStarted = (what: string): void => {
    if (state !== 'started') throw new ArkError('USAGE', `network ${what}: the network is ${state}; call start() first`)
  }

  return {
    peerId,
    metrics,
    // local reads straight from the disk store: Helia's blockstore would ask has() before every get()
    blocks: heliaBlockStore({ blockstore }),
    async deleteBlock(cid) {
      await blockstore.delete(cid)
    },
    get helia() {
      return helia
    },
    get libp2p() {
      return helia.libp2p
    },
    async start() {
      if (state !== 'new') throw new ArkError('USAGE', `network already ${state}; create a new network on the same data dir to restart`)
      state = 'starting'
      try {
        await startAll(services)
      } catch (err) {
        state = 'stopped'
        throw err
      }
      state = 'started'
      log.info({ peerId: peerId.toString(), addrs: helia.libp2p.getMultiaddrs().map(String), topics: subscribed.map(topic) }, 'network started')
    },
    async stop() {
      if (state !== 'started') {
        state = 'stopped'
        return
      }
      state = 'stopped'
      await stopAll(services)
      log.info({ peerId: peerId.toString() }, 'network stopped')
    },
    topic,
    async publish(kind, bytes) {
      requireStarted('publish')
      const r = await pubsub().publish(topic(kind), bytes)
      return { recipients: r.recipients.length }
    },
    onMessage<K extends TopicKind>(kind: K, handler: GossipHandler<K>) {
      let set = handlers.get(kind)
      if (set === undefined) handlers.set(kind, (set = new Set()))
      const h = handler as unknown as GossipHandler<TopicKind>
      set.add(h)
      return () => void set.delete(h)
    },
    async dial(addr, options = {}) {
      requireStarted('dial')
      const conn = await helia.libp2p.dial(typeof addr === 'string' ? multiaddr(addr) : addr, options.signal === undefined ? {} : { signal: options.signal })
      return conn.remotePeer
    },
    multiaddrs() {
      return state === 'started' ? helia.libp2p.getMultiaddrs() : []
    },
    peerScore(peer) {
      requireStarted('peerScore')
      return pubsub().getScore(peer.toString())
    },
    meshPeers(kind) {
      return state === 'started' ? pubsub().getMeshPeers(topic(kind)) : []
    },
    subscribers(kind) {
      return state === 'started' ? pubsub().getSubscribers(topic(kind)).map(String) : []
    },
    blockStore(options) {
      return heliaBlockStore(helia, options)
    },
    bootstrap() {
      return dialer.status()
    },
  }
}

/**
 * Opens the on-disk block and data stores before Helia starts (and migrates an
 * old one-file-per-block store into the block store); closes them after it stopped.
 */
export function storesService(init: { blockstore: DiskBlockstore; datastore: FsDatastore; migrate: () => Promise<void> }): Service {
  return {
    name: 'stores',
    async start() {
      await init.datastore.open()
      try {
        await init.blockstore.open()
      } catch (err) {
        await init.datastore.close()
        throw err
      }
      try {
        await init.migrate()
      } catch (err) {
        await init.blockstore.close().finally(async () => init.datastore.close())
        throw err
      }
    },
    async stop() {
      try {
        await init.blockstore.close()
      } finally {
        await init.datastore.close()
      }
    },
  }
}

/** Helia and, through its libp2p mixin, libp2p with its services (gossipsub, identify, ping) and bitswap. */
export function heliaService(helia: { start(): Promise<unknown>; stop(): Promise<unknown> }): Service {
  return {
    name: 'helia',
    async start() {
      try {
        await helia.start()
      } catch (err) {
        // a half-started Helia (libp2p listening, bitswap running) must not outlive the failure
        await helia.stop().catch(() => {})
        throw err
      }
    },
    async stop() {
      await helia.stop()
    },
  }
}

/** Topic validators installed before subscribing (no message is ever seen unvalidated); message listener. */
export function gossipService(init: { pubsub: () => ArkGossipSub; topics: { topic: string; validator: TopicValidatorFn }[]; onGossip: (evt: CustomEvent<GossipsubMessage>) => void }): Service {
  return {
    name: 'gossip',
    async start() {
      const ps = init.pubsub()
      for (const t of init.topics) ps.topicValidators.set(t.topic, t.validator)
      ps.addEventListener('gossipsub:message', init.onGossip)
      for (const t of init.topics) ps.subscribe(t.topic)
    },
    async stop() {
      const ps = init.pubsub()
      for (const t of init.topics) {
        ps.unsubscribe(t.topic)
        ps.topicValidators.delete(t.topic)
      }
      ps.removeEventListener('gossipsub:message', init.onGossip)
    },
  }
}
