import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import type { Hex, TypedDataDefinition } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { alertTypedData, conditionKey, encodeAlert, signAlert, type SignedAlert } from '../../protocol/alert.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { validateAlert } from '../../protocol/gossip/validate-alert.ts'
import type { Validation, ValidatorContext } from '../../protocol/gossip/validate.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { Service } from '../p2p/service.ts'
import { pause } from '../util/pause.ts'
import type { AlertPool } from './alert-pool.ts'
import { CircuitBreaker } from './breaker.ts'
import { ChainReader } from './chain-reader.ts'
import { ConditionTracker, type Condition } from './conditions.ts'
import { EmergencyBook } from './emergency.ts'
import { ConditionGauges } from './gauges.ts'
import type { ArkObservation } from './monitors.ts'
import { Observer, type FoundCondition } from './observer.ts'
import { paramsHash, type WatchdogOptions } from './options.ts'
import { entryJSON, Responder } from './responder.ts'
import { SignerBudget } from './signer-budget.ts'
import { WebhookSender, type WebhookEvent } from './webhook.ts'

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
  /** the alert's digest and its EIP-712 typed data (a remote signer is given the typed data) */
  sign: (digest: Hex, typedData: TypedDataDefinition) => Promise<Hex>
  publish: (bytes: Uint8Array) => Promise<unknown>
  /** the node's validator context (operator set, finalized head, scope) */
  context: () => ValidatorContext
  /** current account records (the latest derived checkpoint), for the liquidation-backlog monitor */
  accounts?: () => Iterable<{ key: Uint8Array; record: AccountRecord }> | undefined
  /** the node's own progress, for head-lag and the Ark monitors */
  ark?: () => ArkObservation & { nodeFinalized: bigint }
  /** derive, sign and publish the kind-1 checkpoint of a final block (throws retryable NOT_FINAL until it is) */
  emergencyCheckpoint: (block: bigint, conditionKey: string) => Promise<void>
  /** keep an emergency record block (served by the gateway) */
  putBlock?: (block: Block) => Promise<void> | void
}

const str = (c: Condition): Record<string, unknown> => ({ id: c.id, kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), block: c.block.toString(), values: c.values.map(String), message: c.message, signed: c.signed, raisedAt: new Date(c.raisedAt).toISOString() })

