import type { RestitutionRequest } from './restitution.ts'
import { certificateJSON } from '../../protocol/certificate.ts'
import { signedWeight, type OperatorSet } from '../../protocol/operator-set.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { CheckpointView, EvidencePage, NodeView } from '../http/server.ts'
import type { PromRegistry } from '../http/metrics.ts'
import type { ProofSource } from '../http/api-proof.ts'
import type { CertificateStore, StoredCertificate } from './certificate-store.ts'
import type { Divergence } from './certified.ts'
import type { EvidenceStore } from './evidence-store.ts'
import type { Watchdog } from '../watchdog/service.ts'
import { bigintReplacer } from '../../snapshot/codec/json.ts'
import type { AttestationBody } from '../../protocol/attestation.ts'
import type { Anchoring } from './anchoring.ts'
import type { ProviderRecord } from '../http/api-routing.ts'

/** What the HTTP API and the metrics read: a narrow, read-only state, never the node itself. */
export interface NodeReadState {
  status(): Record<string, unknown>
  counters: Readonly<Record<string, number>>
  certificates: Pick<CertificateStore, 'get' | 'latest' | 'latestOfKind' | 'range' | 'size'>
  evidence: Pick<EvidenceStore, 'page' | 'size'>
  /** the operator set that counts at a block (the registry's set at that block; cached) */
  operatorsAt(block: bigint): Promise<OperatorSet>
  finalizedHead(): bigint
  peers(): number
  gossipCounts(): Iterable<{ kind: string; action: string; code: string; count: number }>
  /** local blocks only */
  blocks: BlockStore
  fatal(): Error | undefined
  /** does the node expect peers (a bootstrap list) */
  expectsPeers: boolean
  /** bootstrap peers configured */
  bootstrapPeers: number
  /** blocks between scheduled checkpoints */
  checkpointInterval: bigint
  /** the first certificate catch-up has finished */
  caughtUp(): boolean
  /** the next checkpoint this node will derive (undefined before the schedule starts) */
  nextCheckpoint(): bigint | undefined
  watchdog: Watchdog | undefined
  snapshotNow(block?: bigint): Promise<Record<string, unknown>>
  restitution?(req: RestitutionRequest): Promise<Record<string, unknown>>
  /** divergence reports kept (bounded, newest last; the explorer's network page) */
  divergences?(): readonly Divergence[]
  /** the proof index (GET /v1/checkpoints/{block}/proof/{account}) */
  proofs?: ProofSource
  /** with a registry: whether a certified checkpoint's stateRoot is recorded there */
  anchoring?(body: AttestationBody): Promise<Anchoring>
  /** this node's peer id and dial addresses (GET /routing/v1/providers/{cid}) */
  provider?(): ProviderRecord
}

const jsonSafe = (v: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(v, bigintReplacer)) as Record<string, unknown>

/** One checkpoint as the API shows it: weights and threshold of the operator set at its block (not the latest set). */
export function checkpointView(ops: OperatorSet, s: StoredCertificate): CheckpointView {
  const signers = s.certificate.signatures.map((x) => ({ signer: x.signer, weight: (ops.weights.get(x.signer.toLowerCase() as `0x${string}`) ?? 0n).toString() }))
  const weight = signedWeight(ops, s.certificate.signatures.map((x) => x.signer))
  const b = s.certificate.body
  return {
    block: b.blockNumber.toString(),
    kind: b.kind === 2 ? 'restitution' : b.kind === 1 ? 'emergency' : 'scheduled',
    certificateCid: s.cid.toString(),
    snapshotCid: b.snapshotCid.toString(),
    stateRoot: b.stateRoot,
    blockHash: b.blockHash,
    signers,
    weight: weight.toString(),
    threshold: ops.threshold.toString(),
    certificate: jsonSafe(certificateJSON(s.certificate)),
  }
}

