/**
 * Fixtures for the recovery client tests and the recovery benchmark: a
 * certified synthetic snapshot, an archive node's serving side (real libp2p
 * on 127.0.0.1, real Helia with bitswap on disk, the catch-up protocol, the
 * node HTTP API and trustless gateway), and a fault-injecting HTTP proxy.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { certificateFrom, certificateJSON, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { CarStreamReader } from '../../snapshot/car/stream.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import type { SnapshotMeta } from '../../snapshot/state/root.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { serveCatchup } from '../../node/p2p/catchup.ts'
import { createHttpApi, type CheckpointView, type HttpApi, type NodeView } from '../../node/http/server.ts'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'
import { addr, body, OP, sign } from '../protocol/support.ts'

export interface Certified {
  store: MemoryBlockStore
  snapshot: Snapshot<unknown, unknown>
  certificate: Certificate
  certificateBlock: Block
  checkpoint: CheckpointView
}

/** A synthetic snapshot and a certificate for it signed by `signers` (default 3 of the 4 test operators: quorum). */
export async function certifiedSnapshot(o: { accounts: number; seed: string; meta?: SnapshotMeta; signers?: PrivateKeyAccount[]; store?: MemoryBlockStore }): Promise<Certified> {
  const opts = { accounts: o.accounts, seed: o.seed }
  const store = o.store ?? new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: o.meta ?? synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store })
  return certifySnapshot(snapshot as Snapshot<unknown, unknown>, store, o.signers)
}

/** A certificate for `snapshot` (its blocks in `store`) signed by `signers` (default 3 of the 4 test operators). */
export async function certifySnapshot(snapshot: Snapshot<unknown, unknown>, store: MemoryBlockStore, signers: PrivateKeyAccount[] = OP.slice(0, 3)): Promise<Certified> {
  const b = body({
    chainId: snapshot.root.block.chainId,
    adapterId: snapshot.root.adapter.id,
    configHash: snapshot.root.adapter.configHash as `0x${string}`,
    blockNumber: snapshot.root.block.number,
    blockHash: snapshot.root.block.hash as `0x${string}`,
    snapshotCid: snapshot.cid,
    stateRoot: snapshot.root.stateRoot as `0x${string}`,
  })
  const certificate = certificateFrom(await Promise.all(signers.map((a) => sign(b, a))))
  const certificateBlock = encodeCertificate(certificate)
  const checkpoint: CheckpointView = {
    block: b.blockNumber.toString(),
    kind: 'scheduled',
    certificateCid: certificateBlock.cid.toString(),
    snapshotCid: snapshot.cid.toString(),
    stateRoot: b.stateRoot,
    blockHash: b.blockHash,
    signers: signers.map((a) => ({ signer: addr(a), weight: '1' })),
    weight: String(signers.length),
    threshold: '3',
    certificate: certificateJSON(certificate),
  }
  return { store, snapshot, certificate, certificateBlock, checkpoint }
}

/** Every block of the snapshot DAG in the store (root, markets, tree). */
export async function snapshotBlocks(c: Certified): Promise<Block[]> {
  const out: Block[] = []
  for await (const cid of c.snapshot.blockCids()) out.push({ cid, bytes: c.store.get(cid) })
  return out
}

export interface ServingNode {
  network: ArkNetwork
  http: HttpApi
  /** libp2p address with /p2p/<peer id> */
  multiaddr: string
  url: string
  stop(): Promise<void>
}

/**
 * The serving side of an archive node over `certified` snapshots: blocks and
 * certificate blocks in Helia's on-disk blockstore, certificates over the
 * catch-up protocol, checkpoints and the gateway over HTTP. `corrupt` CIDs
 * are stored with one byte flipped (a node whose disk lies).
 */
