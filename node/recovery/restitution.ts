import { CID } from 'multiformats/cid'
import { CHECKPOINT_KIND } from '../../protocol/attestation.ts'
import { decodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { checkBlock } from '../../snapshot/codec/block.ts'
import { Restitution } from '../../snapshot/restitution/open.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { readBounded, readBoundedJson } from './bounded-body.ts'
import { SourceError, Watchdog, type FetchSource } from './source.ts'
import { Staging } from './staging.ts'
import { asTrustRoot, verifyAgainst, type TrustRoot } from './trust.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'

/**
 * Open the restitution table a kind-2 certificate names and check that it is
 * exactly what was certified: everything Restitution.verify checks (blocks,
 * exclusion list against its hash, canonical tree, every row, the total
 * leaves against the rows and the root's totals, the Merkle root), and the
 * root's Merkle root, chain, adapter and after block equal to the
 * certificate's. Nothing is recomputed from the two snapshots (they are
 * named by CID and stateRoot; fetch them to recompute). Signatures are
 * checked by the caller against a trust root.
 */
export async function openCertifiedRestitution(certificate: Certificate, store: BlockStore, options: { blocksChecked?: boolean } = {}): Promise<Restitution> {
  const b = certificate.body
  if (b.kind !== CHECKPOINT_KIND.restitution) throw new ProtocolError('MISMATCH', `the certificate is of kind ${b.kind}, not a restitution table (kind 2); fetch it as a snapshot`)
  const table = await Restitution.open(store, b.snapshotCid, { verifyBlocks: options.blocksChecked !== true })
  await table.verify()
  const r = table.root
  const differs = (what: string, certified: unknown, found: unknown): never => {
    throw new ProtocolError('MISMATCH', `the restitution table's ${what} is ${String(found)} but the certificate says ${String(certified)}; the table is not the certified one`)
  }
  if (r.root !== b.stateRoot.toLowerCase()) differs('Merkle root (recomputed from the rows)', b.stateRoot, r.root)
  if (r.after.blockNumber !== b.blockNumber) differs('after block number', b.blockNumber, r.after.blockNumber)
  if (r.after.blockHash !== b.blockHash.toLowerCase()) differs('after block hash', b.blockHash, r.after.blockHash)
  if (r.chainId !== b.chainId) differs('chain id', b.chainId, r.chainId)
  if (r.adapter.id !== b.adapterId) differs('adapter', b.adapterId, r.adapter.id)
  if (r.adapter.configHash !== b.configHash.toLowerCase()) differs('adapter configHash', b.configHash, r.adapter.configHash)
  return table
}

/** The kind-2 certificate a gateway lists at `block` (untrusted: the caller hash-checks and verifies it). */
async function locateByBlock(url: string, block: bigint, signal: AbortSignal): Promise<CID> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/v1/checkpoints?from=${block}&to=${block}`, { signal, headers: { accept: 'application/json' } })
  if (!res.ok) throw new SourceError(`listing block ${block}: HTTP ${res.status}`)
  const listing = (await readBoundedJson(res, 'listing', `listing of block ${block}`)) as { checkpoints?: unknown }
  const items = Array.isArray(listing?.checkpoints) ? (listing.checkpoints as { kind?: unknown; block?: unknown; certificateCid?: unknown }[]) : []
  const hit = items.find((c) => c?.kind === 'restitution' && c.block === block.toString())
  if (hit === undefined || typeof hit.certificateCid !== 'string') throw new SourceError(`it holds no restitution certificate at block ${block}`)
  try {
    return CID.parse(hit.certificateCid)
  } catch (cause) {
    throw new SourceError(`its listing names a certificate that is not a CID`, { cause })
  }
}

export interface FetchRestitutionOptions {
  /** base URLs of archive nodes' HTTP APIs / trustless gateways, tried in order */
  gateways: string[]
  /** make a FetchSource for a gateway (recovery/gateway-source.ts's gatewaySource) */
  source: (url: string) => FetchSource
  /** the kind-2 certificate block to fetch (GET /v1/checkpoints lists it), or `block` */
  certificate?: CID
  /** the after block of the table: each gateway is asked which kind-2 certificate it holds there */
  block?: bigint
  trust: OperatorSet | TrustRoot
  /** staging directory for the blocks (kept for a rerun on failure) */
  staging: string
  signal?: AbortSignal
  stallMs?: number
  onNotice?: (message: string) => void
}

export interface FetchedRestitution {
  certificate: Certificate
  certificateCid: CID
  certificateBytes: Uint8Array
  table: Restitution
  weight: bigint
  source: string
  staging: Staging
}

/**
 * Fetch a certified restitution table from untrusted gateways: the
 * certificate block (hash-checked, verified against the trust root), then
 * every block of the table through the recovery sources (each hash-checked on
 * arrival), then openCertifiedRestitution. A gateway that fails any step is
 * dropped and the next one tried.
 */
export async function fetchRestitution(o: FetchRestitutionOptions): Promise<FetchedRestitution> {
  if ((o.certificate === undefined) === (o.block === undefined)) throw new ArkError('USAGE', 'name the restitution table by its certificate CID or by its after block, one of the two')
  const trust = asTrustRoot(o.trust)
  await trust.prepare?.(o.signal)
  const reasons: string[] = []
  for (const url of o.gateways) {
    const watch = new Watchdog({ stallMs: o.stallMs ?? 30_000, ...(o.signal === undefined ? {} : { parent: o.signal }) })
    const src = o.source(url)
    let staging: Staging | undefined
    try {
      const certCid = o.certificate ?? (await locateByBlock(url, o.block!, watch.signal))
      const res = await fetch(`${url.replace(/\/+$/, '')}/ipfs/${certCid.toString()}?format=raw`, { signal: watch.signal, headers: { accept: 'application/vnd.ipld.raw' } })
      if (!res.ok) throw new SourceError(`certificate ${certCid.toString()}: HTTP ${res.status}`)
      const bytes = await readBounded(res, 'certificate', `certificate ${certCid.toString()}`)
      checkBlock(certCid, bytes)
      const certificate = decodeCertificate(bytes)
      if (o.block !== undefined && certificate.body.blockNumber !== o.block) throw new SourceError(`its restitution certificate is for block ${certificate.body.blockNumber}, not ${o.block}`)
      if (certificate.body.kind !== CHECKPOINT_KIND.restitution) throw new ArkError('INVALID_INPUT', `certificate ${certCid.toString()} is of kind ${certificate.body.kind}, not a restitution table; use ark fetch --block for snapshots`)
      const { weight } = await verifyAgainst(trust, certificate, watch.signal)
      staging = (await Staging.open(o.staging, bytes)).staging
      await src.fetchBlocks(certificate.body.snapshotCid, staging, watch)
      await staging.flush()
      const table = await openCertifiedRestitution(certificate, staging.memory, { blocksChecked: true })
      return { certificate, certificateCid: certCid, certificateBytes: bytes, table, weight, source: url, staging }
    } catch (err) {
      // kept on disk for the next gateway or a rerun; its file handle is not
      await staging?.close().catch(() => {})
      o.signal?.throwIfAborted()
      if (err instanceof ArkError && err.code === 'INVALID_INPUT') throw err
      if (err instanceof ProtocolError && err.reason === 'MISMATCH') throw err
      const why = (err as Error)?.message ?? String(err)
      reasons.push(`gateway ${url}: ${why}`)
      o.onNotice?.(`dropped gateway ${url}: ${why}`)
    } finally {
      watch.dispose()
      await src.close().catch(() => {})
    }
  }
  throw new ArkError('IO', `no gateway delivered the certified restitution table ${o.certificate?.toString() ?? `of block ${o.block}`}:\n  ${reasons.join('\n  ')}\ntry other --gateway sources`, { retryable: true })
}
