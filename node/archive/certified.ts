import { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import { CHECKPOINT_KIND } from '../../protocol/attestation.ts'
import { decodeCertificate, verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import { encodeEvidence, type Evidence } from '../../protocol/evidence.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { diffSnapshots } from '../../snapshot/state/diff.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { AggregatorEvent } from '../../protocol/aggregator.ts'
import { RECORD_LIMITS, ReportLog } from './bounded.ts'
import type { CertificateStore } from './certificate-store.ts'
import type { EvidenceStore } from './evidence-store.ts'
import type { OwnSignature } from './attester.ts'
import type { FetchLane, SnapshotFetches } from './snapshot-fetches.ts'
import { background } from '../util/background.ts'

export interface Divergence {
  block: string
  ours: string
  certified: string
  accounts: string[]
}

export type CertificateSource = 'gossip' | 'aggregated' | 'catchup'

export interface CertificateHandlingInit {
  network: { chainId: bigint; adapterId: string; configHash: `0x${string}` }
  certificates: CertificateStore
  evidence: EvidenceStore
  fetches: SnapshotFetches
  store: () => BlockStore
  adapter: Adapter
  /** make a DAG present locally (fetchDag over the node's Helia), bounded by `signal` */
  fetchDag: (root: CID, signal: AbortSignal) => Promise<unknown>
  /** is every block of this root already local (our own snapshot) */
  hasLocally: (root: CID) => Promise<boolean>
  publish: (kind: 'certificate' | 'evidence', bytes: Uint8Array) => Promise<unknown>
  /** the operator set that counts at a block (catch-up verification) */
  operatorsAt: (block: bigint) => Promise<OperatorSet>
  own: (block: bigint) => OwnSignature | undefined
  /** the retention floor: older certificates are ignored (not stored, not fetched) */
  floor: () => bigint
  /** the newest block anything may be about (the validity window's look-ahead) */
  ceiling: () => bigint
  /** is this block the current checkpoint or close to it: its fetch takes the live lane (older ones, however they came, queue behind history) */
  recent: (block: bigint) => boolean
  applyRetention: () => Promise<void>
  watchdog: () => { onCertified(cert: Certificate, cid: CID): Promise<void> } | undefined
  onQuorumLatency: (seconds: number) => void
  /** a certificate newly held (after the watchdog saw it) */
  onCertified?: (cert: Certificate, from: CertificateSource) => void
  /** a certified snapshot is now held locally (the node writes its proof index) */
  onSnapshotKept?: (root: CID) => Promise<void>
  counters: { certificates: number; catchupCertificates: number; divergences: number; signerCapIgnored: number }
  log: Logger
  signal: AbortSignal
}

/**
 * Certificate handling: a certificate from gossip, our aggregation or
 * catch-up is stored, its snapshot kept (fetched from a bounded queue with a
 * deadline unless it is our own), compared with ours (divergence), and
 * retention applied. Aggregator evidence goes to the evidence store and the
 * evidence topic. Certificates below the retention floor are ignored.
 */
export class CertificateHandling {
  private readonly init: CertificateHandlingInit
  readonly divergences = new ReportLog<Divergence>(RECORD_LIMITS.divergences)

  constructor(init: CertificateHandlingInit) {
    this.init = init
  }

  /** Events of the aggregator (our attestation, a peer's, a gossiped certificate merged). */
  onEvents(events: AggregatorEvent[]): void {
    for (const e of events) {
      if (e.type === 'certificate' || e.type === 'extended') background(this.onCertificate(e.certificate, 'aggregated'), this.init.log, 'handling an aggregated certificate', this.init.signal)
      else if (e.type === 'ignored' && e.reason === 'SIGNER_CAP') {
        // counted, never a peer penalty: the cap is this node's own state, and an honest relay that forwarded
        // the attestation before its own cap filled did nothing wrong (the attacker's score falls through the
        // rejects of PROTOCOL.md §7: off-schedule, far-ahead, forged)
        if (this.init.counters.signerCapIgnored++ % 1000 === 0) this.init.log.warn({ signer: e.signer, checkpoint: e.checkpoint }, 'operator holds too many open checkpoints: its attestations for new ones are ignored')
      } else if (e.type === 'evidence') {
        if (this.keepEvidence(e.evidence) !== 'added') continue
        this.init.log.warn({ signer: e.signer, checkpoint: e.checkpoint }, 'equivocation: operator signed two different snapshots for one checkpoint')
        this.init.publish('evidence', encodeEvidence(e.evidence)).catch((err: unknown) => this.init.log.debug({ err }, 'publishing evidence failed'))
      }
    }
  }

  /** Evidence from gossip or the aggregator, kept within the validity window and under the store's bounds. */
  keepEvidence(e: Evidence): ReturnType<EvidenceStore['add']> {
    return this.init.evidence.add(e, this.init.floor(), this.init.ceiling())
  }

  async onCertificate(cert: Certificate, from: CertificateSource): Promise<void> {
    const i = this.init
    try {
      const b = cert.body.blockNumber
      // replayed history (genuine but past retention) costs nothing: not stored, not fetched
      if (b < i.floor()) return
      let block: { cid: CID; bytes: Uint8Array } | undefined
      const kept = await i.certificates.put(cert, async (b) => {
        block = b
        await i.store().put(b)
      })
      if (!kept || block === undefined) return
      await i.watchdog()?.onCertified(cert, block.cid)
      if (from !== 'catchup') i.counters.certificates++
      i.onCertified?.(cert, from)
      const mySig = i.own(b)
      if (mySig !== undefined && from !== 'catchup') i.onQuorumLatency((Date.now() - mySig.signedAt) / 1000)
      else i.counters.catchupCertificates++
      i.log.info({ block: b.toString(), certificate: block.cid.toString(), snapshot: cert.body.snapshotCid.toString(), signers: cert.signatures.length, from }, 'certified')
      if (from === 'aggregated') await i.publish('certificate', block.bytes).catch((err: unknown) => i.log.debug({ err }, 'publishing the certificate failed'))
      this.keepSnapshot(cert, from !== 'catchup' && i.recent(b) ? 'live' : 'catchup')
    } catch (err) {
      if (!i.signal.aborted) i.log.warn({ err }, 'handling a certificate failed')
    }
  }

  /** Keep a certified snapshot locally (fetch what we lack, from a bounded queue with a deadline), compare it with ours, apply retention. */
  private keepSnapshot(cert: Certificate, lane: FetchLane): void {
    const i = this.init
    const b = cert.body.blockNumber
    const root = cert.body.snapshotCid
    i.fetches.enqueue(lane, `${b}-${cert.body.kind}-${root.toString()}`, async (signal) => {
      // a restitution table (kind 2) shares its block with the after snapshot: our own signature there is a snapshot's, not a table's
      const mine = cert.body.kind === CHECKPOINT_KIND.restitution ? undefined : i.own(b)
      // our own snapshot is the certified one: we wrote every block of it when deriving, so walking the whole
      // DAG again (thousands of disk reads per certificate, starving derivations running beside it) adds nothing
      const ours = mine?.snapshot === root.toString() && (await i.hasLocally(root))
      if (!ours) await i.fetchDag(root, signal)
      if (mine !== undefined && mine.snapshot !== root.toString()) await this.reportDivergence(b, mine.snapshot, root)
      await i.applyRetention()
      if (i.onSnapshotKept !== undefined && b >= i.floor()) background(i.onSnapshotKept(root), i.log, 'writing the proof index', i.signal)
    })
  }

  private async reportDivergence(block: bigint, ours: string, certified: CID): Promise<void> {
    const store = this.init.store()
    const schema = this.init.adapter.schema
    const a = await Snapshot.open(store, CID.parse(ours), schema, { verifyBlocks: false })
    const b = await Snapshot.open(store, certified, schema, { verifyBlocks: false })
    const accounts: string[] = []
    for await (const d of diffSnapshots(a, b)) if (accounts.push(d.account) >= 1000) break
    this.divergences.push({ block: block.toString(), ours, certified: certified.toString(), accounts })
    this.init.counters.divergences++
    this.init.log.error({ block: block.toString(), ours, certified: certified.toString(), accounts: accounts.slice(0, 20), differing: accounts.length }, 'divergence: our snapshot differs from the certified one')
  }

  /** A certificate from catch-up: kept if it is for this network, within retention, new (or has more signatures) and verifies against the set at its block. */
  async acceptCaughtUp(bytes: Uint8Array): Promise<boolean> {
    const i = this.init
    const cert = decodeCertificate(bytes)
    const n = i.network
    if (cert.body.chainId !== n.chainId || cert.body.adapterId !== n.adapterId || cert.body.configHash !== n.configHash) return false
    if (cert.body.blockNumber < i.floor()) return false
    const had = i.certificates.get(cert.body.blockNumber, cert.body.kind)
    if (had !== undefined && had.certificate.signatures.length >= cert.signatures.length) return false
    await verifyCertificate(cert, await i.operatorsAt(cert.body.blockNumber))
    await this.onCertificate(cert, 'catchup')
    return true
  }
}
