/*
 * Over ~450 lines on purpose: this is the archive node's composition root, every room's wiring literal
 * in one place (scheduler, attester, certificate handling, stores, relayer, proof index, restitution,
 * network, HTTP, watchdog) and nothing else; the work lives in the rooms it builds.
 */
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import type { OperatorSigner } from '../keys/remote-signer.ts'
import type { Evidence } from '../../protocol/evidence.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import { AnchoringReader } from './anchoring.ts'
import { createRelayer } from './create-relayer.ts'
import type { AnchorRelayer } from './relayer.ts'
import { loadAdapter } from '../adapters/load.ts'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { CheckpointCache, configHash } from '../../snapshot/derive/derive.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { Aggregator } from '../../protocol/aggregator.ts'
import { acquireDataDirLock, type DataDirLock } from '../fs/data-dir-lock.ts'
import { loadOrCreateAdminToken } from '../http/admin-token.ts'
import { createHttpApi, type HttpApi } from '../http/server.ts'
import { fetchDag } from '../p2p/fetch.ts'
import { createArkNetwork, type ArkNetwork } from '../p2p/network.ts'
import { service, startAll, type Service } from '../p2p/service.ts'
import { SignLog } from '../signlog/signlog.ts'
import { createNodeWatchdog } from '../watchdog/attach.ts'
import type { Watchdog, WatchdogComponents } from '../watchdog/service.ts'
import { Attester, type NoQuorumReport } from './attester.ts'
import { serveCatchup } from '../p2p/catchup.ts'
import { CatchUpClient } from './catchup-client.ts'
import { CertificateHandling, type Divergence } from './certified.ts'
import { CertificateStore } from './certificate-store.ts'
import type { NodeConfig } from './config.ts'
import { EvidenceStore } from './evidence-store.ts'
import { loadOperatorSigner } from './operator-key.ts'
import { OperatorSets } from './operator-sets.ts'
import { recentSnapshots, Retainer } from './retainer.ts'
import { firstCheckpoint, Scheduler, schedulerServices } from './scheduler.ts'
import { SnapshotFetches } from './snapshot-fetches.ts'
import { storageService } from './storage.ts'
import { CHECKPOINT_KIND } from '../../protocol/attestation.ts'
import { runRestitution, type RestitutionRequest } from './restitution.ts'
import { maxAheadBlocks, validatorContext } from './validator-context.ts'
import { nodeView, type NodeReadState } from './view.ts'
import { ProofIndex } from './proof-index.ts'
import { createNodeMetrics } from './node-metrics.ts'
import { buildInfo } from '../version.ts'
import { background } from '../util/background.ts'

export { CATCHUP_EVERY_CHECKPOINTS, CHECKPOINT_ATTEMPTS } from './scheduler.ts'
export { DoppelgangerError } from './attester.ts'

export interface ArchiveNodeInit {
  config: NodeConfig
  /** accept a plain development key file */
  devKey?: boolean
  logger?: Logger
  env?: NodeJS.ProcessEnv
  /** an adapter given programmatically (third-party protocols) instead of one from the registry by config id */
  adapter?: Adapter
  /** timing hook (benchmarks, tests): called with performance.now() at each stage */
  onEvent?: (e: { type: 'derived' | 'signed' | 'certified'; block: bigint; at: number; ms?: number }) => void
  /** snapshot fetch limits (tests shorten the deadline) */
  fetchLimits?: ConstructorParameters<typeof SnapshotFetches>[0]['limits']
}

/**
 * One archive node, the composition root: it builds the rooms (scheduler,
 * attester, certificate handling, evidence and certificate stores, retention,
 * network, HTTP API, watchdog), wires them to one another, starts them in
 * order and stops them in reverse. It owns the one AbortController; the work
 * lives in the rooms.
 */
