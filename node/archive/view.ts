import { certificateJSON } from '../../protocol/certificate.ts'
import { signedWeight, type OperatorSet } from '../../protocol/operator-set.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { CheckpointView, EvidencePage, NodeView } from '../http/server.ts'
import { PromRegistry } from '../http/metrics.ts'
import type { CertificateStore, StoredCertificate } from './certificate-store.ts'
import type { Divergence } from './certified.ts'
import type { EvidenceStore } from './evidence-store.ts'
import type { Watchdog } from '../watchdog/service.ts'
import { registerWatchdogMetrics } from '../watchdog/metrics.ts'
import { bigintReplacer } from '../../snapshot/codec/json.ts'

/** What the HTTP API and the metrics read: a narrow, read-only state, never the node itself. */
export interface NodeReadState {
  status(): Record<string, unknown>
  counters: Readonly<Record<string, number>>
  certificates: Pick<CertificateStore, 'get' | 'latest' | 'range' | 'size'>
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
  watchdog: Watchdog | undefined
  snapshotNow(block?: bigint): Promise<Record<string, unknown>>
  /** divergence reports kept (bounded, newest last; the explorer's network page) */
  divergences?(): readonly Divergence[]
}

const jsonSafe = (v: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(v, bigintReplacer)) as Record<string, unknown>

/** One checkpoint as the API shows it: weights and threshold of the operator set at its block (not the latest set). */
export function checkpointView(ops: OperatorSet, s: StoredCertificate): CheckpointView {
  const signers = s.certificate.signatures.map((x) => ({ signer: x.signer, weight: (ops.weights.get(x.signer.toLowerCase() as `0x${string}`) ?? 0n).toString() }))
  const weight = signedWeight(ops, s.certificate.signatures.map((x) => x.signer))
  const b = s.certificate.body
  return {
    block: b.blockNumber.toString(),
    kind: b.kind === 1 ? 'emergency' : 'scheduled',
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

/** Prometheus metrics of one node: its counters, gossip validation results by code, and the HTTP server's own. */
export function nodeMetrics(state: NodeReadState): { registry: PromRegistry; observeQuorumLatency: (seconds: number) => void } {
  const reg = new PromRegistry()
  const counters = reg.counter({ name: 'ark_node_events_total', help: 'archive node events by kind', labelNames: ['event'] })
  const gossip = reg.counter({ name: 'ark_gossip_messages_total', help: 'gossip messages by topic kind, validation action and code', labelNames: ['kind', 'action', 'code'] })
  const peers = reg.gauge({ name: 'ark_peers', help: 'connected libp2p peers' })
  const head = reg.gauge({ name: 'ark_finalized_head', help: 'newest final block seen' })
  const certified = reg.gauge({ name: 'ark_latest_certified_block', help: 'block of the newest certificate held' })
  const certs = reg.gauge({ name: 'ark_certificates', help: 'certificates held' })
  const quorum = reg.histogram({ name: 'ark_quorum_latency_seconds', help: 'from signing our attestation to holding the certificate', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] })
  if (state.watchdog !== undefined) registerWatchdogMetrics(reg, state.watchdog)
  reg.addCollector(() => {
    for (const [k, v] of Object.entries(state.counters)) counters.set({ event: k }, v)
    counters.set({ event: 'evidence' }, state.evidence.size)
    for (const c of state.gossipCounts()) gossip.set({ kind: c.kind, action: c.action, code: c.code }, c.count)
    peers.set(state.peers())
    head.set(Number(state.finalizedHead()))
    const latest = state.certificates.latest()
    certified.set(latest === undefined ? 0 : Number(latest.certificate.body.blockNumber))
    certs.set(state.certificates.size)
  })
  return { registry: reg, observeQuorumLatency: (s) => quorum.observe(s) }
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
    ...(state.divergences === undefined ? {} : { divergences: () => state.divergences!().map((d) => ({ ...d })) }),
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
    admin: { snapshotNow: (block) => state.snapshotNow(block) },
    health: () => {
      const reasons: string[] = []
      const fatal = state.fatal()
      if (fatal !== undefined) reasons.push(`fatal: ${fatal.message}`)
      if (state.peers() === 0 && state.expectsPeers) reasons.push('no peers connected')
      return { ok: reasons.length === 0, reasons }
    },
  }
}
