/**
 * IPFS interoperability (issue 14): tools that know nothing of Ark find and retrieve certified
 * snapshots. A plain Helia node (Helia's and libp2p's published packages only, no Ark code) that is
 * given nothing but an archive node's Delegated Routing V1 endpoint as its content router finds the
 * node as a provider of a certified snapshot, dials it, retrieves the snapshot over bitswap and walks
 * its DAG completely; a second plain node given only a bootstrap address does the same. The routing
 * endpoint answers in the spec's JSON and NDJSON forms, and 404 for a CID the node does not hold.
 */
import { withBitswap } from '@helia/bitswap'
import { delegatedRoutingV1HttpApiClient, delegatedRoutingV1HttpApiClientContentRouting } from '@helia/delegated-routing-v1-http-api-client'
import { withLibp2pLight } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { runArk } from '../support/recovery.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture
const plain: { stop(): Promise<unknown> }[] = []

interface PlainHelia {
  libp2p: { getPeers(): unknown[] }
  blockstore: { get(cid: CID, o: { signal: AbortSignal }): AsyncIterable<Uint8Array> }
  start(): Promise<unknown>
  stop(): Promise<unknown>
}

beforeAll(async () => {
  fx = await archiveFixture({ name: 'ipfs-interop', seed: 51, traders: 5, steps: 14 })
  const head = await new ChainSource({ rpcUrls: [fx.chain.anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 } }).finalizedHead()
  const configs = await writeClusterConfigs(fx.dir, fx.chain, 3, { interval: 4, firstBlock: head.number + 4n })
  for (const c of configs) await fx.start(c)
  fx.mine({ seed: 52, traders: 3, steps: 4, sameTraders: true, pauseMs: 300 })
}, 120_000)

afterAll(async () => {
  for (const h of plain.reverse()) await h.stop().catch(() => {})
  await fx?.stop()
})

/** A Helia node as any IPFS user would configure one: TCP, noise, yamux, identify, bitswap, dag-cbor. */
async function plainHelia(services: Record<string, unknown>, peerDiscovery: unknown[] = []): Promise<PlainHelia> {
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ codecs: [dagCbor] }), {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: peerDiscovery as never,
      services: { identify: identify(), ...services } as never,
    }),
  )
  await helia.start()
  plain.push(helia)
  return helia as unknown as PlainHelia
}

/** Helia's blockstore yields a block in chunks. */
async function getBlock(helia: PlainHelia, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of helia.blockstore.get(cid, { signal: AbortSignal.timeout(30_000) })) chunks.push(c)
  return Buffer.concat(chunks)
}

/** Walk a dag-cbor DAG through a plain blockstore: every link followed, every block hash-checked. */
async function walk(get: (cid: CID) => Promise<Uint8Array>, root: CID): Promise<number> {
  const seen = new Set<string>()
  const queue = [root]
  while (queue.length > 0) {
    const cid = queue.pop()!
    if (seen.has(cid.toString())) continue
    seen.add(cid.toString())
    const bytes = await get(cid)
    expect(Buffer.from((await sha256.digest(bytes)).digest).equals(Buffer.from(cid.multihash.digest))).toBe(true)
    const links: CID[] = []
    const visit = (v: unknown): void => {
      const c = CID.asCID(v)
      if (c !== null) links.push(c)
      else if (Array.isArray(v)) v.forEach(visit)
      else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) Object.values(v).forEach(visit)
    }
    visit(dagCbor.decode(bytes))
    queue.push(...links)
  }
  return seen.size
}

