import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { alertJSON, conditionKey, encodeAlert, isEmergencyKind, MAX_ALERT_VALUES, signAlert, type SignedAlert } from '../../protocol/alert.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { validateAlert } from '../../protocol/gossip/validate-alert.ts'
import type { Validation, ValidatorContext } from '../../protocol/gossip/validate.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { Service } from '../p2p/service.ts'
import { AlertPool } from './alert-pool.ts'
import { CircuitBreaker } from './breaker.ts'
import { ChainReader } from './chain-reader.ts'
import { ConditionTracker, type Condition } from './conditions.ts'
import { EmergencyBook, type EmergencyEntry } from './emergency.ts'
import { underwaterCandidates } from './margin.ts'
import { arkFindings, chainStall, fundingStale, headLag, liquidationBacklog, oracleDisagreement, oracleFindings, protocolPaused, rpcDisagreement, type ArkObservation, type Finding, type UnderwaterRun } from './monitors.ts'
import { paramsHash, type WatchdogOptions } from './options.ts'
import { WebhookSender } from './webhook.ts'
import { pause } from '../util/pause.ts'

export interface WatchdogInit {
  options: WatchdogOptions
  chainId: bigint
  adapterId: string
  configHash: Hex
  /** the reference exchange watched by the protocol monitors */
  exchange: Address
  source: ChainSource
  dataDir: string
  logger: Logger
  /** guardian key for the circuit breaker (loaded by the caller; never logged) */
  guardian?: PrivateKeyAccount
}

/** What the watchdog needs from its node, read lazily (the node builds its network after the watchdog). */
export interface WatchdogComponents {
  operator: () => Address
  sign: (digest: Hex) => Promise<Hex>
  publish: (bytes: Uint8Array) => Promise<unknown>
  /** the node's validator context (operator set, finalized head, scope) */
  context: () => ValidatorContext
  /** current account records (the latest derived checkpoint), for the liquidation-backlog monitor */
  accounts?: () => Iterable<{ key: string; record: AccountRecord }> | undefined
  /** the node's own progress, for head-lag and the Ark monitors */
  ark?: () => ArkObservation & { nodeFinalized: bigint }
  /** derive, sign and publish the kind-1 checkpoint of a final block (throws retryable NOT_FINAL until it is) */
  emergencyCheckpoint: (block: bigint, conditionKey: string) => Promise<void>
  /** keep an emergency record block (served by the gateway) */
  putBlock?: (block: Block) => Promise<void> | void
}

const str = (c: Condition): Record<string, unknown> => ({ id: c.id, kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), block: c.block.toString(), values: c.values.map(String), message: c.message, signed: c.signed, raisedAt: new Date(c.raisedAt).toISOString() })
const entryJSON = (e: EmergencyEntry): Record<string, unknown> => ({ ...e, block: e.block.toString(), confirmedAt: new Date(e.confirmedAt).toISOString(), ...(e.certifiedAt === undefined ? {} : { certifiedAt: new Date(e.certifiedAt).toISOString() }) })

/**
 * The watchdog of one archive node (PROTOCOL.md §12): polls the chain,
 * runs the monitors, raises and clears conditions (log lines, metrics,
 * webhooks, HTTP), signs and gossips alerts for emergency kinds, counts
 * everyone's alerts per condition key, and on a quorum starts the emergency
 * checkpoint and (optionally) trips the circuit breaker — once per key.
 */
export class Watchdog implements Service {
  readonly name = 'watchdog'
  readonly options: WatchdogOptions
  readonly paramsHash: Hex
  readonly tracker = new ConditionTracker()
  readonly reader: ChainReader
  readonly webhooks: WebhookSender
  readonly book: EmergencyBook
  readonly counters = { polls: 0, pollErrors: 0, raised: 0, cleared: 0, alertsSigned: 0, alertsReceived: 0, quorums: 0, emergencies: 0, emergencyCertified: 0, rateLimited: 0 }
  readonly raisedByKind = new Map<string, number>()
  /** condition id → 1 active / 0 cleared (Prometheus series per condition) */
  readonly conditionGauge = new Map<string, { kind: string; subject: string; value: number }>()
  breaker: CircuitBreaker | undefined
  pool: AlertPool | undefined
  private readonly init: WatchdogInit
  private readonly c: WatchdogComponents
  private readonly log: Logger
  private readonly controller = new AbortController()
  private loop: Promise<void> | undefined
  private readonly tasks = new Set<Promise<unknown>>()
  private head: { number: bigint; since: number } | undefined
  private lastFinal: string | undefined
  private readonly runs = new Map<string, { since: bigint; checked: bigint; capped: boolean }>()

