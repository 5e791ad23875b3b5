import type { CID } from 'multiformats/cid'
import { CID as CIDClass } from 'multiformats/cid'
import { decodeCertificate, verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { readCar } from '../../snapshot/car/car.ts'
import { checkBlock } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/errors.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { MemoryBlockStore } from '../../snapshot/store.ts'

export type BlockQuery = { kind: 'number'; block: bigint } | { kind: 'latest' } | { kind: 'before'; block: bigint }

export function parseBlockQuery(s: string): BlockQuery {
  if (s === 'latest') return { kind: 'latest' }
  if (/^before:[0-9]+$/.test(s)) return { kind: 'before', block: BigInt(s.slice(7)) }
  if (/^[0-9]+$/.test(s)) return { kind: 'number', block: BigInt(s) }
  throw new ArkError('USAGE', `--block must be N, latest or before:N, got ${JSON.stringify(s)}`)
}

export interface Fetched {
  certificate: Certificate
  certificateCid: CID
  certificateBytes: Uint8Array
  snapshot: Snapshot<unknown, unknown>
  car: Uint8Array
  store: MemoryBlockStore
  weight: bigint
  source: string
}

export interface FetchOptions {
  gateways: string[]
  chainId: bigint
  adapterId: string
  query: BlockQuery
  trust: OperatorSet
  signal?: AbortSignal
  timeoutMs?: number
}

async function getJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal, headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return res.json()
}

async function getBytes(url: string, accept: string, signal: AbortSignal): Promise<Uint8Array> {
  const res = await fetch(url, { signal, headers: { accept } })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}

/** Which certificate the source says answers the query (an untrusted hint: everything is verified after). */
async function locate(base: string, o: FetchOptions, signal: AbortSignal): Promise<string> {
  if (o.query.kind === 'latest') return ((await getJson(`${base}/v1/checkpoints/latest`, signal)) as { certificateCid: string }).certificateCid
  if (o.query.kind === 'number') return ((await getJson(`${base}/v1/checkpoints/${o.query.block}`, signal)) as { certificateCid: string }).certificateCid
  if (o.query.block === 0n) throw new Error('no checkpoint before block 0')
  const list = ((await getJson(`${base}/v1/checkpoints?to=${o.query.block - 1n}&limit=1000`, signal)) as { checkpoints: { block: string; certificateCid: string }[] }).checkpoints
  const best = list.filter((c) => BigInt(c.block) < (o.query as { block: bigint }).block).sort((a, b) => (BigInt(a.block) < BigInt(b.block) ? 1 : -1))[0]
  if (best === undefined) throw new Error(`no certified checkpoint before block ${o.query.block}`)
  return best.certificateCid
}

/**
 * Fetch a certified snapshot from untrusted trustless gateways: the certificate
 * is checked against the trusted operator set, every block against its CID,
 * and the snapshot's account count and stateRoot are recomputed from the
 * leaves. A source that fails any check is dropped and the next one tried.
 */
export async function fetchCertified(o: FetchOptions): Promise<Fetched> {
  const reasons: string[] = []
  for (const g of o.gateways) {
    const base = g.replace(/\/+$/, '')
    const signal = AbortSignal.any([o.signal ?? new AbortController().signal, AbortSignal.timeout(o.timeoutMs ?? 120_000)])
    try {
      const certificateCid = CIDClass.parse(await locate(base, o, signal))
      const certificateBytes = await getBytes(`${base}/ipfs/${certificateCid}?format=raw`, 'application/vnd.ipld.raw', signal)
      checkBlock(certificateCid, certificateBytes)
      const certificate = decodeCertificate(certificateBytes)
      const b = certificate.body
      if (b.chainId !== o.chainId || b.adapterId !== o.adapterId) throw new Error(`certificate is for chain ${b.chainId} adapter ${b.adapterId}, not chain ${o.chainId} adapter ${o.adapterId}`)
      if (o.query.kind === 'number' && b.blockNumber !== o.query.block) throw new Error(`certificate is for block ${b.blockNumber}, not ${o.query.block}`)
      if (o.query.kind === 'before' && b.blockNumber >= o.query.block) throw new Error(`certificate is for block ${b.blockNumber}, not before ${o.query.block}`)
      const { weight } = await verifyCertificate(certificate, o.trust)
      const car = await getBytes(`${base}/ipfs/${b.snapshotCid}?format=car`, 'application/vnd.ipld.car', signal)
      const { roots, store } = readCar(car)
      if (!roots[0]!.equals(b.snapshotCid)) throw new Error(`CAR root ${roots[0]} is not the certified snapshot ${b.snapshotCid}`)
      const rootBytes = store.get(b.snapshotCid)
      const { decodeRoot } = await import('../../snapshot/state/root.ts')
      const snapshot = await Snapshot.open(store, b.snapshotCid, schemaById(decodeRoot(b.snapshotCid, rootBytes).schema.id), { verifyBlocks: false })
      await snapshot.verify()
      if (snapshot.root.stateRoot !== b.stateRoot.toLowerCase()) throw new Error(`snapshot stateRoot ${snapshot.root.stateRoot} differs from the certified ${b.stateRoot}`)
      if (snapshot.root.block.hash !== b.blockHash.toLowerCase() || snapshot.root.block.number !== b.blockNumber) throw new Error('snapshot block differs from the certified block')
      return { certificate, certificateCid, certificateBytes, snapshot, car, store, weight, source: base }
    } catch (err) {
      reasons.push(`${base}: ${(err as Error).message}`)
    }
  }
  throw new ArkError('IO', `no source delivered a verified snapshot:\n  ${reasons.join('\n  ')}\ntry other --gateway sources`, { retryable: true, details: { reasons } })
}
