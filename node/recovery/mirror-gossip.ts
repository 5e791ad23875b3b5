import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, StrictSign, type GossipSub, type GossipSubComponents, type GossipsubMessage } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { decodeCertificate } from '../../protocol/certificate.ts'
import { topicName } from '../../protocol/gossip/topics.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

export const GOSSIP_FOLLOW_DEFAULTS = Object.freeze({
  /** peers given but not connected are dialled again this often */
  redialMs: 5_000,
  /** stop() waits at most this long for the client to close */
  closeMs: 2_000,
})

export interface GossipFollowOptions {
  /** archive nodes' libp2p addresses (`--peer`, with /p2p/<id>) */
  peers: string[]
  chainId: bigint
  adapterId: string
  /** a certificate for (chain, adapter) was heard: an untrusted hint of its block (the caller locates and verifies it) */
  onCertificate: (block: bigint) => void
  onNotice?: (message: string) => void
  redialMs?: number
}

export interface GossipFollower {
  /** certificate messages heard that decoded and were for this chain and adapter */
  readonly heard: number
  stop(): Promise<void>
}

/**
 * One long-lived libp2p client (TCP, noise, yamux, identify, gossipsub with
 * StrictSign: only signed messages) subscribed to the certificate topic of
 * (chain, adapter), connected to the given archive nodes and kept connected
 * (peers that drop are dialled again). A certificate heard is only a hint
 * that wakes the mirror: the mirror then locates the newest certificate and
 * verifies it against its trust root and fetches as always, so a peer that
 * gossips junk costs at most one extra round (hints coalesce while a round
 * runs), never a wrong `latest`.
 */
export async function followCertificates(o: GossipFollowOptions): Promise<GossipFollower> {
  const topic = topicName('certificate', o.chainId, o.adapterId)
  const addrs: Multiaddr[] = []
  for (const p of o.peers) {
    try {
      addrs.push(multiaddr(p))
    } catch {
      throw new ArkError('USAGE', `--peer ${JSON.stringify(p)} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…)`)
    }
  }
  const libp2p: Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>; pubsub: GossipSub }> = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: StrictSign, emitSelf: false, fallbackToFloodsub: false, allowedTopics: [topic] }) as (components: GossipSubComponents) => GossipSub,
    },
  })
  let heard = 0
  const onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg } = evt.detail
    if (msg.topic !== topic) return
    try {
      const c = decodeCertificate(msg.data)
      if (c.body.chainId !== o.chainId || c.body.adapterId !== o.adapterId) return
      heard++
      o.onCertificate(c.body.blockNumber)
    } catch {
      // not a certificate: ignored (the round that would follow verifies everything anyway)
    }
  }
  libp2p.services.pubsub.addEventListener('gossipsub:message', onMessage)
  libp2p.services.pubsub.subscribe(topic)
  const said = new Set<string>()
  const dialAll = async (): Promise<void> => {
    for (const a of addrs) {
      const id = /\/p2p\/([^/]+)/.exec(a.toString())?.[1]
      if (id !== undefined && libp2p.getConnections().some((c) => c.remotePeer.toString() === id)) continue
      try {
        await libp2p.dial(a, { signal: AbortSignal.timeout(o.redialMs ?? GOSSIP_FOLLOW_DEFAULTS.redialMs) })
        said.delete(a.toString())
      } catch (err) {
        if (!said.has(a.toString())) o.onNotice?.(`gossip: cannot reach ${a.toString()} (${(err as Error).message}); polling meanwhile, dialling it again every ${Math.round((o.redialMs ?? GOSSIP_FOLLOW_DEFAULTS.redialMs) / 1000)} s`)
        said.add(a.toString())
      }
    }
  }
  let dialling: Promise<void> = dialAll()
  const timer = setInterval(() => {
    dialling = dialling.then(dialAll).catch(() => {})
  }, o.redialMs ?? GOSSIP_FOLLOW_DEFAULTS.redialMs)
  timer.unref()
  await dialling
  return {
    get heard() {
      return heard
    },
    async stop(): Promise<void> {
      clearInterval(timer)
      libp2p.services.pubsub.removeEventListener('gossipsub:message', onMessage)
      let t: NodeJS.Timeout | undefined
      await Promise.race([Promise.resolve().then(() => libp2p.stop()).catch(() => {}), new Promise<void>((r) => (t = setTimeout(r, GOSSIP_FOLLOW_DEFAULTS.closeMs)))])
      clearTimeout(t)
    },
  }
}
