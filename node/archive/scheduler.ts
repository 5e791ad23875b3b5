import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import type { BlockHeader, ChainSource } from '../../snapshot/chain/source.ts'
import { deriveCheckpoint, type Checkpoint, type CheckpointCache } from '../../snapshot/derive/derive.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { writeFileAtomic } from '../fs/atomic.ts'
import type { Service } from '../p2p/service.ts'
import { SignConflictError } from '../signlog/signlog.ts'
import { pause } from '../util/pause.ts'
import { DoppelgangerError } from './attester.ts'
import type { NodeConfig } from './config.ts'

/** Tries per checkpoint before it is skipped (backoff 0.5 s, 1 s, … between them). */
export const CHECKPOINT_ATTEMPTS = 3
/** A periodic catch-up round every this many checkpoint intervals, besides the ones on connect and on gossip. */
export const CATCHUP_EVERY_CHECKPOINTS = 8n

export const LAST_CHECKPOINT_FILE = 'last-checkpoint.json'

export interface SchedulerInit {
  config: Pick<NodeConfig, 'checkpoint' | 'dataDir'>
  source: ChainSource
  adapter: Adapter
  adapterConfig: unknown
  cache: CheckpointCache
  store: () => BlockStore
  /** with a registry: read the set at this checkpoint's block before deriving it */
  refreshOperators: (target: BlockHeader) => Promise<void>
  /** sign and publish (kind 0 scheduled, 1 emergency) */
  attest: (cp: Checkpoint, target: BlockHeader, kind: number) => Promise<void>
  /** doppelganger quiet period */
  quiet: (block: bigint) => boolean
  beginQuietPeriod: (finalizedHead: bigint) => void
  catchUp: () => Promise<unknown>
  /** called once, when the run loop begins (catch-up's connection watch, the gossip trigger) */
  onRunning: () => void
  counters: { checkpoints: number; checkpointFailures: number; checkpointsSkipped: number; headReadFailures: number }
  onDerived?: (block: bigint, ms: number) => void
  log: Logger
  signal: AbortSignal
}

/**
 * The scheduler: the run loop over checkpoint blocks, with retry and skip,
 * skip-ahead when far behind, and resume from `last-checkpoint.json`
 * (written atomically after each derivation). Also derives off-schedule
 * snapshots (admin) and emergency checkpoints (watchdog).
 */
export class Scheduler {
  private readonly init: SchedulerInit
  finalized = 0n
  nextCheckpoint: bigint | undefined
  private loop: Promise<void> | undefined
  /** set when the loop ended on an error */
  private onFatal: ((err: Error) => void) | undefined

  constructor(init: SchedulerInit) {
    this.init = init
  }

  /** Read the head, start the quiet period, resume, then run the loop until the node's signal aborts. */
  async start(onFatal: (err: Error) => void): Promise<void> {
    this.onFatal = onFatal
    const head = await this.init.source.finalizedHead(this.init.signal)
    this.finalized = head.number
    this.init.beginQuietPeriod(head.number)
    await this.resume()
  }

  /** Begin the loop (after every other part started). */
  run(): void {
    this.loop = this.runLoop().catch((err: unknown) => {
      if (!this.init.signal.aborted) this.onFatal?.(err as Error)
    })
  }

  /** Resolves when the loop has ended (the node's signal aborts it). */
  stopped(): Promise<void> | undefined {
    return this.loop
  }

  firstCheckpoint(): bigint {
    const c = this.init.config.checkpoint
    return firstCheckpoint(c.interval, c.firstBlock ?? this.init.adapter.startBlock(this.init.adapterConfig))
  }

  /** Continue incrementally from our last snapshot if it is still on the chain. */
  private async resume(): Promise<void> {
    const { log, signal, adapter } = this.init
    let last: { block: string; hash: `0x${string}`; snapshot: string } | undefined
    try {
      last = JSON.parse(await readFile(join(this.init.config.dataDir, LAST_CHECKPOINT_FILE), 'utf8')) as typeof last
    } catch {
      return
    }
    if (last === undefined || last === null) return
    const header = await this.init.source.agreedHeader(BigInt(last.block), signal).catch(() => undefined)
    if (header === undefined || header.hash !== last.hash) {
      log.warn({ block: last.block }, 'last checkpoint is no longer on the chain (reorg); deriving from scratch')
      return
    }
    let snapshot: Snapshot<unknown, unknown>
    const state = adapter.createState(this.init.adapterConfig)
    try {
      snapshot = await Snapshot.open(this.init.store(), CID.parse(last.snapshot), adapter.schema, { verifyBlocks: false })
      await state.load(snapshot.entries(), await snapshot.markets())
    } catch (err) {
      // e.g. a snapshot written by an older adapter version (another record schema): start over
      log.warn({ err, block: last.block }, 'last checkpoint cannot be continued by this adapter version; deriving from scratch')
      return
    }
    this.init.cache.push({ block: header, snapshot, state })
    this.nextCheckpoint = header.number + this.init.config.checkpoint.interval
    log.info({ block: last.block }, 'resumed from the last own checkpoint')
  }

