import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import { decodeCertificate, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { syncDir, writeFileAtomic } from '../fs/atomic.ts'

export interface StoredCertificate {
  certificate: Certificate
  cid: CID
  bytes: Uint8Array
}

/** A file that is not a certificate of its name is moved aside under this suffix (never deleted, never a start failure). */
export const DAMAGED_SUFFIX = '.damaged'

/**
 * Certified checkpoints by block: one file per (block, kind) holding the
 * certificate block bytes, written atomically (fsync of file and directory),
 * so a restart (even after a power cut) finds every certificate it had. A
 * damaged file is moved aside with a warning at open; catch-up brings the
 * certificate back. A later certificate for the same checkpoint replaces the
 * earlier only if it carries more signatures. Kept in an index ordered by
 * (block, kind), maintained on insert, so listing never sorts.
 */
export class CertificateStore {
  private readonly dir: string
  private readonly log: Logger | undefined
  private readonly byKey = new Map<string, StoredCertificate>()
  /** ascending by key; `ordered[i]` belongs to `keys[i]` */
  private readonly keys: string[] = []
  private readonly ordered: StoredCertificate[] = []
  /** files moved aside at open (for status and tests) */
  readonly damaged: string[] = []

  constructor(dataDir: string, log?: Logger) {
    this.dir = join(dataDir, 'certificates')
    this.log = log
  }

  private static key(block: bigint, kind: number): string {
    return `${block.toString().padStart(20, '0')}-${kind}`
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.cert')) {
        if (name.includes('.tmp')) await rm(join(this.dir, name), { force: true })
        continue
      }
      const file = join(this.dir, name)
      try {
        const bytes = await readFile(file)
        const certificate = decodeCertificate(bytes)
        const k = CertificateStore.key(certificate.body.blockNumber, certificate.body.kind)
        if (`${k}.cert` !== name) throw new Error(`holds the certificate of ${k}`)
        this.index(k, { certificate, cid: encodeCertificate(certificate).cid, bytes })
      } catch (err) {
        const aside = `${file}${DAMAGED_SUFFIX}-${Date.now()}`
        await rename(file, aside)
        this.damaged.push(aside)
        this.log?.warn({ err, file: name, movedTo: aside }, 'damaged certificate file moved aside; catch-up will fetch the certificate again')
      }
    }
    if (this.damaged.length > 0) await syncDir(this.dir)
  }

  private position(k: string): number {
    let lo = 0
    let hi = this.keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.keys[mid]! < k) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private index(k: string, s: StoredCertificate): void {
    const i = this.position(k)
    if (this.byKey.has(k)) this.ordered[i] = s
    else {
      this.keys.splice(i, 0, k)
      this.ordered.splice(i, 0, s)
    }
    this.byKey.set(k, s)
  }

  private queue: Promise<unknown> = Promise.resolve()

  /**
   * Returns true when stored (new, or more signatures than before). Puts run one at a time.
   * `beforeIndex` runs once the certificate is to be kept, before it becomes visible through
   * get/list/range: the node stores its block there, so the HTTP API never lists a certificate
   * whose block the gateway cannot serve yet.
   */
  put(certificate: Certificate, beforeIndex?: (block: { cid: CID; bytes: Uint8Array }) => Promise<void>): Promise<boolean> {
    const run = this.queue.then(() => this.putNow(certificate, beforeIndex))
    this.queue = run.catch(() => {})
    return run
  }

  private async putNow(certificate: Certificate, beforeIndex?: (block: { cid: CID; bytes: Uint8Array }) => Promise<void>): Promise<boolean> {
    const k = CertificateStore.key(certificate.body.blockNumber, certificate.body.kind)
    const had = this.byKey.get(k)
    if (had !== undefined && had.certificate.signatures.length >= certificate.signatures.length) return false
    const block = encodeCertificate(certificate)
    await beforeIndex?.(block)
    await writeFileAtomic(join(this.dir, `${k}.cert`), [block.bytes], undefined, { mode: 0o600 })
    this.index(k, { certificate, cid: block.cid, bytes: block.bytes })
    return true
  }

  get(block: bigint, kind = 0): StoredCertificate | undefined {
    return this.byKey.get(CertificateStore.key(block, kind))
  }

  get size(): number {
    return this.ordered.length
  }

  /** Ascending by block (then kind). The index itself, read-only: no copy, no sort. */
  list(): readonly StoredCertificate[] {
    return this.ordered
  }

  /** At most `limit` certificates with from ≤ block ≤ to, ascending (binary search, no scan). */
  range(from: bigint | undefined, to: bigint | undefined, limit: number): StoredCertificate[] {
    const start = from === undefined ? 0 : this.position(CertificateStore.key(from, 0))
    const out: StoredCertificate[] = []
    for (let i = start; i < this.ordered.length && out.length < limit; i++) {
      const s = this.ordered[i]!
      if (to !== undefined && s.certificate.body.blockNumber > to) break
      out.push(s)
    }
    return out
  }

  latest(): StoredCertificate | undefined {
    return this.ordered.at(-1)
  }

  /** The newest certificate of one kind (scans back from the end: kinds interleave rarely). */
  latestOfKind(kind: number): StoredCertificate | undefined {
    for (let i = this.ordered.length - 1; i >= 0; i--) if (this.ordered[i]!.certificate.body.kind === kind) return this.ordered[i]
    return undefined
  }

  async remove(block: bigint, kind = 0): Promise<void> {
    const k = CertificateStore.key(block, kind)
    if (this.byKey.delete(k)) {
      const i = this.position(k)
      this.keys.splice(i, 1)
      this.ordered.splice(i, 1)
    }
    await rm(join(this.dir, `${k}.cert`), { force: true })
  }
}