/**
 * The watchdog of one archive node (PROTOCOL.md §12), wiring its rooms: the
 * observer polls the chain and runs the monitors; this service raises and
 * clears conditions (log lines, metrics, webhooks, HTTP) and signs and
 * gossips alerts for emergency kinds; the responder counts everyone's
 * alerts per condition key and on a quorum starts the emergency checkpoint
 * and (optionally) trips the circuit breaker — once per key.
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
  /** condition id → 1 active / 0 cleared (Prometheus series per condition; bounded, gauges.ts) */
  readonly conditionGauge = new ConditionGauges()
  /** new gossiped alerts per signer: validation, claim checks, forwarding (PROTOCOL.md §12.7) */
  readonly alertBudget = new SignerBudget()
  readonly breaker: CircuitBreaker | undefined
  private readonly init: WatchdogInit
  private readonly c: WatchdogComponents
  private readonly log: Logger
  private readonly controller = new AbortController()
  private loop: Promise<void> | undefined
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly observer: Observer
  private responderInstance: Responder | undefined

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
    this.observer = new Observer({
      reader: this.reader,
      options: init.options,
      log: this.log,
      signal: this.controller.signal,
      oldestBlock: () => this.c.context().oldestBlock,
      found: (group, conditions) => this.apply(group, conditions),
      ...(components.accounts === undefined ? {} : { accounts: components.accounts }),
      ...(components.ark === undefined ? {} : { ark: components.ark }),
    })
  }

  /** Built on first use: the node's context (operator set) is ready only once the node built its network. */
  private get responder(): Responder {
    this.responderInstance ??= new Responder({
      book: this.book,
      breaker: this.breaker,
      enabled: this.options.emergency.enabled,
      log: this.log,
      signal: this.controller.signal,
      counters: this.counters,
      operators: () => this.c.context().operators,
      notify: (event, payload) => this.notify(event, payload),
      track: (p) => this.track(p),
      emergencyCheckpoint: (block, key) => this.c.emergencyCheckpoint(block, key),
      ...(this.c.putBlock === undefined ? {} : { putBlock: this.c.putBlock }),
    })
    return this.responderInstance
  }

  /** Validated alerts by condition key. */
  get pool(): AlertPool {
    return this.responder.pool
  }

  /** The alert topic's validator (for the node's network): pure checks, then the claim against this node's chain view. */
  validate = async (bytes: Uint8Array): Promise<Validation<SignedAlert>> => {
    const ctx = this.c.context()
    return validateAlert(bytes, { ...ctx, paramsHash: this.paramsHash, seenAlert: (a) => this.pool.seen(a), budget: this.alertBudget, checkClaim: (a) => this.reader.checkClaim(a, ctx.finalizedHead) })
  }

  /** An accepted alert from gossip. */
  onAlert(a: SignedAlert): void {
    this.counters.alertsReceived++
    this.count(a)
  }

  /** True when a validated alert in the pool names this block as its emergency checkpoint (sinceBlock − 1). */
  namesEmergencyBlock(blockNumber: bigint): boolean {
    return this.responderInstance?.pool.namesEmergencyBlock(blockNumber) ?? false
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
    q.finally(() => this.tasks.delete(q)).catch(() => undefined)
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

  /** One observation round (observer.ts); then what fell out of the validity window is forgotten. */
  async poll(): Promise<void> {
    await this.observer.poll()
    this.responder.prune(this.c.context().oldestBlock)
  }

  /** Wait for a backlog evaluation in flight (tests). */
  async settled(): Promise<void> {
    await this.observer.settled()
  }

  private apply(group: string, found: FoundCondition[]): void {
    const { raised, cleared } = this.tracker.update(group, found, Date.now())
    for (const c of raised) {
      this.counters.raised++
      this.raisedByKind.set(c.kind, (this.raisedByKind.get(c.kind) ?? 0) + 1)
      this.conditionGauge.raise(c)
      this.log.warn({ watchdog: 'raised', kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), block: c.block.toString(), values: c.values.map(String) }, `watchdog: ${c.message}`)
      this.notify('alert.raised', { condition: str(c) })
      if (c.signed) this.track(this.signAndPublish(c))
    }
    for (const c of cleared) {
      this.counters.cleared++
      this.conditionGauge.clear(c)
      this.log.info({ watchdog: 'cleared', kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock.toString(), activeMs: c.clearedAt - c.raisedAt }, `watchdog: condition cleared: ${c.kind} ${c.subject}`)
      this.notify('alert.cleared', { condition: { ...str(c), clearedAt: new Date(c.clearedAt).toISOString() } })
    }
  }

  private async signAndPublish(c: Condition): Promise<void> {
    const ctx = this.c.context()
    const body = { chainId: ctx.chainId, adapterId: ctx.adapterId, configHash: ctx.configHash as Hex, paramsHash: this.paramsHash, kind: c.kind, subject: c.subject, sinceBlock: c.sinceBlock, block: c.block, values: c.values }
    const a = await signAlert(body, this.c.operator(), (digest) => this.c.sign(digest, alertTypedData(body)))
    this.counters.alertsSigned++
    await this.c.publish(encodeAlert(a)).catch((err: unknown) => this.log.warn({ err }, 'publishing an alert failed'))
    this.count(a)
  }

  private count(a: SignedAlert): void {
    this.responder.count(a)
  }

  /** A certificate the node now holds: an emergency one completes the records waiting for its block. */
  async onCertified(cert: Certificate, cid: CID): Promise<void> {
    await this.responder.onCertified(cert, cid)
  }

  private notify(event: WebhookEvent, payload: Record<string, unknown>): void {
    this.webhooks.send(event, { operator: this.c.operator(), chainId: this.init.chainId.toString(), adapterId: this.init.adapterId, ...payload })
  }

  /** GET /v1/alerts */
  view(): Record<string, unknown> {
    const pool = this.responderInstance?.pool
    return {
      paramsHash: this.paramsHash,
      active: [...this.tracker.active.values()].map(str),
      recent: this.tracker.recent.map((c) => ({ ...str(c), clearedAt: new Date(c.clearedAt).toISOString() })),
      quorums: (pool?.keys() ?? []).map((k) => ({ conditionKey: k, weight: pool!.weight(k).toString(), quorum: pool!.hasQuorum(k), signers: pool!.alerts(k).map((a) => a.signer) })),
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