export async function startServingNode(dataDir: string, certified: Certified[], options: { corrupt?: CID[] } = {}): Promise<ServingNode> {
  const network = await createArkNetwork({
    dataDir,
    chainId: 31337n,
    adapterId: 'synth',
    context: () => {
      throw new Error('this node validates no gossip')
    },
  })
  await network.start()
  const raw = (network.helia.blockstore as unknown as { unwrap(): { put(cid: CID, bytes: Uint8Array): Promise<unknown> } }).unwrap()
  const corrupt = new Set((options.corrupt ?? []).map(String))
  for (const c of certified) {
    await raw.put(c.certificateBlock.cid, c.certificateBlock.bytes)
    let batch: Promise<unknown>[] = []
    for await (const cid of c.snapshot.blockCids()) {
      let bytes = c.store.get(cid)
      if (corrupt.has(cid.toString())) {
        bytes = bytes.slice()
        bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01
      }
      batch.push(raw.put(cid, bytes))
      if (batch.length >= 64) {
        await Promise.all(batch)
        batch = []
      }
    }
    await Promise.all(batch)
  }
  const sorted = [...certified].sort((a, b) => (a.certificate.body.blockNumber < b.certificate.body.blockNumber ? -1 : 1))
  await serveCatchup(network.libp2p, (from, limit) => sorted.filter((c) => c.certificate.body.blockNumber >= from).slice(0, limit).map((c) => c.certificateBlock.bytes))
  const cps = sorted.map((c) => c.checkpoint)
  const view: NodeView = {
    status: () => ({ peerId: network.peerId.toString() }),
    checkpoints: (r) => cps.filter((c) => (r.from === undefined || BigInt(c.block) >= r.from) && (r.to === undefined || BigInt(c.block) <= r.to)).slice(0, r.limit),
    checkpoint: (b) => (b === 'latest' ? cps.at(-1) : cps.find((c) => BigInt(c.block) === b)),
    evidence: () => [],
    blocks: network.blocks,
    metrics: () => '',
    health: () => ({ ok: true, reasons: [] }),
  }
  const http = createHttpApi({ view, logger: pino({ level: 'silent' }) })
  const { url } = await http.start()
  const ma = network.multiaddrs().find((m) => m.toString().includes('/ip4/127.0.0.1/'))!
  return {
    network,
    http,
    multiaddr: ma.toString(),
    url,
    async stop() {
      await http.stop().catch(() => {})
      await network.stop().catch(() => {})
    },
  }
}

export type ProxyMode =
  /** pass everything through */
  | { kind: 'pass' }
  /** CAR responses: stop sending (but keep the connection open) after this many body bytes */
  | { kind: 'stall'; afterBytes: number }
  /** CAR responses: tear the connection down after this many body bytes */
  | { kind: 'cut'; afterBytes: number }
  /** CAR responses: flip one byte at this offset from the end */
  | { kind: 'tamper'; fromEnd: number }

export interface FaultProxy {
  url: string
  mode: ProxyMode
  /** CIDs of the blocks in the CAR bodies relayed in full, per request path */
  served: { path: string; cids: string[] }[]
  requests: string[]
  close(): Promise<void>
}

/** An HTTP proxy in front of a gateway that injects faults into CAR responses and records what it relayed. */
export async function faultProxy(upstream: string, mode: ProxyMode): Promise<FaultProxy> {
  const p: FaultProxy = { url: '', mode, served: [], requests: [], close: async () => {} }
  const open = new Set<ServerResponse>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      open.add(res)
      res.on('close', () => open.delete(res))
      p.requests.push(String(req.url))
      const up = await fetch(`${upstream}${req.url}`, { headers: { accept: String(req.headers.accept ?? '') } })
      const isCar = String(up.headers.get('content-type')).startsWith('application/vnd.ipld.car')
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' })
      if (!isCar || up.body === null) {
        res.end(Buffer.from(await up.arrayBuffer()))
        return
      }
      const m = p.mode
      const body = Buffer.from(await up.arrayBuffer())
      if (m.kind === 'tamper') body[body.length - m.fromEnd] = body[body.length - m.fromEnd]! ^ 0xff
      if (m.kind === 'stall') {
        res.write(body.subarray(0, m.afterBytes))
        return // never ends: the client must notice
      }
      if (m.kind === 'cut') {
        res.write(body.subarray(0, m.afterBytes), () => res.destroy())
        return
      }
      const reader = new CarStreamReader()
      p.served.push({ path: String(req.url), cids: reader.push(body).map((b) => b.cid.toString()) })
      res.end(body)
    })().catch(() => res.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  p.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  p.close = async () => {
    for (const r of open) r.destroy()
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }
  return p
}