  constructor(init: WatchdogInit, components: WatchdogComponents) {
    this.init = init
    this.c = components
    this.options = init.options
    this.log = init.logger
    this.paramsHash = paramsHash(init.options)
    this.reader = new ChainReader({ source: init.source, exchange: init.exchange, options: init.options, signal: this.controller.signal })
    this.webhooks = new WebhookSender(init.options.webhooks, init.options.webhook, this.log)
    this.book = new EmergencyBook({ dataDir: init.dataDir, cooldownBlocks: init.options.emergency.cooldownBlocks, maxPerHour: init.options.emergency.maxPerHour, log: this.log })
    if (init.guardian !== undefined) {
      this.breaker = new CircuitBreaker({ account: init.guardian, exchange: init.options.breaker?.exchange ?? init.exchange, rpcUrl: init.source.options.rpcUrls[0]!, chainId: init.chainId, stateFile: join(init.dataDir, 'breaker.json'), isPaused: async () => this.reader.paused((await this.reader.source.finalizedHead(this.controller.signal)).hash), log: this.log })
    }
  }

  private get alertPool(): AlertPool {
    this.pool ??= new AlertPool(this.c.context().operators)
    return this.pool
  }

  /** The alert topic's validator (for the node's network): pure checks, then the claim against this node's chain view. */
  validate = async (bytes: Uint8Array): Promise<Validation<SignedAlert>> => {
    const ctx = this.c.context()
    const v = await validateAlert(bytes, { ...ctx, paramsHash: this.paramsHash, seenAlert: (a) => this.alertPool.seen(a), checkClaim: (a) => this.reader.checkClaim(a, ctx.finalizedHead) })
    return v
  }

  /** An accepted alert from gossip. */
  onAlert(a: SignedAlert): void {
    this.counters.alertsReceived++
    this.count(a)
  }