  private catchUp(): void {
    this.init.catchUp().catch((err: unknown) => this.init.log.warn({ err }, 'catch-up failed'))
  }

  private async runLoop(): Promise<void> {
    const { log, signal, source } = this.init
    const c = this.init.config.checkpoint
    let next = (this.nextCheckpoint ??= this.firstCheckpoint())
    // catch-up runs beside the schedule: the current checkpoint matters more than history
    this.init.onRunning()
    this.catchUp()
    let first = true
    let lastCatchUp: bigint | undefined
    let headFailures = 0
    while (!signal.aborted) {
      let head: Awaited<ReturnType<typeof source.finalizedHead>>
      try {
        head = await source.finalizedHead(signal)
        headFailures = 0
      } catch (err) {
        // An RPC that refuses, rate-limits or is mid-reorg must not end the schedule: the node keeps
        // serving and resumes when the chain answers again (backoff 0.5 s … 30 s, counted, logged).
        if (signal.aborted) return
        this.init.counters.headReadFailures++
        headFailures++
        log.warn({ err, failures: headFailures }, 'reading the finalized head failed; retrying')
        await pause(Math.min(500 * 2 ** Math.min(headFailures - 1, 6), 30_000), signal)
        continue
      }
      this.finalized = head.number
      const gap = head.number - next
      if ((first && gap > c.interval * 2n) || gap > c.interval * 32n) {
        // Behind (fresh start, restart, slow RPC): derive once at the newest checkpoint, incrementally
        // from whatever base we have (one fold over the whole range), instead of every checkpoint in
        // between; certificates for the skipped ones come from peers (catch-up).
        const skipped = (head.number / c.interval) * c.interval - next
        log.info({ from: next.toString(), blocks: skipped.toString() }, 'behind the chain: skipping to the newest checkpoint')
        next = this.nextCheckpoint = (head.number / c.interval) * c.interval
        this.catchUp()
      }
      first = false
      while (next <= head.number && !signal.aborted) {
        await this.checkpointWithRetry(next)
        next = this.nextCheckpoint = next + c.interval
      }
      // a partition that heals without a reconnect brings no catch-up trigger: ask now and then anyway
      lastCatchUp ??= head.number
      if (head.number - lastCatchUp >= c.interval * CATCHUP_EVERY_CHECKPOINTS) {
        lastCatchUp = head.number
        this.catchUp()
      }
      await pause(c.pollMs, signal)
    }
  }

  /**
   * One failed checkpoint (an RPC outage, a spot check that disagrees, a sign-log refusal) must not
   * stop the schedule for good: retry with backoff, then skip it, count it and go on; peers may
   * still certify it and catch-up brings the certificate.
   */
  private async checkpointWithRetry(block: bigint): Promise<void> {
    const { counters, log, signal } = this.init
    for (let attempt = 1; ; attempt++) {
      try {
        await this.checkpoint(block)
        return
      } catch (err) {
        if (signal.aborted || err instanceof DoppelgangerError) throw err
        counters.checkpointFailures++
        const last = attempt >= CHECKPOINT_ATTEMPTS || err instanceof SignConflictError
        log.error({ err, block: block.toString(), attempt }, last ? 'checkpoint failed; skipped (peers may still certify it, catch-up will fetch their certificate)' : 'checkpoint failed; retrying')
        if (last) {
          counters.checkpointsSkipped++
          return
        }
        await pause(Math.min(500 * 2 ** (attempt - 1), 10_000), signal)
      }
    }
  }

