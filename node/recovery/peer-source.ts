import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight, type HeliaWithLibp2p } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight, type HeliaInit } from 'helia'
import type { CID } from 'multiformats/cid'
import { decodeCertificate } from '../../protocol/certificate.ts'
import { checkBlock, cidOf } from '../../snapshot/codec/block.ts'
import { walkDag } from '../../snapshot/dag/walk.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { certificatePages } from '../p2p/catchup.ts'
import { SourceError, SourceStalledError, type FetchSource, type LocateRequest, type Located, type SourceContext } from './source.ts'
import type { Staging } from './staging.ts'

export interface PeerSourceOptions {
  /** blocks wanted at once (bitswap round trips overlap); archive nodes accept wantlists of 1024 */
  concurrency?: number
  /** catch-up pages read at most while locating */
  maxPages?: number
}

export const PEER_SOURCE_DEFAULTS = Object.freeze({ concurrency: 512, maxPages: 4096 })

/**
 * Wants go to the connected archive node only: no provider lookup per block. Without this, bitswap runs a
 * content-routing query for every want (the client has no routers, so each builds and throws errors), which
 * was ~40% of the client's CPU in a bitswap fetch (test/bench/recovery.ts).
 */
const NO_PROVIDER_LOOKUP = { maxProviders: 0 }

/** close() waits at most this long for the client to stop */
const CLOSE_MS = 2_000

type Blockstore = NonNullable<HeliaInit['blockstore']>

