import { certificateJSON } from '../../protocol/certificate.ts'
import { encodeEvidence } from '../../protocol/evidence.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { CheckpointView, NodeView } from '../http/server.ts'
import { PromRegistry } from '../http/metrics.ts'
import type { StoredCertificate } from './certificate-store.ts'
import type { ArchiveNode } from './node.ts'
import { registerWatchdogMetrics } from '../watchdog/metrics.ts'

function checkpointView(node: ArchiveNode, s: StoredCertificate): CheckpointView {
  const ops = node.operatorSet
  let weight = 0n
  const signers = s.certificate.signatures.map((x) => {
    const w = ops.weights.get(x.signer.toLowerCase() as `0x${string}`) ?? 0n
    weight += w
    return { signer: x.signer, weight: w.toString() }
  })
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
    certificate: JSON.parse(JSON.stringify(certificateJSON(s.certificate), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>,
  }
}

/** Prometheus metrics of one node: its counters, gossip validation results by code, and the HTTP server's own. */
export function nodeMetrics(node: ArchiveNode): PromRegistry {
  const reg = new PromRegistry()
  const counters = reg.counter({ name: 'ark_node_events_total', help: 'archive node events by kind', labelNames: ['event'] })
  const gossip = reg.counter({ name: 'ark_gossip_messages_total', help: 'gossip messages by topic kind, validation action and code', labelNames: ['kind', 'action', 'code'] })
  const peers = reg.gauge({ name: 'ark_peers', help: 'connected libp2p peers' })
  const head = reg.gauge({ name: 'ark_finalized_head', help: 'newest final block seen' })
  const certified = reg.gauge({ name: 'ark_latest_certified_block', help: 'block of the newest certificate held' })
  const certs = reg.gauge({ name: 'ark_certificates', help: 'certificates held' })
  const quorum = reg.histogram({ name: 'ark_quorum_latency_seconds', help: 'from signing our attestation to holding the certificate', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] })
  node.onQuorumLatency = (s) => quorum.observe(s)
  if (node.watchdog !== undefined) registerWatchdogMetrics(reg, node.watchdog)
  reg.addCollector(() => {
    for (const [k, v] of Object.entries(node.counters)) counters.set({ event: k }, v)
    counters.set({ event: 'evidence' }, node.evidence.length)
    for (const c of node.network.metrics.snapshot()) gossip.set({ kind: c.kind, action: c.action, code: c.code }, c.count)
    peers.set(node.network.libp2p.getPeers().length)
    head.set(Number(node.finalizedHead))
    const latest = node.certificates.latest()
    certified.set(latest === undefined ? 0 : Number(latest.certificate.body.blockNumber))
    certs.set(node.certificates.list().length)
  })
  return reg
}

export function nodeView(node: ArchiveNode, metrics: PromRegistry): NodeView {
  return {
    status: () => node.status(),
    checkpoints: ({ from, to, limit }) =>
      node.certificates
        .list()
        .filter((s) => (from === undefined || s.certificate.body.blockNumber >= from) && (to === undefined || s.certificate.body.blockNumber <= to))
        .slice(0, limit)
        .map((s) => checkpointView(node, s)),
    checkpoint: (block) => {
      const s = block === 'latest' ? node.certificates.latest() : node.certificates.get(block)
      return s === undefined ? undefined : checkpointView(node, s)
    },
    ...(node.watchdog === undefined ? {} : { alerts: () => node.watchdog!.view() }),
    evidence: () => node.evidence.map((e) => ({ signer: e.a.signer, block: e.a.body.blockNumber.toString(), a: e.a.body.snapshotCid.toString(), b: e.b.body.snapshotCid.toString(), bytes: bytesToHex(encodeEvidence(e)) })),
    blocks: node.network.blocks,
    metrics: () => metrics.text(),
    admin: { snapshotNow: (block) => node.snapshotNow(block) },
    health: () => {
      const reasons: string[] = []
      if (node.fatal !== undefined) reasons.push(`fatal: ${node.fatal.message}`)
      if (node.network.libp2p.getPeers().length === 0 && node.config.p2p.bootstrap.length > 0) reasons.push('no peers connected')
      return { ok: reasons.length === 0, reasons }
    },
  }
}
