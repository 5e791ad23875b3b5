import { statfs } from 'node:fs/promises'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Logger } from 'pino'
import type { RpcRequestEvent } from '../../snapshot/chain/rpc.ts'
import type { RelayerMetrics } from './relayer.ts'
import { dirBytes } from '../fs/dir-bytes.ts'
import { PromRegistry } from '../http/metrics.ts'
import { buildInfo } from '../version.ts'
import { registerWatchdogMetrics } from '../watchdog/metrics.ts'
import { readiness, type NodeReadState } from './view.ts'

export interface NodeMetricsInit {
  dataDir: string
  /** checkpoint interval (blocks) and bootstrap list size: exported so alert rules need no per-node constants */
  interval: bigint
  bootstrapPeers: number
  log: Logger
}

/** What the node's rooms record into; `attach` adds the series read from node state at each scrape. */
export interface NodeMetrics {
  registry: PromRegistry
  /** for @libp2p/prometheus-metrics: libp2p's own metrics (connections, streams, bitswap, data transfer) */
  libp2p: ReturnType<typeof prometheusMetrics>
  onRpcRequest(e: RpcRequestEvent): void
  observeDerived(block: bigint, seconds: number): void
  observeQuorumLatency(seconds: number): void
  /** the anchoring relayer's outcomes and lag (registered on every node; zero without a relayer) */
  relayer: RelayerMetrics
  attach(state: NodeReadState): void
}

/** The data dir's size is walked at most this often (it can hold many files). */
const DIR_WALK_EVERY_MS = 60_000

/**
 * The node's Prometheus metrics (README "Observability" lists them): process defaults, build info, RPC
 * latency and outcomes per endpoint (scheme://host only, never paths or credentials), derivation and
 * certification latency, disk use of the data dir, libp2p's metrics, and the node's state at each scrape.
 */
export function createNodeMetrics(init: NodeMetricsInit): NodeMetrics {
  const reg = new PromRegistry()
  reg.collectDefaultMetrics()
  const build = buildInfo()
  reg.gauge({ name: 'ark_build_info', help: 'always 1; the labels say which build runs', labelNames: ['version', 'commit'] }).set({ version: build.version, commit: build.commit }, 1)
  reg.gauge({ name: 'ark_checkpoint_interval_blocks', help: 'checkpoint interval of this node (blocks)' }).set(Number(init.interval))
  reg.gauge({ name: 'ark_bootstrap_peers', help: 'bootstrap peers configured' }).set(init.bootstrapPeers)

  const rpcRequests = reg.counter({ name: 'ark_rpc_requests_total', help: 'JSON-RPC requests (retries included) by endpoint (scheme://host), method and outcome (ok or an error code)', labelNames: ['endpoint', 'method', 'outcome'] })
  const rpcSeconds = reg.histogram({ name: 'ark_rpc_request_duration_seconds', help: 'JSON-RPC request latency by endpoint (scheme://host) and method', labelNames: ['endpoint', 'method'] })
  const derive = reg.histogram({ name: 'ark_derive_seconds', help: 'time to derive one checkpoint snapshot (chain reads, state, DAG write)', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] })
  const lastDerived = reg.gauge({ name: 'ark_last_derived_block', help: 'block of the newest checkpoint this node derived' })
  const quorum = reg.histogram({ name: 'ark_quorum_latency_seconds', help: 'certification latency: from signing our attestation to holding the certificate', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] })

  const anchorResults = reg.counter({ name: 'ark_anchor_submissions_total', help: 'anchoring relayer: certificates by outcome (submitted, already-recorded, conflicting, refused, failed, dropped)', labelNames: ['result'] })
  const anchorLag = reg.histogram({ name: 'ark_anchor_lag_seconds', help: 'anchoring relayer: from holding a certificate to seeing its root recorded in ArkRegistry', buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800] })
  const anchorPending = reg.gauge({ name: 'ark_anchor_pending', help: 'anchoring relayer: certificates waiting to be anchored' })
  const dirSize = reg.gauge({ name: 'ark_data_dir_bytes', help: 'bytes of files under the data dir (walked at most once a minute)' })
  const diskTotal = reg.gauge({ name: 'ark_disk_total_bytes', help: 'size of the filesystem holding the data dir' })
  const diskAvail = reg.gauge({ name: 'ark_disk_available_bytes', help: 'bytes available to the node on the filesystem holding the data dir' })
  let walkedAt = -Infinity
  let walking = false
  const walk = (): void => {
    if (walking || performance.now() - walkedAt < DIR_WALK_EVERY_MS) return
    walking = true
    dirBytes(init.dataDir)
      .then((r) => {
        dirSize.set(r.bytes)
        walkedAt = performance.now()
      })
      .finally(() => {
        walking = false
      })
      .catch((err: unknown) => init.log.warn({ err }, 'metrics: cannot measure the data dir'))
  }
  reg.addCollector(async () => {
    walk()
    try {
      const s = await statfs(init.dataDir)
      diskTotal.set(s.bsize * s.blocks)
      diskAvail.set(s.bsize * s.bavail)
    } catch (err) {
      init.log.warn({ err }, 'metrics: cannot stat the data dir filesystem')
    }
  })

  return {
    registry: reg,
    // default metrics are ours (collectDefaultMetrics above); libp2p's statfs gauge looks at the data dir too
    libp2p: prometheusMetrics({ registry: reg.prom, collectDefaultMetrics: false, statfsLocation: init.dataDir }),
    onRpcRequest: (e) => {
      rpcRequests.inc({ endpoint: e.endpoint, method: e.method, outcome: e.outcome })
      rpcSeconds.observe({ endpoint: e.endpoint, method: e.method }, e.seconds)
    },
    observeDerived: (block, seconds) => {
      derive.observe(seconds)
      lastDerived.set(Number(block))
    },
    observeQuorumLatency: (s) => quorum.observe(s),
    relayer: { result: (r) => anchorResults.inc({ result: r }), lag: (s) => anchorLag.observe(s), pending: (n) => anchorPending.set(n) },
    attach: (state) => attachState(reg, state),
  }
}

/** Series copied from the node's state at each scrape. */
function attachState(reg: PromRegistry, state: NodeReadState): void {
  const counters = reg.counter({ name: 'ark_node_events_total', help: 'archive node events by kind', labelNames: ['event'] })
  const gossip = reg.counter({ name: 'ark_gossip_messages_total', help: 'gossip messages by topic kind, validation action and code', labelNames: ['kind', 'action', 'code'] })
  const peers = reg.gauge({ name: 'ark_peers', help: 'connected libp2p peers' })
  const head = reg.gauge({ name: 'ark_finalized_head', help: 'newest final block seen' })
  const certified = reg.gauge({ name: 'ark_latest_certified_block', help: 'block of the newest certificate held' })
  const certs = reg.gauge({ name: 'ark_certificates', help: 'certificates held' })
  const ready = reg.gauge({ name: 'ark_ready', help: '1 when /readyz answers 200 (caught up with the certified head, enough peers)' })
  const fatal = reg.gauge({ name: 'ark_fatal', help: '1 once the node stopped on an error' })
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
    ready.set(readiness(state).ok ? 1 : 0)
    fatal.set(state.fatal() === undefined ? 0 : 1)
  })
}
