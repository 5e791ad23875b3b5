import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import type { PrivateKeyAccount } from 'viem/accounts'
import { attestationDigest, checkpointKey, contentKey, encodeAttestation, normalizeV, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { decodeCertificate, encodeCertificate, verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import { decodeEvidence, encodeEvidence, type Evidence } from '../../protocol/evidence.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import { adapterById } from '../../snapshot/adapters/registry.ts'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import { ChainSource, type BlockHeader } from '../../snapshot/chain/source.ts'
import { CheckpointCache, configHash, deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import { ArkError } from '../../snapshot/errors.ts'
import { SPEC_VERSION } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { Aggregator, type AggregatorEvent } from '../../protocol/aggregator.ts'
import { fetchDag } from '../p2p/fetch.ts'
import { createArkNetwork, type ArkNetwork } from '../p2p/network.ts'
import { SignConflictError, SignLog } from '../signlog/signlog.ts'
import { loadOrCreateAdminToken } from '../http/admin-token.ts'
import { createHttpApi, type HttpApi } from '../http/server.ts'
import { nodeMetrics, nodeView } from './view.ts'
import { serveCatchup } from '../p2p/catchup.ts'
import { CatchUpClient } from './catchup-client.ts'
import { OperatorSets, sameOperatorSet } from './operator-sets.ts'
import { collectGarbage, retainedBlocks, retentionFloor } from './retention.ts'
import { CID } from 'multiformats/cid'
import { CertificateStore } from './certificate-store.ts'
import type { NodeConfig } from './config.ts'
import { loadOperatorKey } from './operator-key.ts'
import { createNodeWatchdog } from '../watchdog/attach.ts'
import type { Watchdog, WatchdogComponents } from '../watchdog/service.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { pause } from '../util/pause.ts'

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
}

/** Tries per checkpoint before it is skipped (backoff 0.5 s, 1 s, … between them). */
export const CHECKPOINT_ATTEMPTS = 3
/** A periodic catch-up round every this many checkpoint intervals, besides the ones on connect and on gossip. */
export const CATCHUP_EVERY_CHECKPOINTS = 8n

export class DoppelgangerError extends ArkError {
  override readonly name = 'DoppelgangerError'
  constructor(signer: string, block: bigint) {
    super('INVALID_INPUT', `another node is signing with this operator key (${signer}, checkpoint ${block}); stop the other instance before starting this one, or two nodes will equivocate`)
  }
}

interface Divergence {
  block: string
  ours: string
  certified: string
  accounts: string[]
}

/**
 * One archive node: derives each checkpoint, signs it through the sign log,
 * gossips the attestation, aggregates peers' attestations into certificates,
 * stores and serves certified snapshots, and catches up on what it missed.
 * Owns one AbortController; parts stop in reverse order of start.
 */
export class ArchiveNode {
  readonly config: NodeConfig
  readonly log: Logger
  private readonly controller = new AbortController()
  private readonly init: ArchiveNodeInit
  private account!: PrivateKeyAccount
  private source!: ChainSource
  private adapter!: Adapter
  private adapterConfig: unknown
  private cfgHash!: `0x${string}`
  /** the operator set per block (file, or the on-chain registry at each block) */
  private sets!: OperatorSets
  private signLog!: SignLog
  private aggregator!: Aggregator
  network!: ArkNetwork
  certificates!: CertificateStore
  store!: BlockStore
  private readonly cache = new CheckpointCache()
  private readonly own = new Map<bigint, { snapshot: string; signedAt: number }>()
  readonly evidence: Evidence[] = []
  readonly divergences: Divergence[] = []
  readonly noQuorum: { block: string; tally: unknown }[] = []
  private finalized = 0n
  private nextCheckpoint: bigint | undefined
  private quietUntil = 0n
  private catchup!: CatchUpClient
  private catchUpOnGossip = false
  private loop: Promise<void> | undefined
  private readonly timers = new Set<NodeJS.Timeout>()
  fatal: Error | undefined
  watchdog: Watchdog | undefined
  /** observer of quorum latency (seconds), set by the metrics registry */
  onQuorumLatency: ((seconds: number) => void) | undefined
  private http: HttpApi | undefined
  httpUrl: string | undefined
  readonly counters = { checkpoints: 0, attestationsSent: 0, certificates: 0, divergences: 0, noQuorum: 0, catchupCertificates: 0, retentionDeletedBlocks: 0, checkpointFailures: 0, checkpointsSkipped: 0 }

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

  async start(): Promise<void> {
    const c = this.config
    this.account = await loadOperatorKey(c.key, { devKey: this.init.devKey === true, ...(this.init.env === undefined ? {} : { env: this.init.env }) })
    this.signLog = new SignLog(join(c.dataDir, 'signlog.jsonl'))
    this.signLog.open()
    this.source = new ChainSource({ rpcUrls: c.chain.rpc, chainId: c.chain.chainId, finality: c.chain.finality })
    await this.source.checkChainId(this.signal)
    this.adapter = this.init.adapter ?? adapterById(c.adapter.id)
    if (this.adapter.id !== c.adapter.id) throw new ArkError('INVALID_INPUT', `config adapter.id is ${c.adapter.id} but the node was given adapter ${this.adapter.id}`)
    this.adapterConfig = this.adapter.parseConfig(c.adapter.config)
    this.cfgHash = configHash(this.adapter, this.adapterConfig)
    this.sets = await OperatorSets.open({ source: this.source, config: c.operators }, await this.source.finalizedHead(this.signal), this.signal)
    if (!this.operators.weights.has(this.operator as `0x${string}`)) this.log.warn({ operator: this.operator }, 'this key is not in the operator set: the node archives and verifies but its attestations do not count')
    // each checkpoint counts against the set at its block (read and cached by the gossip validator before the aggregator sees it)
    this.aggregator = new Aggregator({ operators: this.operators, operatorsAt: (b) => this.sets.cached(b) })
    this.certificates = new CertificateStore(c.dataDir)
    await this.certificates.open()
    // watchdog (PROTOCOL.md §12): built before the network, which installs its alert validator
    if (c.watchdog !== undefined) this.watchdog = await createNodeWatchdog({ config: c, watchdog: c.watchdog, adapterId: this.adapter.id, adapterConfig: this.adapterConfig, configHash: this.cfgHash, source: this.source, logger: this.log.child({ module: 'watchdog' }), devKey: this.init.devKey === true, ...(this.init.env === undefined ? {} : { env: this.init.env }) }, this.watchdogComponents())
    this.network = await createArkNetwork({
      ...(this.watchdog === undefined ? {} : { validators: { alert: this.watchdog.validate } }),
      dataDir: c.dataDir,
      chainId: c.chain.chainId,
      adapterId: this.adapter.id,
      context: () => this.validatorContext(),
      listen: c.p2p.listen,
      bootstrap: c.p2p.bootstrap,
      logger: this.log.child({ module: 'p2p' }),
    })
    await this.network.start()
    this.store = this.network.blockStore()
    this.network.onMessage('attestation', (m) => this.onAttestation(m.value))
    this.network.onMessage('certificate', (m) => {
      // merge its signatures with what we hold, so nodes converge on one certificate CID
      this.handle(this.aggregator.addCertificate(m.value))
      void this.onCertificate(m.value, 'gossip')
      // gossip flows now: anything certified between our first catch-up and this comes by catch-up once more
      if (this.catchUpOnGossip) {
        this.catchUpOnGossip = false
        void this.catchUp()
      }
    })
    await this.loadEvidence()
    this.network.onMessage('evidence', (m) => void this.keepEvidence(m.value))
    await serveCatchup(this.network.libp2p, (from, limit) => this.certificates.list().filter((s) => s.certificate.body.blockNumber >= from).slice(0, limit).map((s) => s.bytes))
    this.catchup = new CatchUpClient({ libp2p: this.network.libp2p, from: () => retentionFloor(this.finalized, c.checkpoint.interval, c.retention.keepLast), accept: (b) => this.acceptCaughtUp(b), log: this.log, signal: this.signal })
    const head = await this.source.finalizedHead(this.signal)
    this.finalized = head.number
    // Doppelganger protection: watch at least one checkpoint before signing anything.
    this.quietUntil = head.number + c.checkpoint.interval
    await this.resume()
    if (this.watchdog !== undefined) {
      const wd = this.watchdog
      this.network.onMessage('alert', (m) => wd.onAlert(m.value))
      await wd.start()
    }
    const metrics = nodeMetrics(this)
    const adminToken = c.http.admin ? await loadOrCreateAdminToken(join(c.dataDir, 'admin.token')) : undefined
    this.http = createHttpApi({ host: c.http.host, port: c.http.port, view: nodeView(this, metrics), metrics, logger: this.log.child({ module: 'http' }), ...(adminToken === undefined ? {} : { adminToken }) })
    this.httpUrl = (await this.http.start()).url
    this.loop = this.run().catch((err: unknown) => {
      if (!this.signal.aborted) {
        this.fatal = err as Error
        this.log.error({ err }, 'archive node stopped on an error')
      }
    })
    this.log.info({ operator: this.operator, peerId: this.network.peerId.toString(), addrs: this.network.multiaddrs().map(String), http: this.httpUrl }, 'archive node started')
  }

  /** Stops parts in reverse order; a part that hangs is abandoned after a deadline so shutdown always ends. */
  async stop(deadlineMs = 10_000): Promise<void> {
    this.controller.abort(new Error('node stopping'))
    for (const t of this.timers) clearTimeout(t)
    const bounded = async (what: string, p: Promise<unknown> | undefined): Promise<void> => {
      if (p === undefined) return
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)))
      const r = await Promise.race([p.then(() => 'ok' as const, () => 'ok' as const), late])
      clearTimeout(timer)
      if (r === 'late') this.log.warn({ part: what, deadlineMs }, 'stop: part did not stop in time; abandoned')
    }
    await bounded('scheduler', this.loop)
    await bounded('http', this.http?.stop())
    await bounded('watchdog', this.watchdog?.stop())
    await bounded('network', this.network?.stop())
    this.signLog?.close()
  }

  validatorContext(): ValidatorContext {
    return {
      chainId: this.config.chain.chainId,
      adapterId: this.adapter.id,
      configHash: this.cfgHash,
      operators: this.operators,
      operatorsAt: (b) => this.sets.forBlock(b, this.finalized, this.signal),
      finalizedHead: this.finalized,
      maxAheadBlocks: this.config.checkpoint.interval * 4n + 64n,
      oldestBlock: retentionFloor(this.finalized, this.config.checkpoint.interval, this.config.retention.keepLast),
      schedule: { interval: this.config.checkpoint.interval, first: this.firstCheckpoint() },
      seen: (a) => this.aggregator.seen(a),
    }
  }

  /** Equivocation evidence is kept on disk (one file per pair) and survives restarts. */
  private async keepEvidence(e: Evidence): Promise<void> {
    const bytes = encodeEvidence(e)
    const name = `${bytesToHex(keccak256(bytes)).slice(2, 18)}.evidence`
    if (this.evidence.some((x) => Buffer.compare(encodeEvidence(x), bytes) === 0)) return
    this.evidence.push(e)
    const dir = join(this.config.dataDir, 'evidence')
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeFile(join(dir, name), bytes, { mode: 0o600 })
  }

  private async loadEvidence(): Promise<void> {
    const dir = join(this.config.dataDir, 'evidence')
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith('.evidence')) continue
      try {
        this.evidence.push(decodeEvidence(await readFile(join(dir, name))))
      } catch (err) {
        this.log.warn({ err, file: name }, 'unreadable evidence file skipped')
      }
    }
  }

  /** Continue incrementally from our last snapshot if it is still on the chain. */
  private async resume(): Promise<void> {
    let last: { block: string; hash: `0x${string}`; snapshot: string } | undefined
    try {
      last = JSON.parse(await readFile(join(this.config.dataDir, 'last-checkpoint.json'), 'utf8')) as typeof last
    } catch {
      return
    }
    if (last === undefined) return
    const header = await this.source.agreedHeader(BigInt(last.block), this.signal).catch(() => undefined)
    if (header === undefined || header.hash !== last.hash) {
      this.log.warn({ block: last.block }, 'last checkpoint is no longer on the chain (reorg); deriving from scratch')
      return
    }
    const { CID } = await import('multiformats/cid')
    let snapshot: Snapshot<unknown, unknown>
    const state = this.adapter.createState(this.adapterConfig)
    try {
      snapshot = await Snapshot.open(this.store, CID.parse(last.snapshot), this.adapter.schema, { verifyBlocks: false })
      await state.load(snapshot.entries(), await snapshot.markets())
    } catch (err) {
      // e.g. a snapshot written by an older adapter version (another record schema): start over
      this.log.warn({ err, block: last.block }, 'last checkpoint cannot be continued by this adapter version; deriving from scratch')
      return
    }
    this.cache.push({ block: header, snapshot, state })
    this.nextCheckpoint = header.number + this.config.checkpoint.interval
    this.log.info({ block: last.block }, 'resumed from the last own checkpoint')
  }

  private firstCheckpoint(): bigint {
    const i = this.config.checkpoint.interval
    const start = this.config.checkpoint.firstBlock ?? this.adapter.startBlock(this.adapterConfig)
    return ((start + i - 1n) / i) * i
  }

  private async run(): Promise<void> {
    const c = this.config.checkpoint
    this.nextCheckpoint ??= this.firstCheckpoint()
    // catch-up runs beside the schedule: the current checkpoint matters more than history
    this.catchup.watch()
    this.catchUpOnGossip = true
    void this.catchUp()
    let first = true
    let lastCatchUp: bigint | undefined
    while (!this.signal.aborted) {
      const head = await this.source.finalizedHead(this.signal)
      this.finalized = head.number
      const gap = head.number - this.nextCheckpoint
      if ((first && gap > c.interval * 2n) || gap > c.interval * 32n) {
        // Behind (fresh start, restart, slow RPC): derive once at the newest checkpoint, incrementally
        // from whatever base we have (one fold over the whole range), instead of every checkpoint in
        // between; certificates for the skipped ones come from peers (catch-up).
        const skipped = (head.number / c.interval) * c.interval - this.nextCheckpoint
        this.log.info({ from: this.nextCheckpoint.toString(), blocks: skipped.toString() }, 'behind the chain: skipping to the newest checkpoint')
        this.nextCheckpoint = (head.number / c.interval) * c.interval
        void this.catchUp()
      }
      first = false
      while (this.nextCheckpoint <= head.number && !this.signal.aborted) {
        await this.checkpointWithRetry(this.nextCheckpoint)
        this.nextCheckpoint += c.interval
      }
      // a partition that heals without a reconnect brings no catch-up trigger: ask now and then anyway
      lastCatchUp ??= head.number
      if (head.number - lastCatchUp >= c.interval * CATCHUP_EVERY_CHECKPOINTS) {
        lastCatchUp = head.number
        void this.catchUp()
      }
      await pause(c.pollMs, this.signal)
    }
  }

  /**
   * One failed checkpoint (an RPC outage, a spot check that disagrees, a sign-log refusal) must not
   * stop the schedule for good: retry with backoff, then skip it, count it and go on; peers may
   * still certify it and catch-up brings the certificate.
   */
  private async checkpointWithRetry(block: bigint): Promise<void> {
    const attempts = CHECKPOINT_ATTEMPTS
    for (let attempt = 1; ; attempt++) {
      try {
        await this.checkpoint(block)
        return
      } catch (err) {
        if (this.signal.aborted || err instanceof DoppelgangerError) throw err
        this.counters.checkpointFailures++
        const last = attempt >= attempts || err instanceof SignConflictError
        this.log.error({ err, block: block.toString(), attempt }, last ? 'checkpoint failed; skipped (peers may still certify it, catch-up will fetch their certificate)' : 'checkpoint failed; retrying')
        if (last) {
          this.counters.checkpointsSkipped++
          return
        }
        await pause(Math.min(500 * 2 ** (attempt - 1), 10_000), this.signal)
      }
    }
  }

  private async checkpoint(block: bigint): Promise<void> {
    const target = await this.source.checkpointHeader(block, this.signal)
    await this.refreshOperators(target)
    const { base, dropped } = await this.cache.canonicalBase(this.source, this.signal)
    if (dropped.length > 0) this.log.warn({ dropped: dropped.map(String) }, 'reorg: dropped cached checkpoints')
    const { checkpoint, stats } = await deriveCheckpoint({ adapter: this.adapter, config: this.adapterConfig, source: this.source, target, prev: base?.block.number !== undefined && base.block.number < block ? base : undefined, store: this.store, signal: this.signal })
    this.cache.push(checkpoint)
    this.counters.checkpoints++
    this.init.onEvent?.({ type: 'derived', block, at: performance.now(), ms: stats.ms.total })
    await writeFile(join(this.config.dataDir, 'last-checkpoint.json'), JSON.stringify({ block: block.toString(), hash: target.hash, snapshot: checkpoint.snapshot.cid.toString() }))
    this.log.info({ block: block.toString(), root: checkpoint.snapshot.cid.toString(), accounts: checkpoint.snapshot.root.accountCount, ms: stats.ms.total }, 'checkpoint derived')
    if (block <= this.quietUntil) {
      this.log.info({ block: block.toString() }, 'doppelganger quiet period: not signing this checkpoint')
      return
    }
    await this.attest(checkpoint as Checkpoint, target)
  }

  /** With an on-chain registry, the set that counts for a checkpoint is the one at that block. */
  private async refreshOperators(target: BlockHeader): Promise<void> {
    if (!this.sets.onChain) return
    const before = this.operators
    await this.sets.at(target, this.signal)
    const next = this.operators
    if (sameOperatorSet(before, next)) return
    this.log.info({ block: target.number.toString(), operators: next.weights.size, threshold: next.threshold.toString() }, 'operator set changed in the registry')
  }

  /** The newest final operator set (for messages about a block: the set at that block, see OperatorSets). */
  private get operators(): OperatorSet {
    return this.sets.latest
  }

  private async attest(cp: Checkpoint, target: BlockHeader, kind = 0): Promise<void> {
    const body: AttestationBody = {
      chainId: this.config.chain.chainId,
      adapterId: this.adapter.id,
      configHash: this.cfgHash,
      blockNumber: target.number,
      blockHash: target.hash,
      snapshotCid: cp.snapshot.cid,
      stateRoot: cp.snapshot.root.stateRoot as `0x${string}`,
      specVersion: SPEC_VERSION,
      kind,
    }
    // Durable before it leaves the node: the sign log refuses a second content for this checkpoint.
    const signature = await this.signLog.sign(body, this.operator, async () => normalizeV(await this.account.sign({ hash: attestationDigest(body) })))
    const att: SignedAttestation = { body, signer: this.operator as `0x${string}`, signature }
    this.own.set(target.number, { snapshot: cp.snapshot.cid.toString(), signedAt: Date.now() })
    this.init.onEvent?.({ type: 'signed', block: target.number, at: performance.now() })
    await this.network.publish('attestation', encodeAttestation(att)).catch((err: unknown) => this.log.warn({ err }, 'publishing the attestation failed; peers will get it from the certificate'))
    this.counters.attestationsSent++
    this.handle(this.aggregator.add(att, { own: true }))
    if (kind !== 0) return
    const t = setTimeout(() => this.checkQuorum(target.number, checkpointKey(body)), this.config.checkpoint.quorumTimeoutMs)
    this.timers.add(t)
  }

  private checkQuorum(block: bigint, key: string): void {
    if (this.certificates.get(block) !== undefined) return
    const tally = this.aggregator.tally(key).map((t) => ({ content: t.content, weight: t.weight.toString(), signers: t.signers }))
    this.counters.noQuorum++
    this.noQuorum.push({ block: block.toString(), tally })
    this.log.warn({ block: block.toString(), tally, threshold: this.sets.cached(block).threshold.toString() }, 'no quorum within the timeout')
  }

  private onAttestation(a: SignedAttestation): void {
    const logged = a.signer.toLowerCase() === this.operator ? this.signLog.get(a.body) : undefined
    if (a.signer.toLowerCase() === this.operator && (logged === undefined || logged.content !== contentKey(a.body))) {
      this.fatal = new DoppelgangerError(this.operator, a.body.blockNumber)
      this.log.error({ block: a.body.blockNumber.toString() }, this.fatal.message)
      this.controller.abort(this.fatal)
      return
    }
    this.handle(this.aggregator.add(a))
  }

  private handle(events: AggregatorEvent[]): void {
    for (const e of events) {
      if (e.type === 'certificate' || e.type === 'extended') void this.onCertificate(e.certificate, 'aggregated')
      else if (e.type === 'evidence') {
        void this.keepEvidence(e.evidence)
        this.log.warn({ signer: e.signer, checkpoint: e.checkpoint }, 'equivocation: operator signed two different snapshots for one checkpoint')
        void this.network.publish('evidence', encodeEvidence(e.evidence)).catch(() => {})
      }
    }
  }

  private async onCertificate(cert: Certificate, from: 'gossip' | 'aggregated' | 'catchup'): Promise<void> {
    try {
      if (!(await this.certificates.put(cert))) return
      const block = encodeCertificate(cert)
      await this.store.put(block)
      await this.watchdog?.onCertified(cert, block.cid)
      if (from !== 'catchup') this.counters.certificates++
      this.init.onEvent?.({ type: 'certified', block: cert.body.blockNumber, at: performance.now() })
      const mySig = this.own.get(cert.body.blockNumber)
      if (mySig !== undefined && from !== 'catchup') this.onQuorumLatency?.((Date.now() - mySig.signedAt) / 1000)
      else this.counters.catchupCertificates++
      const b = cert.body.blockNumber
      this.log.info({ block: b.toString(), certificate: block.cid.toString(), snapshot: cert.body.snapshotCid.toString(), signers: cert.signatures.length, from }, 'certified')
      if (from === 'aggregated') await this.network.publish('certificate', block.bytes).catch(() => {})
      // catch-up holds its certificates at once and fetches their snapshots one after the other behind
      if (from === 'catchup') this.snapshotFetches = this.snapshotFetches.then(() => this.keepSnapshot(cert))
      else await this.keepSnapshot(cert)
    } catch (err) {
      if (!this.signal.aborted) this.log.warn({ err }, 'handling a certificate failed')
    }
  }

  private snapshotFetches: Promise<void> = Promise.resolve()

  /** Keep a certified snapshot locally (fetch what we lack over bitswap), compare it with ours, apply retention. */
  private async keepSnapshot(cert: Certificate): Promise<void> {
    try {
      const b = cert.body.blockNumber
      const mine = this.own.get(b)
      // our own snapshot is the certified one: we wrote every block of it when deriving, so walking the whole
      // DAG again (thousands of disk reads per certificate, starving derivations running beside it) adds nothing
      const ours = mine?.snapshot === cert.body.snapshotCid.toString() && (await this.network.helia.blockstore.has(cert.body.snapshotCid))
      if (!ours) await fetchDag(this.network.helia, cert.body.snapshotCid, { signal: this.signal })
      if (mine !== undefined && mine.snapshot !== cert.body.snapshotCid.toString()) await this.reportDivergence(b, mine.snapshot, cert.body.snapshotCid)
      await this.applyRetention()
    } catch (err) {
      if (!this.signal.aborted) this.log.warn({ err, block: cert.body.blockNumber.toString() }, 'keeping a certified snapshot failed')
    }
  }

  private retentionRunning = false

  /** Drop certificates outside the retention policy and garbage-collect blocks no kept snapshot uses. */
  private async applyRetention(): Promise<void> {
    const r = this.config.retention
    const all = this.certificates.list()
    if (this.retentionRunning || all.length <= r.keepLast) return
    this.retentionRunning = true
    try {
      const keep = retainedBlocks(all.map((s) => s.certificate.body.blockNumber), r.keepLast, this.config.checkpoint.interval * BigInt(r.keepEvery))
      const dropped = all.filter((s) => !keep.has(s.certificate.body.blockNumber))
      if (dropped.length === 0) return
      const kept = all.filter((s) => keep.has(s.certificate.body.blockNumber)).map((s) => s.cid)
      // our own recent snapshots stay too: the next checkpoint builds on them
      const own = [...this.own.values()].slice(-4).map((o) => CID.parse(o.snapshot))
      for (const s of dropped) await this.certificates.remove(s.certificate.body.blockNumber, s.certificate.body.kind)
      const local = this.network.blocks
      const { deleted } = await collectGarbage(
        { get: async (c) => local.get(c), has: async (c) => local.has(c), delete: async (c) => this.network.deleteBlock(c) },
        [...kept, ...own],
        dropped.map((s) => s.cid),
      )
      this.counters.retentionDeletedBlocks += deleted
      this.log.info({ dropped: dropped.map((s) => s.certificate.body.blockNumber.toString()), deletedBlocks: deleted }, 'retention: dropped old checkpoints')
    } finally {
      this.retentionRunning = false
    }
  }

  private async reportDivergence(block: bigint, ours: string, certified: CID): Promise<void> {
    const { CID } = await import('multiformats/cid')
    const { diffSnapshots } = await import('../../snapshot/state/diff.ts')
    const a = await Snapshot.open(this.store, CID.parse(ours), this.adapter.schema, { verifyBlocks: false })
    const b = await Snapshot.open(this.store, certified, this.adapter.schema, { verifyBlocks: false })
    const accounts: string[] = []
    for await (const d of diffSnapshots(a, b)) if (accounts.push(d.account) >= 1000) break
    this.divergences.push({ block: block.toString(), ours, certified: certified.toString(), accounts })
    this.counters.divergences++
    this.log.error({ block: block.toString(), ours, certified: certified.toString(), accounts: accounts.slice(0, 20), differing: accounts.length }, 'divergence: our snapshot differs from the certified one')
  }

  /** Ask every connected peer for the certificates we lack (see CatchUpClient); the number that were new. */
  async catchUp(): Promise<number> {
    return this.catchup.all()
  }

  /** A certificate from catch-up: kept if it is for this network, new (or has more signatures) and verifies against the set at its block. */
  private async acceptCaughtUp(bytes: Uint8Array): Promise<boolean> {
    const cert = decodeCertificate(bytes)
    if (cert.body.chainId !== this.config.chain.chainId || cert.body.adapterId !== this.adapter.id || cert.body.configHash !== this.cfgHash) return false
    const had = this.certificates.get(cert.body.blockNumber, cert.body.kind)
    if (had !== undefined && had.certificate.signatures.length >= cert.signatures.length) return false
    await verifyCertificate(cert, await this.sets.forBlock(cert.body.blockNumber, this.finalized, this.signal))
    await this.onCertificate(cert, 'catchup')
    return true
  }

  /**
   * Emergency checkpoint (PROTOCOL.md §12.3), called by the watchdog once a
   * quorum of operators raised one condition: derive the final block from
   * the newest cached checkpoint below it, then sign (sign log, kind 1),
   * publish and aggregate it like a scheduled one. Throws a retryable
   * NOT_FINAL until the block is final.
   */
  async emergencyCheckpoint(block: bigint): Promise<void> {
    const target = await this.source.checkpointHeader(block, this.signal)
    const prev = await this.cache.baseBelow(block, this.source, this.signal)
    const { checkpoint, stats } = await deriveCheckpoint({ adapter: this.adapter, config: this.adapterConfig, source: this.source, target, prev, store: this.store, signal: this.signal })
    this.init.onEvent?.({ type: 'derived', block, at: performance.now(), ms: stats.ms.total })
    this.log.warn({ block: block.toString(), root: checkpoint.snapshot.cid.toString(), from: stats.fromBlock, ms: stats.ms }, 'emergency checkpoint derived')
    if (block <= this.quietUntil) {
      this.log.info({ block: block.toString() }, 'doppelganger quiet period: not signing this emergency checkpoint')
      return
    }
    await this.attest(checkpoint as Checkpoint, target, 1)
  }

  private watchdogComponents(): WatchdogComponents {
    return {
      operator: () => this.operator as `0x${string}`,
      sign: async (digest) => normalizeV(await this.account.sign({ hash: digest })),
      publish: (bytes) => this.network.publish('alert', bytes),
      context: () => this.validatorContext(),
      accounts: () => this.cache.latest?.state.records() as Iterable<{ key: string; record: AccountRecord }> | undefined,
      ark: () => ({ nodeFinalized: this.finalized, noQuorumBlock: this.noQuorum.length === 0 ? undefined : BigInt(this.noQuorum.at(-1)!.block), divergenceBlock: this.divergences.length === 0 ? undefined : BigInt(this.divergences.at(-1)!.block), latestCertified: this.latestScheduled() }),
      emergencyCheckpoint: (block) => this.emergencyCheckpoint(block),
      putBlock: (b) => this.store.put(b),
    }
  }

  private latestScheduled(): bigint | undefined {
    return this.certificates.list().filter((s) => s.certificate.body.kind === 0).at(-1)?.certificate.body.blockNumber
  }

  /**
   * Admin: derive and store the snapshot of a final block now (default: the finalized head), off the
   * schedule. It is stored and served like any snapshot but not attested: off-schedule checkpoints
   * cannot reach quorum (emergency checkpoints are a separate, quorum-triggered mechanism).
   */
  async snapshotNow(block?: bigint): Promise<Record<string, unknown>> {
    const target = await this.source.checkpointHeader(block ?? 'finalized', this.signal)
    const { base } = await this.cache.canonicalBase(this.source, this.signal)
    const prev = base !== undefined && base.block.number < target.number ? base : undefined
    const { checkpoint, stats } = await deriveCheckpoint({ adapter: this.adapter, config: this.adapterConfig, source: this.source, target, prev, store: this.store, signal: this.signal })
    const s = checkpoint.snapshot
    this.log.info({ block: target.number.toString(), root: s.cid.toString() }, 'admin snapshot stored')
    return { block: target.number.toString(), blockHash: target.hash, snapshot: s.cid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, ms: stats.ms.total }
  }

  get operatorSet(): OperatorSet {
    return this.operators
  }

  get finalizedHead(): bigint {
    return this.finalized
  }

  status(): Record<string, unknown> {
    const latest = this.certificates.latest()
    return {
      operator: this.operator,
      peerId: this.network.peerId.toString(),
      peers: this.network.libp2p.getPeers().length,
      chainId: this.config.chain.chainId.toString(),
      adapter: { id: this.adapter.id, configHash: this.cfgHash },
      finalizedHead: this.finalized.toString(),
      nextCheckpoint: this.nextCheckpoint?.toString() ?? null,
      latestCertified: latest === undefined ? null : { block: latest.certificate.body.blockNumber.toString(), certificate: latest.cid.toString(), snapshot: latest.certificate.body.snapshotCid.toString() },
      counters: this.counters,
      divergences: this.divergences.length,
      evidence: this.evidence.length,
      fatal: this.fatal?.message ?? null,
      http: this.httpUrl ?? null,
      watchdog: this.watchdog === undefined ? null : { active: this.watchdog.tracker.active.size, emergencies: this.watchdog.book.entries.size },
    }
  }
}
