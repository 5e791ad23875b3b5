import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { decodeEvidence, encodeEvidence, MAX_EVIDENCE_BYTES, type Evidence } from '../../protocol/evidence.ts'
import { writeFileAtomic } from '../fs/atomic.ts'

export interface EvidenceLimits {
  maxItems: number
  maxBytes: number
  maxPerSigner: number
  pageLimit: number
  maxPageLimit: number
}

export const EVIDENCE_LIMITS: Readonly<EvidenceLimits> = Object.freeze({
  /** items held (memory and files) */
  maxItems: 4096,
  /** encoded bytes held */
  maxBytes: 4096 * MAX_EVIDENCE_BYTES,
  /** checkpoints held per signer: enough to prove it equivocates, too few to crowd out the others */
  maxPerSigner: 256,
  /** /v1/evidence page size */
  pageLimit: 100,
  maxPageLimit: 1000,
})

export interface StoredEvidence {
  /** insertion sequence: the pagination cursor */
  seq: number
  key: string
  evidence: Evidence
  bytes: Uint8Array
}

export type EvidenceOutcome = 'added' | 'duplicate' | 'too-old' | 'too-new' | 'signer-cap'

/**
 * Equivocation evidence beside the certificate store, bounded: at most one
 * item per (signer, kind, block), indexed by that key (O(1) dedup, no
 * re-encoding of what is held), at most `maxPerSigner` per signer (a signer
 * past its cap is ignored, never evicting others), at most `maxItems` and
 * `maxBytes` in all (oldest first out), and nothing below the retention floor
 * (pruned with retention). One file per item, named by its key, written
 * atomically; the in-memory decision is synchronous, files follow in order.
 */
export class EvidenceStore {
  private readonly dir: string
  private readonly log: Logger | undefined
  private readonly limits: EvidenceLimits
  /** insertion order = age */
  private readonly byKey = new Map<string, StoredEvidence>()
  private readonly perSigner = new Map<string, number>()
  private bytesHeld = 0
  private seq = 0
  private writes: Promise<void> = Promise.resolve()

  constructor(dataDir: string, options: { log?: Logger; limits?: Partial<EvidenceLimits> } = {}) {
    this.dir = join(dataDir, 'evidence')
    this.log = options.log
    this.limits = { ...EVIDENCE_LIMITS, ...options.limits }
  }

  static key(e: Evidence): string {
    return `${e.a.signer.toLowerCase()}-${e.a.body.kind}-${e.a.body.blockNumber.toString()}`
  }

  private file(key: string): string {
    return join(this.dir, `${key}.evidence`)
  }

  /** Load what survived a restart, under the same bounds; files beyond them (or unreadable) are removed or skipped. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.evidence')) continue
      const path = join(this.dir, name)
      let e: Evidence
      try {
        e = decodeEvidence(await readFile(path))
      } catch (err) {
        this.log?.warn({ err, file: name }, 'unreadable evidence file skipped')
        continue
      }
      // files of an older layout (named by hash) are rewritten under their key; files past the bounds go
      const canonical = name === `${EvidenceStore.key(e)}.evidence`
      if (this.admit(e, 0n, undefined, !canonical) !== 'added' || !canonical) await rm(path, { force: true })
    }
    await this.flush()
  }

  get size(): number {
    return this.byKey.size
  }

  get bytes(): number {
    return this.bytesHeld
  }

  has(e: Evidence): boolean {
    return this.byKey.has(EvidenceStore.key(e))
  }

  /** All held items, oldest first (bounded by maxItems). */
  all(): Evidence[] {
    return [...this.byKey.values()].map((s) => s.evidence)
  }

  /** Keep `e` unless held, outside [floor, ceiling] (the validity window), or its signer is at its cap. */
  add(e: Evidence, floor: bigint, ceiling?: bigint): EvidenceOutcome {
    return this.admit(e, floor, ceiling)
  }

  private admit(e: Evidence, floor: bigint, ceiling?: bigint, write = true): EvidenceOutcome {
    const key = EvidenceStore.key(e)
    if (this.byKey.has(key)) return 'duplicate'
    if (e.a.body.blockNumber < floor) return 'too-old'
    if (ceiling !== undefined && e.a.body.blockNumber > ceiling) return 'too-new'
    const signer = e.a.signer.toLowerCase()
    const n = this.perSigner.get(signer) ?? 0
    if (n >= this.limits.maxPerSigner) return 'signer-cap'
    const bytes = encodeEvidence(e)
    while (this.byKey.size > 0 && (this.byKey.size >= this.limits.maxItems || this.bytesHeld + bytes.length > this.limits.maxBytes)) this.drop(this.byKey.keys().next().value!)
    this.byKey.set(key, { seq: ++this.seq, key, evidence: e, bytes })
    this.perSigner.set(signer, n + 1)
    this.bytesHeld += bytes.length
    if (write) this.persist(async () => writeFileAtomic(this.file(key), [bytes], undefined, { mode: 0o600 }))
    return 'added'
  }

  private drop(key: string): void {
    const s = this.byKey.get(key)
    if (s === undefined) return
    this.byKey.delete(key)
    this.bytesHeld -= s.bytes.length
    const signer = s.evidence.a.signer.toLowerCase()
    const n = (this.perSigner.get(signer) ?? 1) - 1
    if (n === 0) this.perSigner.delete(signer)
    else this.perSigner.set(signer, n)
    this.persist(() => rm(this.file(key), { force: true }))
  }

  private persist(op: () => Promise<void>): void {
    this.writes = this.writes.then(op).catch((err: unknown) => this.log?.warn({ err }, 'writing evidence to disk failed'))
  }

  /** Drop evidence for checkpoints below the retention floor. */
  prune(floor: bigint): number {
    let n = 0
    for (const [k, s] of this.byKey) {
      if (s.evidence.a.body.blockNumber < floor) {
        this.drop(k)
        n++
      }
    }
    return n
  }

  /** Items after `cursor` (a seq from a previous page), at most `limit` (clamped to maxPageLimit); `next` is the cursor for the page after. */
  page(cursor: number | undefined, limit: number): { items: StoredEvidence[]; next: number | undefined } {
    const max = Math.max(1, Math.min(limit, this.limits.maxPageLimit))
    const items: StoredEvidence[] = []
    for (const s of this.byKey.values()) {
      if (cursor !== undefined && s.seq <= cursor) continue
      if (items.length === max) return { items, next: items.at(-1)!.seq }
      items.push(s)
    }
    return { items, next: undefined }
  }

  /** Resolves once every file write queued so far is done. */
  flush(): Promise<void> {
    return this.writes
  }
}