export class ArchiveNode {
  readonly config: NodeConfig
  readonly log: Logger
  private readonly controller = new AbortController()
  private readonly init: ArchiveNodeInit
  private account!: OperatorSigner
  private source!: ChainSource
  private adapter!: Adapter
  private cfgHash!: `0x${string}`
  /** the first checkpoint of the schedule: regular attestations are valid only at its multiples */
  private firstCheckpoint = 0n
  private sets!: OperatorSets
  private aggregator!: Aggregator
  private attester!: Attester
  private handling!: CertificateHandling
  private scheduler!: Scheduler
  private catchup!: CatchUpClient
  private evidenceStore!: EvidenceStore
  private retainer!: Retainer
  private proofIndex!: ProofIndex
  private fetches!: SnapshotFetches
  private relayer: AnchorRelayer | undefined
  private http: HttpApi | undefined
  private lock: DataDirLock | undefined
  private readonly cache = new CheckpointCache()
  private services: Service[] = []
  private catchUpOnGossip = false
  /** the first certificate catch-up with peers has finished (readiness) */
  private caughtUp = false
  network!: ArkNetwork
  certificates!: CertificateStore
  store!: BlockStore
  fatal: Error | undefined
  watchdog: Watchdog | undefined
  httpUrl: string | undefined
  readonly counters = { checkpoints: 0, attestationsSent: 0, certificates: 0, divergences: 0, noQuorum: 0, catchupCertificates: 0, retentionDeletedBlocks: 0, checkpointFailures: 0, checkpointsSkipped: 0, headReadFailures: 0, signerCapIgnored: 0 }

  constructor(init: ArchiveNodeInit) {
    this.init = init
    this.config = init.config
    this.log = init.logger ?? pino({ level: 'info' })
  }

