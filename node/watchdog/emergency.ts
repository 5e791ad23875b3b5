import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import { conditionKey, emergencyBlock, type SignedAlert } from '../../protocol/alert.ts'
import { decodeEmergency, emergencyFrom, encodeEmergency } from '../../protocol/emergency.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import type { Block } from '../../snapshot/codec/block.ts'
import { writeFileAtomic } from '../fs/atomic.ts'

export type EmergencyStatus = 'confirmed' | 'deriving' | 'attested' | 'certified' | 'rate-limited' | 'disabled' | 'failed'

export interface EmergencyEntry {
  conditionKey: string
  kind: string
  subject: string
  /** the checkpoint block: emergencyBlock(key) = sinceBlock − 1 */
  block: bigint
  status: EmergencyStatus
  confirmedAt: number
  certifiedAt?: number
  certificate?: string
  record?: string
  reason?: string
}

/**
 * Emergency bookkeeping of one node: which condition keys reached quorum,
 * the deterministic rate limit, and the emergency records (PROTOCOL.md
 * §12.4) once the kind-1 certificate is held, kept on disk as
 * `{dataDir}/emergencies/{block}-{n}.emergency` so a restart neither loses
 * them nor re-triggers a handled key.
 */
export class EmergencyBook {
  readonly entries = new Map<string, EmergencyEntry>()
  private readonly lastBlock = new Map<string, bigint>()
  private readonly started: number[] = []
  private readonly dir: string
  private readonly cooldownBlocks: bigint
  private readonly maxPerHour: number
  private readonly log: Logger | undefined

  constructor(init: { dataDir: string; cooldownBlocks: number; maxPerHour: number; log?: Logger }) {
    this.dir = join(init.dataDir, 'emergencies')
    this.cooldownBlocks = BigInt(init.cooldownBlocks)
    this.maxPerHour = init.maxPerHour
    this.log = init.log
  }

  async open(): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.emergency')) continue
      try {
        const bytes = await readFile(join(this.dir, name))
        const r = decodeEmergency(bytes)
        const a = r.alerts[0]!.body
        const key = conditionKey(a)
        this.entries.set(key, { conditionKey: key, kind: a.kind, subject: a.subject, block: emergencyBlock(a), status: 'certified', confirmedAt: 0, certificate: r.certificate.toString(), record: encodeEmergency(r).cid.toString() })
        this.noteBlock(`${a.kind}/${a.subject}`, emergencyBlock(a))
      } catch (err) {
        this.log?.warn({ err, file: name }, 'unreadable emergency record skipped')
      }
    }
  }

  private noteBlock(id: string, block: bigint): void {
    const had = this.lastBlock.get(id)
    if (had === undefined || block > had) this.lastBlock.set(id, block)
  }

  /**
   * Decide whether a key that reached quorum starts an emergency checkpoint.
   * Rate limit, deterministic across nodes: none within cooldownBlocks of the
   * previous emergency block for the same (kind, subject). Local cap: at most
   * maxPerHour starts per hour of wall clock.
   */
  admit(alert: SignedAlert, enabled: boolean, now: number): EmergencyEntry | undefined {
    const key = conditionKey(alert.body)
    if (this.entries.has(key)) return undefined
    const b = alert.body
    const block = emergencyBlock(b)
    const id = `${b.kind}/${b.subject}`
    const e: EmergencyEntry = { conditionKey: key, kind: b.kind, subject: b.subject, block, status: 'confirmed', confirmedAt: now }
    this.entries.set(key, e)
    const last = this.lastBlock.get(id)
    while (this.started.length > 0 && this.started[0]! < now - 3_600_000) this.started.shift()
    if (!enabled) e.status = 'disabled'
    else if (last !== undefined && (block > last ? block - last : last - block) < this.cooldownBlocks) {
      e.status = 'rate-limited'
      e.reason = `an emergency for ${id} at block ${last} is within ${this.cooldownBlocks} blocks`
    } else if (this.started.length >= this.maxPerHour) {
      e.status = 'rate-limited'
      e.reason = `more than ${this.maxPerHour} emergencies in the last hour`
    } else {
      this.started.push(now)
      this.noteBlock(id, block)
    }
    return e
  }

  /**
   * Forget what fell out of the validity window: entries whose block is below
   * `oldest` (alerts for them are ignored as TOO_OLD now, so the key cannot
   * come back) and cooldown marks that can no longer decide anything (every
   * future emergency block is ≥ oldest − 1, further than cooldownBlocks away).
   */
  prune(oldest: bigint): void {
    for (const [k, e] of this.entries) if (e.block < oldest) this.entries.delete(k)
    for (const [id, b] of this.lastBlock) if (b + this.cooldownBlocks < oldest - 1n) this.lastBlock.delete(id)
  }

  get sizes(): { entries: number; cooldowns: number } {
    return { entries: this.entries.size, cooldowns: this.lastBlock.size }
  }

  /** Keys waiting for the kind-1 certificate of `block`. */
  waiting(block: bigint): EmergencyEntry[] {
    return [...this.entries.values()].filter((e) => e.block === block && (e.status === 'deriving' || e.status === 'attested' || e.status === 'confirmed' || e.status === 'certified'))
  }

  /** The record linking alerts and certificate (PROTOCOL.md §12.4). */
  static record(alerts: SignedAlert[], certCid: CID): Block {
    return encodeEmergency(emergencyFrom(alerts, certCid))
  }

  /** Keep the record on disk and mark the entry certified. */
  async certify(e: EmergencyEntry, record: Block, cert: Certificate, certCid: CID, now: number): Promise<void> {
    e.status = 'certified'
    e.certifiedAt ??= now
    e.certificate = certCid.toString()
    e.record = record.cid.toString()
    await writeFileAtomic(join(this.dir, `${cert.body.blockNumber}-${Buffer.from(e.conditionKey).toString('base64url').slice(-24)}.emergency`), [record.bytes])
  }
}