  private async derive(target: BlockHeader, prev: Checkpoint | undefined, emit = true): Promise<{ checkpoint: Checkpoint; ms: number; from: unknown; stats: unknown }> {
    const { checkpoint, stats } = await deriveCheckpoint({ adapter: this.init.adapter, config: this.init.adapterConfig, source: this.init.source, target, prev, store: this.init.store(), signal: this.init.signal })
    if (emit) this.init.onDerived?.(target.number, stats.ms.total)
    return { checkpoint: checkpoint as Checkpoint, ms: stats.ms.total, from: stats.fromBlock, stats: stats.ms }
  }

  private async checkpoint(block: bigint): Promise<void> {
    const { source, signal, log, cache } = this.init
    const target = await source.checkpointHeader(block, signal)
    await this.init.refreshOperators(target)
    const { base, dropped } = await cache.canonicalBase(source, signal)
    if (dropped.length > 0) log.warn({ dropped: dropped.map(String) }, 'reorg: dropped cached checkpoints')
    const { checkpoint, ms } = await this.derive(target, base?.block.number !== undefined && base.block.number < block ? base : undefined)
    cache.push(checkpoint)
    this.init.counters.checkpoints++
    // atomic: a crash mid-write must not leave a torn file that stops the resume
    await writeFileAtomic(join(this.init.config.dataDir, LAST_CHECKPOINT_FILE), [JSON.stringify({ block: block.toString(), hash: target.hash, snapshot: checkpoint.snapshot.cid.toString() })], signal)
    log.info({ block: block.toString(), root: checkpoint.snapshot.cid.toString(), accounts: checkpoint.snapshot.root.accountCount, ms }, 'checkpoint derived')
    if (this.init.quiet(block)) {
      log.info({ block: block.toString() }, 'doppelganger quiet period: not signing this checkpoint')
      return
    }
    await this.init.attest(checkpoint, target, 0)
  }

  /**
   * Emergency checkpoint (PROTOCOL.md §12.3), called by the watchdog once a
   * quorum of operators raised one condition: derive the final block from
   * the newest cached checkpoint below it, then sign (sign log, kind 1),
   * publish and aggregate it like a scheduled one. Throws a retryable
   * NOT_FINAL until the block is final.
   */
  async emergencyCheckpoint(block: bigint): Promise<void> {
    const { source, signal, log, cache } = this.init
    const target = await source.checkpointHeader(block, signal)
    const prev = await cache.baseBelow(block, source, signal)
    const { checkpoint, ms, from, stats } = await this.derive(target, prev)
    log.warn({ block: block.toString(), root: checkpoint.snapshot.cid.toString(), from, ms: stats, total: ms }, 'emergency checkpoint derived')
    if (this.init.quiet(block)) {
      log.info({ block: block.toString() }, 'doppelganger quiet period: not signing this emergency checkpoint')
      return
    }
    await this.init.attest(checkpoint, target, 1)
  }

  /**
   * Admin: derive and store the snapshot of a final block now (default: the finalized head), off the
   * schedule. It is stored and served like any snapshot but not attested: off-schedule checkpoints
   * cannot reach quorum (emergency checkpoints are a separate, quorum-triggered mechanism).
   */
  async snapshotNow(block?: bigint): Promise<Record<string, unknown>> {
    const { source, signal, log, cache } = this.init
    const target = await source.checkpointHeader(block ?? 'finalized', signal)
    const { base } = await cache.canonicalBase(source, signal)
    const prev = base !== undefined && base.block.number < target.number ? base : undefined
    const { checkpoint, ms } = await this.derive(target, prev, false)
    const s = checkpoint.snapshot
    log.info({ block: target.number.toString(), root: s.cid.toString() }, 'admin snapshot stored')
    return { block: target.number.toString(), blockHash: target.hash, snapshot: s.cid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, ms }
  }
}

/**
 * The scheduler as two services: `prepare` (head, quiet period, resume) starts before the watchdog
 * and the HTTP API, `run` (the loop) starts last and so stops first, waiting for the loop to end.
 */
export const schedulerServices =
  (scheduler: Scheduler) =>
  (components: { onFatal: (err: Error) => void }): { prepare: Service; run: Service } => ({
    prepare: { name: 'scheduler', start: () => scheduler.start(components.onFatal), stop: async () => {} },
    run: {
      name: 'run',
      start: async () => scheduler.run(),
      stop: async () => {
        await scheduler.stopped()
      },
    },
  })

/** Checkpoints are the multiples of the interval from the first one at or after `start` (PROTOCOL.md §7 schedule). */
export function firstCheckpoint(interval: bigint, start: bigint): bigint {
  return ((start + interval - 1n) / interval) * interval
}
