import type { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import { alertJSON, type SignedAlert } from '../../protocol/alert.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import { pause } from '../util/pause.ts'
import { AlertPool } from './alert-pool.ts'
import type { CircuitBreaker } from './breaker.ts'
import { EmergencyBook, type EmergencyEntry } from './emergency.ts'
import type { WebhookEvent } from './webhook.ts'

/** Attempts to derive an emergency checkpoint that is not final yet (200 ms apart). */
const MAX_DERIVE_ATTEMPTS = 600

export const entryJSON = (e: EmergencyEntry): Record<string, unknown> => ({ ...e, block: e.block.toString(), confirmedAt: new Date(e.confirmedAt).toISOString(), ...(e.certifiedAt === undefined ? {} : { certifiedAt: new Date(e.certifiedAt).toISOString() }) })

export interface ResponderInit {
  book: EmergencyBook
  breaker: CircuitBreaker | undefined
  enabled: boolean
  log: Logger
  signal: AbortSignal
  counters: { quorums: number; emergencies: number; emergencyCertified: number; rateLimited: number }
  operators: () => OperatorSet
  notify: (event: WebhookEvent, payload: Record<string, unknown>) => void
  /** run beside the caller; failures are logged by the owner */
  track: (p: Promise<unknown>) => void
  emergencyCheckpoint: (block: bigint, conditionKey: string) => Promise<void>
  putBlock?: (block: Block) => Promise<void> | void
}

/**
 * What the network's alerts lead to (PROTOCOL.md §12.3–12.4): counts every
 * validated alert in the pool; the first quorum of a key admits it to the
 * emergency book (rate limits), trips the breaker and derives the kind-1
 * checkpoint (once per block, however many keys name it); a kind-1
 * certificate completes the records waiting for its block.
 */
export class Responder {
  readonly pool: AlertPool
  private readonly i: ResponderInit
  /** emergency block → its derivation in flight (removed when it ends) */
  private readonly deriving = new Map<bigint, Promise<void>>()
  /** entries whose certification was announced (counted, logged, webhook sent); weak: bounded by the book */
  private readonly announced = new WeakSet<EmergencyEntry>()

  constructor(init: ResponderInit) {
    this.i = init
    this.pool = new AlertPool(init.operators())
  }

  /** Forget what fell out of the validity window. */
  prune(oldest: bigint): void {
    this.pool.prune(oldest)
    this.i.book.prune(oldest)
  }

  count(a: SignedAlert): void {
    const { book, log, counters } = this.i
    this.pool.setOperators(this.i.operators())
    const e = this.pool.add(a)
    if (e.type !== 'quorum') return
    counters.quorums++
    const entry = book.admit(a, this.i.enabled, Date.now())
    if (entry === undefined) return
    log.warn({ watchdog: 'quorum', conditionKey: e.key, weight: e.weight.toString(), block: entry.block.toString(), status: entry.status, reason: entry.reason }, 'watchdog: operators holding a quorum of weight raised the same condition')
    if (entry.status === 'rate-limited') {
      counters.rateLimited++
      return
    }
    this.i.notify('emergency.confirmed', { emergency: entryJSON(entry), alerts: e.alerts.map(alertJSON) })
    if (entry.status !== 'confirmed') return
    counters.emergencies++
    const breaker = this.i.breaker
    if (breaker !== undefined) {
      this.i.track(
        breaker.trip(e.key).then((s) => {
          if (s.status === 'sent' && s.conditionKey === e.key) this.i.notify('breaker.paused', { breaker: s })
        }),
      )
    }
    this.i.track(this.takeEmergency(entry))
  }

  /** Derive and attest the kind-1 checkpoint, retrying while it is not final yet. */
  private async takeEmergency(e: EmergencyEntry): Promise<void> {
    e.status = 'deriving'
    let run = this.deriving.get(e.block)
    if (run === undefined) {
      run = this.deriveEmergency(e).finally(() => this.deriving.delete(e.block))
      this.deriving.set(e.block, run)
    }
    await run
    if (e.status === 'deriving') e.status = 'attested'
  }

  private async deriveEmergency(e: EmergencyEntry): Promise<void> {
    const signal = this.i.signal
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.i.emergencyCheckpoint(e.block, e.conditionKey)
        return
      } catch (err) {
        const retryable = (err as { retryable?: boolean }).retryable === true
        if (!retryable || attempt > MAX_DERIVE_ATTEMPTS) {
          e.status = 'failed'
          e.reason = (err as Error).message
          this.i.log.error({ err, block: e.block.toString() }, 'emergency checkpoint failed')
          return
        }
        await pause(200, signal)
      }
    }
  }

  /** A certificate the node now holds: an emergency one completes the records waiting for its block. */
  async onCertified(cert: Certificate, cid: CID): Promise<void> {
    if (cert.body.kind !== 1) return
    const { book } = this.i
    // Every key of this block turns 'certified' in the same tick, and only once its record block is stored:
    // a reader never sees a certified entry without its record, nor one key certified and another still pending.
    const done: { e: EmergencyEntry; record: Block; first: boolean }[] = []
    for (const e of book.waiting(cert.body.blockNumber)) {
      const alerts = this.pool.alerts(e.conditionKey)
      if (alerts.length === 0) continue
      // announced once per key (a later certificate with more signatures rebuilds the record), even when two arrive at once
      const first = e.status !== 'certified' && !this.announced.has(e)
      this.announced.add(e)
      const record = EmergencyBook.record(alerts, cid)
      await this.i.putBlock?.(record)
      done.push({ e, record, first })
    }
    const now = Date.now()
    await Promise.all(done.map(({ e, record }) => book.certify(e, record, cert, cid, now)))
    for (const { e, record, first } of done) {
      if (!first) continue
      this.i.counters.emergencyCertified++
      this.i.log.warn({ watchdog: 'emergency', conditionKey: e.conditionKey, block: e.block.toString(), certificate: cid.toString(), record: record.cid.toString(), signers: cert.signatures.length }, 'watchdog: emergency checkpoint certified')
      this.i.notify('emergency.certified', { emergency: entryJSON(e), certificate: cid.toString(), snapshot: cert.body.snapshotCid.toString(), stateRoot: cert.body.stateRoot, blockHash: cert.body.blockHash, signers: cert.signatures.map((s) => s.signer) })
    }
  }
}