/**
 * Ready to serve (GET /readyz): not stopped on an error, its first certificate catch-up done, not a whole
 * checkpoint interval behind the newest scheduled certificate it holds (the network's certified head) in
 * its chain view (final head) or its own schedule (next checkpoint), and at least min(bootstrap peers, 1)
 * peers connected. The interval of slack keeps a node that is merely slower than the quorum from flapping.
 */
export function readiness(state: NodeReadState): { ok: boolean; reasons: string[] } {
  const reasons: string[] = []
  const fatal = state.fatal()
  if (fatal !== undefined) reasons.push(`fatal: ${fatal.message}`)
  if (!state.caughtUp()) reasons.push('catching up: the first certificate catch-up with peers has not finished')
  const certified = state.certificates.latestOfKind(0)?.certificate.body.blockNumber
  if (certified !== undefined) {
    const slack = state.checkpointInterval
    const head = state.finalizedHead()
    if (head + slack <= certified) reasons.push(`behind the certified head: final block ${head} is a checkpoint interval or more below certified block ${certified} (is the RPC endpoint behind?)`)
    const next = state.nextCheckpoint()
    if (next !== undefined && next + slack <= certified) reasons.push(`behind the certified head: next own checkpoint ${next} is a checkpoint interval or more below certified block ${certified}`)
  }
  const want = Math.min(state.bootstrapPeers, 1)
  const peers = state.peers()
  if (peers < want) reasons.push(`${peers} peers connected, want at least ${want}`)
  return { ok: reasons.length === 0, reasons }
}

export function nodeView(state: NodeReadState, metrics: PromRegistry): NodeView {
  const view = async (s: StoredCertificate): Promise<CheckpointView> => checkpointView(await state.operatorsAt(s.certificate.body.blockNumber), s)
  return {
    status: () => state.status(),
    checkpoints: ({ from, to, limit }) => Promise.all(state.certificates.range(from, to, limit).map(view)),
    checkpoint: async (block) => {
      const s = block === 'latest' ? state.certificates.latest() : state.certificates.get(block)
      return s === undefined ? undefined : view(s)
    },
    ...(state.watchdog === undefined ? {} : { alerts: () => state.watchdog!.view() }),
    ...(state.provider === undefined ? {} : { provider: () => state.provider!() }),
    ...(state.proofs === undefined ? {} : { proofs: state.proofs }),
    ...(state.divergences === undefined ? {} : { divergences: () => state.divergences!().map((d) => ({ ...d })) }),
    ...(state.anchoring === undefined
      ? {}
      : {
          anchoring: async (block: bigint) => {
            const s = state.certificates.get(block)
            return s === undefined ? undefined : { ...(await state.anchoring!(s.certificate.body)) }
          },
        }),
    operators: async () => {
      const ops = await state.operatorsAt(state.finalizedHead())
      return { operators: [...ops.weights].sort(([a], [b]) => (a < b ? -1 : 1)).map(([address, weight]) => ({ address, weight: weight.toString() })), threshold: ops.threshold.toString(), totalWeight: ops.totalWeight.toString() }
    },
    evidence: ({ cursor, limit }): EvidencePage => {
      const page = state.evidence.page(cursor, limit)
      return {
        evidence: page.items.map(({ evidence: e, bytes }) => ({ signer: e.a.signer, block: e.a.body.blockNumber.toString(), a: e.a.body.snapshotCid.toString(), b: e.b.body.snapshotCid.toString(), bytes: bytesToHex(bytes) })),
        next: page.next === undefined ? null : String(page.next),
      }
    },
    blocks: state.blocks,
    metrics: () => metrics.text(),
    admin: { snapshotNow: (block) => state.snapshotNow(block), ...(state.restitution === undefined ? {} : { restitution: (req: RestitutionRequest) => state.restitution!(req) }) },
    ready: () => readiness(state),
    health: () => {
      const reasons: string[] = []
      const fatal = state.fatal()
      if (fatal !== undefined) reasons.push(`fatal: ${fatal.message}`)
      if (state.peers() === 0 && state.expectsPeers) reasons.push('no peers connected')
      return { ok: reasons.length === 0, reasons }
    },
  }
}