async function join(bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes
  const parts: Uint8Array[] = []
  for await (const p of bytes) parts.push(p)
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

/** Helia treats an error named NotFoundError from a blockstore as "not held here". */
class StagingNotFoundError extends ArkError {
  override readonly name = 'NotFoundError'
  constructor(cid: CID) {
    super('BLOCK_NOT_FOUND', `block ${cid.toString()} is not held`, { retryable: true })
  }
}

function notFound(cid: CID): Error {
  return new StagingNotFoundError(cid)
}

/**
 * Helia's blockstore for the fetch client: the staging store of the current
 * fetch. Helia hash-checks what bitswap delivers before put(); it is checked
 * here again (Ark blocks only: dag-cbor, sha2-256) before it is kept.
 */
class StagingBlockstore {
  staging: Staging | undefined
  ctx: SourceContext | undefined

  has(cid: CID): boolean {
    return this.staging?.has(cid) ?? false
  }

  async put(cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
    if (this.staging === undefined) throw new ArkError('IO', 'the fetch client stores no blocks outside a fetch')
    const bytes = await join(value)
    checkBlock(cid, bytes)
    this.staging.put({ cid, bytes })
    this.ctx?.progress()
    return cid
  }

  *get(cid: CID): Generator<Uint8Array> {
    if (this.staging === undefined || !this.staging.has(cid)) throw notFound(cid)
    yield this.staging.get(cid)
  }

  async delete(): Promise<void> {}

  async *putMany(source: Iterable<{ cid: CID; bytes: Uint8Array }> | AsyncIterable<{ cid: CID; bytes: Uint8Array }>): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes)
  }

  async *getMany(source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<{ cid: CID; bytes: Generator<Uint8Array> }> {
    for await (const cid of source) yield { cid, bytes: this.get(cid) }
  }

  async *deleteMany(source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<CID> {
    for await (const cid of source) yield cid
  }

  async *getAll(): AsyncGenerator<{ cid: CID; bytes: Generator<Uint8Array> }> {}
}

interface Client {
  helia: HeliaWithLibp2p<{ identify: ReturnType<ReturnType<typeof identify>> }>
  peer: PeerId
}

/**
 * An archive node as a libp2p peer: a short-lived light client (TCP, noise,
 * yamux, identify, Helia with bitswap over the staging store) dials it,
 * locates the certificate through the catch-up protocol
 * (/ark/certificates/1.0.0, paged) and fetches the snapshot's blocks over
 * bitswap, many wants at once, following links level by level. Bitswap
 * delivers a block only under the CID it hashes to, so a peer holding a
 * corrupt block never delivers it: that shows as a stall.
 */
export function peerSource(addr: string, options: PeerSourceOptions = {}): FetchSource {
  const concurrency = options.concurrency ?? PEER_SOURCE_DEFAULTS.concurrency
  const maxPages = options.maxPages ?? PEER_SOURCE_DEFAULTS.maxPages
  const blockstore = new StagingBlockstore()
  let client: Promise<Client> | undefined
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    ma = undefined as unknown as Multiaddr
  }

  async function start(ctx: SourceContext): Promise<Client> {
    if (ma === undefined) throw new SourceError(`${JSON.stringify(addr)} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…)`)
    const helia = withBitswap(
      withLibp2pLight(createHeliaLight({ blockstore: blockstore as unknown as Blockstore, codecs: [dagCbor] }), {
        privateKey: await generateKeyPair('Ed25519'),
        addresses: { listen: [] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify() },
      }),
    )
    await helia.start()
    try {
      const conn = await helia.libp2p.dial(ma, { signal: ctx.signal })
      ctx.progress()
      return { helia, peer: conn.remotePeer }
    } catch (err) {
      await helia.stop().catch(() => {})
      throw err
    }
  }

  function connect(ctx: SourceContext): Promise<Client> {
    client ??= start(ctx)
    return client
  }

  async function locate(req: LocateRequest, ctx: SourceContext): Promise<Located> {
    const { helia, peer } = await connect(ctx)
    const q = req.query
    const from = q.kind === 'number' ? q.block : 0n
    let best: { block: bigint; bytes: Uint8Array } | undefined
    let seen = 0
    // the catch-up client's pages (the server's cursor, each page bounded in size and time)
    for await (const certs of certificatePages(helia.libp2p, peer, from, { signal: ctx.signal, maxPages })) {
      ctx.progress()
      seen += certs.length
      let top = -1n
      for (const bytes of certs) {
        let c
        try {
          c = decodeCertificate(bytes)
        } catch (cause) {
          throw new SourceError(`sent a certificate that does not decode (${(cause as Error).message})`, { cause })
        }
        const b = c.body.blockNumber
        if (b < from) throw new SourceError(`answered a request for certificates from block ${from} with one for block ${b}`)
        if (b > top) top = b
        if (q.kind === 'cid') {
          // by CID any snapshot kind (scheduled or emergency) is what was asked for
          if (c.body.kind <= 1 && cidOf(bytes).equals(q.cid)) return { cid: q.cid, bytes }
          continue
        }
        if (c.body.chainId !== req.chainId || c.body.adapterId !== req.adapterId || c.body.kind !== 0) continue
        if (q.kind === 'number') {
          if (b === q.block) return { cid: cidOf(bytes), bytes }
          continue
        }
        if (q.kind === 'before' && b >= q.block) continue
        if (best === undefined || b > best.block) best = { block: b, bytes }
      }
      if (q.kind === 'number' && top >= q.block) break
      if (q.kind === 'before' && top >= q.block - 1n) break
    }
    if (best !== undefined) return { cid: cidOf(best.bytes), bytes: best.bytes }
    if (q.kind === 'number') throw new SourceError(`has no certificate for block ${q.block} of chain ${req.chainId} adapter ${req.adapterId}`)
    if (q.kind === 'cid') throw new SourceError(`has no snapshot certificate ${q.cid.toString()} (${seen} certificates looked at)`)
    if (q.kind === 'before') throw new SourceError(`has no certified checkpoint before block ${q.block} of chain ${req.chainId} adapter ${req.adapterId} (${seen} certificates looked at)`)
    throw new SourceError(`has no certificates for chain ${req.chainId} adapter ${req.adapterId}`)
  }

  async function fetchBlocks(root: CID, staging: Staging, ctx: SourceContext): Promise<void> {
    const { helia } = await connect(ctx)
    blockstore.staging = staging
    blockstore.ctx = ctx
    const wanted = new Set<CID>()
    const read = async (cid: CID): Promise<Uint8Array> => {
      if (staging.has(cid)) return staging.get(cid)
      const chunks: Uint8Array[] = []
      wanted.add(cid)
      const options = { signal: ctx.signal, ...NO_PROVIDER_LOOKUP }
      for await (const c of helia.blockstore.get(cid, options)) chunks.push(c)
      wanted.delete(cid)
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    }
    try {
      for await (const _ of walkDag(root, read, { order: 'level', concurrency, signal: ctx.signal })) {
        // blocks land in staging through the blockstore's put (bitswap) as they arrive
      }
    } catch (err) {
      const reason = ctx.signal.aborted ? ctx.signal.reason : err
      if (reason instanceof SourceStalledError && wanted.size > 0) {
        throw new SourceStalledError(`${reason.message} while ${wanted.size} wanted blocks were outstanding (e.g. ${[...wanted][0]!.toString()}): the peer lacks them or holds corrupt copies (bitswap never delivers a block that does not hash to its CID)`, { cause: reason })
      }
      throw reason
    } finally {
      blockstore.ctx = undefined
    }
  }

  async function fetchBlock(cid: CID, staging: Staging, ctx: SourceContext): Promise<void> {
    const { helia } = await connect(ctx)
    blockstore.staging = staging
    blockstore.ctx = ctx
    // bitswap delivers it through the blockstore's put (hash-checked there) into staging
    const options = { signal: ctx.signal, ...NO_PROVIDER_LOOKUP }
    for await (const _ of helia.blockstore.get(cid, options)) {
      // the bytes are in staging now
    }
  }

  return {
    kind: 'peer',
    name: addr,
    locate,
    fetchBlocks,
    fetchBlock,
    blockConcurrency: concurrency,
    async close(): Promise<void> {
      const c = client
      client = undefined
      blockstore.staging = undefined
      if (c === undefined) return
      const started = await c.catch(() => undefined)
      if (started === undefined) return
      // a graceful libp2p stop can wait on a busy peer's streams for many seconds: bound it
      let timer: NodeJS.Timeout | undefined
      await Promise.race([started.helia.stop().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_MS)))])
      clearTimeout(timer)
    },
  }
}