  get operator(): string {
    return this.account.address.toLowerCase()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Equivocation evidence held (bounded; see EvidenceStore). */
  get evidence(): Evidence[] {
    return this.evidenceStore?.all() ?? []
  }

  get divergences(): readonly Divergence[] {
    return this.handling?.divergences.items ?? []
  }

  get noQuorum(): readonly NoQuorumReport[] {
    return this.attester?.noQuorum.items ?? []
  }

  get operatorSet(): OperatorSet {
    return this.sets.latest
  }

  get finalizedHead(): bigint {
    return this.scheduler?.finalized ?? 0n
  }

  private stopFor(err: Error): void {
    this.fatal ??= err
    this.log.error({ err }, 'archive node stopped on an error')
    this.controller.abort(err)
  }

  async start(): Promise<void> {
    const c = this.config
    // one process per data directory, before anything there is read or written
    this.lock = await acquireDataDirLock(c.dataDir)
    try {
      await this.build()
    } catch (err) {
      await this.lock.release()
      throw err
    }
    await startAll(this.services)
    this.log.info({ operator: this.operator, peerId: this.network.peerId.toString(), addrs: this.network.multiaddrs().map(String), http: this.httpUrl }, 'archive node started')
  }

  /** Build every room and the list of parts to start; the chain checks that every room needs come first. */
  private async build(): Promise<void> {
    const c = this.config
    const signal = this.signal
    const log = this.log
    const env = this.init.env === undefined ? {} : { env: this.init.env }
    this.account = await loadOperatorSigner(c.key, { devKey: this.init.devKey === true, signal, ...env })
    const signLog = new SignLog(join(c.dataDir, 'signlog.jsonl'))
    const metrics = createNodeMetrics({ dataDir: c.dataDir, interval: c.checkpoint.interval, bootstrapPeers: c.p2p.bootstrap.length, log })
    this.source = new ChainSource({ rpcUrls: c.chain.rpc, chainId: c.chain.chainId, finality: c.chain.finality, rpc: { onRequest: metrics.onRpcRequest } })
    await this.source.checkChainId(signal)
    this.adapter = this.init.adapter ?? (await loadAdapter(c.adapter.module ?? c.adapter.id!))
    if (c.adapter.id !== undefined && this.adapter.id !== c.adapter.id) throw new ArkError('INVALID_INPUT', `config adapter.id is ${c.adapter.id} but the node was given adapter ${this.adapter.id}`)
    const adapterConfig = this.adapter.parseConfig(c.adapter.config)
    this.cfgHash = configHash(this.adapter, adapterConfig)
    this.firstCheckpoint = firstCheckpoint(c.checkpoint.interval, c.checkpoint.firstBlock ?? this.adapter.startBlock(adapterConfig))
    this.sets = await OperatorSets.open({ source: this.source, config: c.operators }, await this.source.finalizedHead(signal), signal)
    if (!this.sets.latest.weights.has(this.operator as `0x${string}`)) log.warn({ operator: this.operator }, 'this key is not in the operator set: the node archives and verifies but its attestations do not count')
    // each checkpoint counts against the set at its block (read and cached by the gossip validator before the aggregator sees it)
    this.aggregator = new Aggregator({ operators: this.sets.latest, operatorsAt: (b) => this.sets.cached(b) })
    this.certificates = new CertificateStore(c.dataDir, log.child({ module: 'certificates' }))
    this.evidenceStore = new EvidenceStore(c.dataDir, { log: log.child({ module: 'evidence' }) })
    if (c.relayer !== undefined) this.relayer = await createRelayer({ relayer: c.relayer, chainId: c.chain.chainId, rpcUrl: c.chain.rpc[0]!, devKey: this.init.devKey === true, env: this.init.env ?? process.env, metrics: metrics.relayer, log: log.child({ module: 'relayer' }), signal })
    this.fetches = new SnapshotFetches({ signal, log: log.child({ module: 'fetch' }), ...(this.init.fetchLimits === undefined ? {} : { limits: this.init.fetchLimits }) })
    const ids = { chainId: c.chain.chainId, adapterId: this.adapter.id, configHash: this.cfgHash }
    const onEvent = this.init.onEvent

    this.retainer = new Retainer({
      config: c,
      certificates: this.certificates,
      blocks: () => ({ get: async (cid) => this.network.blocks.get(cid), has: async (cid) => this.network.blocks.has(cid), delete: async (cid) => this.network.deleteBlock(cid) }),
      ownRecent: () => recentSnapshots(this.attester.own.values()),
      pruneBelow: (floor) => {
        this.evidenceStore.prune(floor)
        this.attester.pruneBelow(floor)
        this.handling.divergences.pruneBelow(floor)
      },
      finalizedHead: () => this.finalizedHead,
      log,
      counters: this.counters,
    })
    const floor = (): bigint => this.retainer.floor()
    this.proofIndex = new ProofIndex({ dir: join(c.dataDir, 'proof-index'), log: log.child({ module: 'proof-index' }) })
    this.handling = new CertificateHandling({
      network: ids,
      certificates: this.certificates,
      evidence: this.evidenceStore,
      fetches: this.fetches,
      store: () => this.store,
      adapter: this.adapter,
      fetchDag: (root, s) => fetchDag(this.network.helia, root, { signal: s }),
      hasLocally: (root) => Promise.resolve(this.network.helia.blockstore.has(root)),
      publish: (kind, bytes) => this.network.publish(kind, bytes),
      operatorsAt: (b) => this.sets.forBlock(b, this.finalizedHead, signal),
      own: (b) => this.attester.own.get(b),
      floor,
      ceiling: () => this.finalizedHead + maxAheadBlocks(c.checkpoint.interval),
      recent: (b) => b + 2n * c.checkpoint.interval >= this.finalizedHead,
      applyRetention: () => this.retainer.apply(),
      watchdog: () => this.watchdog,
      onQuorumLatency: metrics.observeQuorumLatency,
      onCertified: (cert) => {
        onEvent?.({ type: 'certified', block: cert.body.blockNumber, at: performance.now() })
        this.relayer?.onCertificate(cert)
      },
      onSnapshotKept: (root) => this.proofIndex.onKept(this.store, root),
      counters: this.counters,
      log,
      signal,
    })
    this.attester = new Attester({
      ...ids,
      account: this.account,
      signLog,
      aggregator: this.aggregator,
      quorumTimeoutMs: c.checkpoint.quorumTimeoutMs,
      log,
      publish: (bytes) => this.network.publish('attestation', bytes),
      onEvents: (events) => this.handling.onEvents(events),
      certified: (b) => this.certificates.get(b) !== undefined,
      threshold: (b) => this.sets.cached(b).threshold,
      fatal: (err) => this.stopFor(err),
      counters: this.counters,
      ...(onEvent === undefined ? {} : { onSigned: (block: bigint) => onEvent({ type: 'signed', block, at: performance.now() }) }),
    })
    this.scheduler = new Scheduler({
      config: c,
      source: this.source,
      adapter: this.adapter,
      adapterConfig,
      cache: this.cache,
      store: () => this.store,
      // with an on-chain registry, the set that counts for a checkpoint is the one at that block
      refreshOperators: async (target) => {
        if (!(await this.sets.refresh(target, signal))) return
        const next = this.sets.latest
        log.info({ block: target.number.toString(), operators: next.weights.size, threshold: next.threshold.toString() }, 'operator set changed in the registry')
      },
      attest: (cp, target, kind) => this.attester.attest(cp, target, kind),
      quiet: (b) => this.attester.quiet(b),
      beginQuietPeriod: (head) => this.attester.beginQuietPeriod(head, c.checkpoint.interval),
      catchUp: async () => {
        const n = await this.catchUp()
        this.caughtUp = true
        return n
      },
      onRunning: () => {
        this.catchup.watch()
        this.catchUpOnGossip = true
      },
      counters: this.counters,
      onDerived: (block: bigint, ms: number) => {
        metrics.observeDerived(block, ms / 1000)
        onEvent?.({ type: 'derived', block, at: performance.now(), ms })
      },
      log,
      signal,
    })
    // watchdog (PROTOCOL.md §12): built before the network, which installs its alert validator
    if (c.watchdog !== undefined) this.watchdog = await createNodeWatchdog({ config: c, watchdog: c.watchdog, adapterId: this.adapter.id, adapterConfig, configHash: this.cfgHash, source: this.source, logger: log.child({ module: 'watchdog' }), devKey: this.init.devKey === true, ...env }, this.watchdogComponents())
    this.network = await createArkNetwork({
      ...(this.watchdog === undefined ? {} : { validators: { alert: this.watchdog.validate } }),
      dataDir: c.dataDir,
      chainId: c.chain.chainId,
      adapterId: this.adapter.id,
      context: () => this.validatorContext(),
      listen: c.p2p.listen,
      bootstrap: c.p2p.bootstrap,
      ...(c.p2p.announce === undefined ? {} : { announce: c.p2p.announce }),
      logger: log.child({ module: 'p2p' }),
      libp2pMetrics: metrics.libp2p,
    })

    const network = (): ArkNetwork => this.network
    const state: NodeReadState = {
      status: () => this.status(),
      counters: this.counters,
      certificates: this.certificates,
      evidence: this.evidenceStore,
      operatorsAt: (b) => this.sets.forBlock(b, this.finalizedHead, signal),
      finalizedHead: () => this.finalizedHead,
      peers: () => this.network.libp2p.getPeers().length,
      gossipCounts: () => this.network.metrics.snapshot(),
      get blocks() {
        return network().blocks
      },
      fatal: () => this.fatal,
      expectsPeers: c.p2p.bootstrap.length > 0,
      bootstrapPeers: c.p2p.bootstrap.length,
      checkpointInterval: c.checkpoint.interval,
      caughtUp: () => this.caughtUp,
      nextCheckpoint: () => this.scheduler.nextCheckpoint,
      watchdog: this.watchdog,
      snapshotNow: (block) => this.snapshotNow(block),
      restitution: (req) => this.restitution(req),
      divergences: () => this.divergences,
      // the addresses peers dial, without the /p2p suffix (the record names the peer id)
      provider: () => ({ id: this.network.peerId.toString(), addrs: [...new Set(this.network.multiaddrs().map((a) => a.toString().replace(/\/p2p\/[^/]+$/, '')))] }),
      proofs: this.proofIndex,
    }
    if ('registry' in c.operators) {
      const anchoring = new AnchoringReader({ source: this.source, registry: c.operators.registry, finalizedHead: () => this.finalizedHead, signal })
      state.anchoring = (body) => anchoring.status(body)
    }

    const scheduling = schedulerServices(this.scheduler)({ onFatal: (err) => this.stopFor(err) })
    this.services = [
      storageService({ signLog, certificates: this.certificates, evidence: this.evidenceStore })({ release: async () => this.lock?.release() }),
      service(
        'network',
        async () => {
          await this.network.start()
          this.store = this.network.blockStore()
          this.network.onMessage('attestation', (m) => this.attester.onAttestation(m.value))
          this.network.onMessage('certificate', (m) => this.onGossipCertificate(m.value))
          this.network.onMessage('evidence', (m) => {
            this.handling.keepEvidence(m.value)
          })
          await serveCatchup(this.network.libp2p, (from, limit) => this.certificates.range(from, undefined, limit).map((s) => s.bytes))
          this.catchup = new CatchUpClient({ libp2p: this.network.libp2p, from: floor, accept: (b) => this.handling.acceptCaughtUp(b), log, signal })
        },
        () => this.network.stop(),
      ),
      scheduling.prepare,
      ...(this.watchdog === undefined
        ? []
        : [
            service(
              'watchdog',
              async () => {
                const wd = this.watchdog!
                this.network.onMessage('alert', (m) => wd.onAlert(m.value))
                await wd.start()
              },
              () => this.watchdog?.stop(),
            ),
          ]),
      service(
        'http',
        async () => {
          metrics.attach(state)
          const adminToken = c.http.admin ? await loadOrCreateAdminToken(join(c.dataDir, 'admin.token')) : undefined
          this.http = createHttpApi({ host: c.http.host, port: c.http.port, view: nodeView(state, metrics.registry), metrics: metrics.registry, logger: log.child({ module: 'http' }), ...(adminToken === undefined ? {} : { adminToken }) })
          this.httpUrl = (await this.http.start()).url
        },
        async () => {
          await this.http?.stop()
          await this.proofIndex.close()
        },
      ),
      scheduling.run,
    ]
  }

  /** Stops parts in reverse order; a part that hangs is abandoned after a deadline so shutdown always ends. */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.controller.abort(new Error('node stopping'))
    this.attester?.stop()
    for (const s of [...this.services].reverse()) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)))
      const r = await Promise.race([s.stop().then(() => 'ok' as const, () => 'ok' as const), late])
      clearTimeout(timer)
      if (r === 'late') this.log.warn({ part: s.name, deadlineMs }, 'stop: part did not stop in time; abandoned')
    }
    this.services = []
  }

  validatorContext(): ValidatorContext {
    return validatorContext({
      chainId: this.config.chain.chainId,
      adapterId: this.adapter.id,
      configHash: this.cfgHash,
      interval: this.config.checkpoint.interval,
      first: this.firstCheckpoint,
      sets: this.sets,
      finalizedHead: () => this.finalizedHead,
      floor: () => this.retainer.floor(),
      seen: (a) => this.aggregator.seen(a),
      seenEvidence: (e) => this.evidenceStore.has(e),
      // with a watchdog, emergency attestations count only for blocks a validated alert names; a node
      // without one cannot judge alerts and bounds kind-1 messages by the window and per-signer caps
      ...(this.watchdog === undefined ? {} : { emergencyBlock: (b: bigint) => this.watchdog!.namesEmergencyBlock(b) }),
      certifiedBlock: (b: bigint) => this.certificates.get(b, CHECKPOINT_KIND.scheduled) !== undefined || this.certificates.get(b, CHECKPOINT_KIND.emergency) !== undefined,
      signal: this.signal,
    })
  }

  private onGossipCertificate(cert: Parameters<Aggregator['addCertificate']>[0]): void {
    // merge its signatures with what we hold, so nodes converge on one certificate CID
    this.handling.onEvents(this.aggregator.addCertificate(cert))
    background(this.handling.onCertificate(cert, 'gossip'), this.log, 'handling a gossiped certificate', this.signal)
    // gossip flows now: anything certified between our first catch-up and this comes by catch-up once more
    if (this.catchUpOnGossip) {
      this.catchUpOnGossip = false
      this.catchUp().catch((err: unknown) => this.log.warn({ err }, 'catch-up failed'))
    }
  }

  /** Ask every connected peer for the certificates we lack (see CatchUpClient); the number that were new. */
  async catchUp(): Promise<number> {
    return this.catchup.all()
  }

  /** Emergency checkpoint (PROTOCOL.md §12.3); see Scheduler.emergencyCheckpoint. */
  emergencyCheckpoint(block: bigint): Promise<void> {
    return this.scheduler.emergencyCheckpoint(block)
  }

  /** Admin: compute, store and attest a restitution table (kind 2); see runRestitution. */
  restitution(req: RestitutionRequest): Promise<Record<string, unknown>> {
    const network = { chainId: this.config.chain.chainId, adapterId: this.adapter.id, configHash: this.cfgHash }
    return runRestitution({ network, certificates: this.certificates, store: () => this.store, adapter: this.adapter, signAndPublish: (b) => this.attester.signAndPublish(b), log: this.log.child({ module: 'restitution' }) }, req)
  }

  /** Admin: derive and store a snapshot off the schedule; see Scheduler.snapshotNow. */
  snapshotNow(block?: bigint): Promise<Record<string, unknown>> {
    return this.scheduler.snapshotNow(block)
  }

  private watchdogComponents(): WatchdogComponents {
    const last = (items: readonly { block: string }[]): bigint | undefined => (items.length === 0 ? undefined : BigInt(items.at(-1)!.block))
    return {
      operator: () => this.operator as `0x${string}`,
      sign: (digest, typedData) => this.attester.sign(digest, typedData),
      publish: (bytes) => this.network.publish('alert', bytes),
      context: () => this.validatorContext(),
      accounts: () => this.cache.latest?.state.records() as Iterable<{ key: Uint8Array; record: AccountRecord }> | undefined,
      ark: () => ({ nodeFinalized: this.finalizedHead, noQuorumBlock: last(this.noQuorum), divergenceBlock: last(this.divergences), latestCertified: this.certificates.latestOfKind(0)?.certificate.body.blockNumber }),
      emergencyCheckpoint: (block) => this.emergencyCheckpoint(block),
      putBlock: (b) => this.store.put(b),
    }
  }

  status(): Record<string, unknown> {
    const latest = this.certificates.latest()
    return {
      version: buildInfo().version,
      operator: this.operator,
      peerId: this.network.peerId.toString(),
      peers: this.network.libp2p.getPeers().length,
      chainId: this.config.chain.chainId.toString(),
      adapter: { id: this.adapter.id, configHash: this.cfgHash },
      finalizedHead: this.finalizedHead.toString(),
      nextCheckpoint: this.scheduler.nextCheckpoint?.toString() ?? null,
      latestCertified: latest === undefined ? null : { block: latest.certificate.body.blockNumber.toString(), certificate: latest.cid.toString(), snapshot: latest.certificate.body.snapshotCid.toString() },
      counters: this.counters,
      divergences: this.divergences.length,
      evidence: this.evidenceStore.size,
      fatal: this.fatal?.message ?? null,
      http: this.httpUrl ?? null,
      watchdog: this.watchdog === undefined ? null : { active: this.watchdog.tracker.active.size, emergencies: this.watchdog.book.entries.size },
    }
  }
}