describe('IPFS interoperability', () => {
  it('the Delegated Routing V1 endpoint names the node for CIDs it holds (JSON and NDJSON), 404 otherwise', async () => {
    const node = fx.nodes[0]!
    const cert = await until('a certificate', () => node.certificates.list()[0], 90_000)
    const snapshot = cert.certificate.body.snapshotCid
    const client = delegatedRoutingV1HttpApiClient({ url: node.httpUrl!, cacheTTL: 0 })({ logger: defaultLogger() })
    await client.start()
    const found = []
    for await (const p of client.getProviders(snapshot)) found.push(p)
    expect(found).toHaveLength(1)
    // the client gives peer ids in their CID form (bafz…)
    expect(String(found[0]!.ID)).toBe(node.network.peerId.toCID().toString())
    expect(found[0]!.Addrs.map(String).some((a: string) => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
    const none = []
    for await (const p of client.getProviders(CID.parse('bafyreiaoun3g5zsyosuv54rayb4rs6rgswnusydqzmtaxxzkm3rhpftr2e'))) none.push(p)
    expect(none).toHaveLength(0)
    const nd = await fetch(`${node.httpUrl}/routing/v1/providers/${cert.cid}`, { headers: { accept: 'application/x-ndjson' } })
    expect(nd.status).toBe(200)
    expect(nd.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    expect(JSON.parse((await nd.text()).trim())).toMatchObject({ Schema: 'peer', ID: node.network.peerId.toString(), Protocols: ['transport-bitswap'] })
    expect((await fetch(`${node.httpUrl}/routing/v1/providers/not-a-cid`)).status).toBe(400)
    await client.stop()
  }, 120_000)

  it('a plain Helia node with only the routing endpoint retrieves the certificate and the certified snapshot by CID and walks it', async () => {
    const node = fx.nodes[0]!
    const cert = await until('a certificate', () => node.certificates.list()[0], 90_000)
    const helia = await plainHelia({ routing: delegatedRoutingV1HttpApiClientContentRouting({ url: node.httpUrl!, cacheTTL: 0 }) })
    const get = (cid: CID): Promise<Uint8Array> => getBlock(helia, cid)
    expect(Buffer.from(await get(cert.cid)).equals(Buffer.from(await node.network.blocks.get(cert.cid)))).toBe(true)
    const blocks = await walk(get, cert.certificate.body.snapshotCid)
    expect(blocks).toBeGreaterThan(2)
  }, 120_000)

  it('a plain Helia node with only a bootstrap address does the same', async () => {
    const node = fx.nodes[1]!
    const cert = await until('a certificate', () => node.certificates.list()[0], 90_000)
    const addr = node.network.multiaddrs().map(String).find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))!
    const helia = await plainHelia({}, [bootstrap({ list: [addr.includes('/p2p/') ? addr : `${addr}/p2p/${node.network.peerId.toString()}`] })])
    await until('connected to the archive node', () => helia.libp2p.getPeers().length > 0, 30_000)
    const blocks = await walk((cid) => getBlock(helia, cid), cert.certificate.body.snapshotCid)
    expect(blocks).toBeGreaterThan(2)
  }, 120_000)

  it('ark fetch --cid finds the providers of a certificate through --routing and writes the verified snapshot; by CID from a gateway too; a CID that is no certificate is refused', async () => {
    const node = fx.nodes[0]!
    const cert = await until('a certificate', () => node.certificates.list()[0], 90_000)
    const base = ['fetch', '--chain', '31337', '--adapter', 'perp-reference', '--trust', join(fx.dir, 'operators.json'), '--json']
    const routed = await runArk([...base, '--cid', cert.cid.toString(), '--routing', node.httpUrl!, '--out', join(fx.dir, 'by-cid-routing')])
    expect(routed.code, routed.stderr).toBe(0)
    const summary = JSON.parse(routed.stdout) as { snapshot: string; certificate: string; source: string }
    expect(summary).toMatchObject({ snapshot: cert.certificate.body.snapshotCid.toString(), certificate: cert.cid.toString() })
    expect(summary.source).toContain(`/p2p/${node.network.peerId.toString()}`)
    const gw = await runArk([...base, '--cid', cert.cid.toString(), '--gateway', fx.nodes[1]!.httpUrl!, '--out', join(fx.dir, 'by-cid-gateway')])
    expect(gw.code, gw.stderr).toBe(0)
    const notCert = await runArk([...base, '--cid', cert.certificate.body.snapshotCid.toString(), '--gateway', node.httpUrl!, '--out', join(fx.dir, 'by-cid-wrong')])
    expect(notCert.code).not.toBe(0)
    expect(notCert.stderr).toMatch(/certificate|decode/i)
    const both = await runArk([...base, '--cid', cert.cid.toString(), '--block', 'latest', '--gateway', node.httpUrl!, '--out', join(fx.dir, 'x')])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('exactly one of --block and --cid')
  }, 180_000)
})