  async start(): Promise<void> {
    await this.book.open()
    await this.breaker?.open()
    await this.webhooks.start()
    this.loop = this.run()
    this.log.info({ paramsHash: this.paramsHash, exchange: this.init.exchange, breaker: this.breaker?.guardian ?? null, webhooks: this.options.webhooks.length }, 'watchdog started')
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.loop
    await Promise.allSettled([...this.tasks])
    await this.webhooks.stop()
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => {
      if (!this.controller.signal.aborted) this.log.warn({ err }, 'watchdog task failed')
    })
    this.tasks.add(q)
    void q.finally(() => this.tasks.delete(q))
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal
    while (!signal.aborted) {
      try {
        await this.poll()
        this.counters.polls++
      } catch (err) {
        this.counters.pollErrors++
        if (!signal.aborted) this.log.debug({ err }, 'watchdog poll failed')
      }
      await pause(this.options.pollMs, signal)
    }
  }

  /** One observation round; each monitor group updates its conditions only if its reads succeeded. */
  async poll(): Promise<void> {
    const now = Date.now()
    const o = this.options
    const { heads, common, latest } = await this.reader.endpointHeads()
    if (latest !== undefined) {
      if (this.head === undefined || this.head.number !== latest.number) this.head = { number: latest.number, since: now }
      const found = [chainStall({ number: latest.number, timestamp: latest.timestamp, stuckMs: now - this.head.since }, o), rpcDisagreement(heads, common, o)]
      await this.apply('chain', found, latest.number)
    }
    const B = await this.reader.finalized()
    const ark = this.c.ark?.()
    if (ark !== undefined) await this.apply('node', [headLag(ark.nodeFinalized, B.number, o), ...arkFindings(ark)], B.number)
    // the protocol monitors are functions of the state at B: nothing to redo until B changes
    if (this.lastFinal === B.hash) return
    const found: (Finding | undefined)[] = []
    const markets = await this.reader.markets(B.hash)
    const feeds = [...new Set([...markets.map((m) => m.feed), ...o.oracle.extraFeeds, ...o.oracle.pairs.flatMap((p) => p.feeds)].map((f) => f.toLowerCase() as Address))]
    const obs = new Map((await Promise.all(feeds.map((f) => this.reader.feed(f, B.hash)))).map((f) => [f.feed, f]))
    for (const f of obs.values()) if (f.roundId > 0n) found.push(...oracleFindings(f, B.timestamp, o))
    for (const p of o.oracle.pairs) found.push(oracleDisagreement(obs.get(p.feeds[0])!, obs.get(p.feeds[1])!, p.maxBps))
    for (const m of markets) found.push(fundingStale(m, B.timestamp, o))
    found.push(protocolPaused(await this.reader.paused(B.hash), this.reader.exchange, B.number))
    await this.apply('protocol', found, B.number, B)
    this.lastFinal = B.hash
    // the backlog monitor may walk back many blocks: it runs beside the poll, never delaying the others
    if (this.backlog === undefined && this.c.accounts !== undefined) {
      this.backlog = this.pollBacklog(B, markets)
        .catch((err: unknown) => {
          if (!this.controller.signal.aborted) this.log.debug({ err }, 'watchdog backlog poll failed')
        })
        .finally(() => (this.backlog = undefined))
    }
  }

  private backlog: Promise<void> | undefined

  /** Wait for a backlog evaluation in flight (tests). */
  async settled(): Promise<void> {
    await this.backlog
  }

  private async pollBacklog(B: Awaited<ReturnType<ChainReader['finalized']>>, markets: Awaited<ReturnType<ChainReader['markets']>>): Promise<void> {
    const o = this.options
    const records = this.c.accounts?.()
    if (records !== undefined) {
      const ctx = await this.reader.marginContext(B, markets)
      const runs: UnderwaterRun[] = []
      const live = new Set<string>()
      for (const cand of underwaterCandidates(records, ctx, o.engine.backlogCandidates)) {
        const acct = cand.account as Address
        const now2 = await this.reader.underwater(acct, B.hash)
        if (!now2.under) continue
        live.add(acct)
        const r = await this.reader.runStart(acct, B.number, this.runs.get(acct))
        this.runs.set(acct, { ...r, checked: B.number })
        runs.push({ account: acct, since: r.since, capped: r.capped, equity: now2.equity, requirement: now2.requirement })
      }
      for (const k of [...this.runs.keys()]) if (!live.has(k)) this.runs.delete(k)
      await this.apply('backlog', [liquidationBacklog(runs, B.number, o)], B.number, B)
    }
  }

  private async apply(group: string, found: (Finding | undefined)[], block: bigint, hi?: Awaited<ReturnType<ChainReader['finalized']>>): Promise<void> {
    const conditions: Omit<Condition, 'id' | 'group' | 'raisedAt'>[] = []
    for (const f of found) {
      if (f === undefined) continue
      const sinceBlock = hi === undefined ? (f.since.rule === 'block' ? f.since.block : block) : await this.reader.resolveSince(f.since, hi)
      conditions.push({ kind: f.kind, subject: f.subject.toLowerCase() as Address, sinceBlock, block, values: f.values.slice(0, MAX_ALERT_VALUES), message: f.message, signed: isEmergencyKind(f.kind) && f.local !== true && sinceBlock >= 1n })
    }
    const { raised, cleared } = this.tracker.update(group, conditions, Date.now())
    for (const c of raised) {
      this.counters.raised++
      this.raisedByKind.set(c.kind, (this.raisedByKind.get(c.kind) ?? 0) + 1)
      this.conditionGauge.set(c.id, { kind: c.kind, subject: c.subject, value: 1 })
      this.log.warn({ watchdog: 'raised', kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), block: c.block.toString(), values: c.values.map(String) }, `watchdog: ${c.message}`)
      this.notify('alert.raised', { condition: str(c) })
      if (c.signed) this.track(this.signAndPublish(c))
    }
    for (const c of cleared) {
      this.counters.cleared++
      this.conditionGauge.set(c.id, { kind: c.kind, subject: c.subject, value: 0 })
      this.log.info({ watchdog: 'cleared', kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), activeMs: c.clearedAt - c.raisedAt }, `watchdog: condition cleared: ${c.kind} ${c.subject}`)
      this.notify('alert.cleared', { condition: { ...str(c), clearedAt: new Date(c.clearedAt).toISOString() } })
    }
  }

  private async signAndPublish(c: Condition): Promise<void> {
    const ctx = this.c.context()
    const a = await signAlert({ chainId: ctx.chainId, adapterId: ctx.adapterId, configHash: ctx.configHash as Hex, paramsHash: this.paramsHash, kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock, block: c.block, values: c.values }, this.c.operator(), this.c.sign)
    this.counters.alertsSigned++
    await this.c.publish(encodeAlert(a)).catch((err: unknown) => this.log.warn({ err }, 'publishing an alert failed'))
    this.count(a)
  }

  private count(a: SignedAlert): void {
    this.alertPool.setOperators(this.c.context().operators)
    const e = this.alertPool.add(a)
    if (e.type !== 'quorum') return
    this.counters.quorums++
    const entry = this.book.admit(a, this.options.emergency.enabled, Date.now())
    if (entry === undefined) return
    this.log.warn({ watchdog: 'quorum', conditionKey: e.key, weight: e.weight.toString(), block: entry.block.toString(), status: entry.status, reason: entry.reason }, 'watchdog: operators holding a quorum of weight raised the same condition')
    if (entry.status === 'rate-limited') {
      this.counters.rateLimited++
      return
    }
    this.notify('emergency.confirmed', { emergency: entryJSON(entry), alerts: e.alerts.map(alertJSON) })
    if (entry.status !== 'confirmed') return
    this.counters.emergencies++
    if (this.breaker !== undefined) {
      this.track(
        this.breaker.trip(e.key).then((s) => {
          if (s.status === 'sent' && s.conditionKey === e.key) this.notify('breaker.paused', { breaker: s })
        }),
      )
    }
    this.track(this.takeEmergency(entry))
  }

  private readonly deriving = new Map<bigint, Promise<void>>()

  /** Derive and attest the kind-1 checkpoint (once per block, however many keys name it), retrying while it is not final yet. */
  private async takeEmergency(e: EmergencyEntry): Promise<void> {
    e.status = 'deriving'
    let run = this.deriving.get(e.block)
    if (run === undefined) this.deriving.set(e.block, (run = this.deriveEmergency(e)))
    await run
    if (e.status === 'deriving') e.status = 'attested'
  }

  private async deriveEmergency(e: EmergencyEntry): Promise<void> {
    const signal = this.controller.signal
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.c.emergencyCheckpoint(e.block, e.conditionKey)
        return
      } catch (err) {
        const retryable = (err as { retryable?: boolean }).retryable === true
        if (!retryable || attempt > 600) {
          e.status = 'failed'
          e.reason = (err as Error).message
          this.log.error({ err, block: e.block.toString() }, 'emergency checkpoint failed')
          return
        }
        await pause(200, signal)
      }
    }
  }

  /** condition keys whose certification was announced (counted, logged, webhook sent) */
  private readonly announced = new Set<string>()

  /** A certificate the node now holds: an emergency one completes the records waiting for its block. */
  async onCertified(cert: Certificate, cid: CID): Promise<void> {
    if (cert.body.kind !== 1) return
    // Every key of this block turns 'certified' in the same tick, and only once its record block is stored:
    // a reader never sees a certified entry without its record, nor one key certified and another still pending.
    const done: { e: EmergencyEntry; record: Block; first: boolean }[] = []
    for (const e of this.book.waiting(cert.body.blockNumber)) {
      const alerts = this.alertPool.alerts(e.conditionKey)
      if (alerts.length === 0) continue
      const first = e.status !== 'certified' && !this.announced.has(e.conditionKey)
      this.announced.add(e.conditionKey)
      const record = EmergencyBook.record(alerts, cid)
      await this.c.putBlock?.(record)
      done.push({ e, record, first })
    }
    const now = Date.now()
    await Promise.all(done.map(({ e, record }) => this.book.certify(e, record, cert, cid, now)))
    for (const { e, record, first } of done) {
      if (!first) continue
      this.counters.emergencyCertified++
      this.log.warn({ watchdog: 'emergency', conditionKey: e.conditionKey, block: e.block.toString(), certificate: cid.toString(), record: record.cid.toString(), signers: cert.signatures.length }, 'watchdog: emergency checkpoint certified')
      this.notify('emergency.certified', { emergency: entryJSON(e), certificate: cid.toString(), snapshot: cert.body.snapshotCid.toString(), stateRoot: cert.body.stateRoot, blockHash: cert.body.blockHash, signers: cert.signatures.map((s) => s.signer) })
    }
  }

  private notify(event: Parameters<WebhookSender['send']>[0], payload: Record<string, unknown>): void {
    this.webhooks.send(event, { operator: this.c.operator(), chainId: this.init.chainId.toString(), adapterId: this.init.adapterId, ...payload })
  }

  /** GET /v1/alerts */
  view(): Record<string, unknown> {
    return {
      paramsHash: this.paramsHash,
      active: [...this.tracker.active.values()].map(str),
      recent: this.tracker.recent.map((c) => ({ ...str(c), clearedAt: new Date(c.clearedAt).toISOString() })),
      quorums: (this.pool?.keys() ?? []).map((k) => ({ conditionKey: k, weight: this.alertPool.weight(k).toString(), quorum: this.alertPool.hasQuorum(k), signers: this.alertPool.alerts(k).map((a) => a.signer) })),
      emergencies: [...this.book.entries.values()].map(entryJSON),
      breaker: this.breaker === undefined ? null : { guardian: this.breaker.guardian, exchange: this.breaker.exchange, state: this.breaker.state ?? null },
      webhooks: { ...this.webhooks.counts, pending: this.webhooks.pending },
      counters: this.counters,
    }
  }

  /** Keys that reached quorum (tests, status). */
  conditionKeys(): string[] {
    return [...this.book.entries.keys()]
  }

  keyOf(a: SignedAlert): string {
    return conditionKey(a.body)
  }
}

/** The service factory: watchdogService(init)(components). */
export const watchdogService =
  (init: WatchdogInit) =>
  (components: WatchdogComponents): Watchdog =>
    new Watchdog(init, components)
