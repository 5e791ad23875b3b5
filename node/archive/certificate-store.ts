import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { decodeCertificate, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'

export interface StoredCertificate {
  certificate: Certificate
  cid: CID
  bytes: Uint8Array
}

/**
 * Certified checkpoints by block: one file per (block, kind) holding the
 * certificate block bytes, written atomically, so a restart (even after
 * SIGKILL) finds every certificate it had. A later certificate for the same
 * checkpoint replaces the earlier only if it carries more signatures.
 */
export class CertificateStore {
  private readonly dir: string
  private readonly byKey = new Map<string, StoredCertificate>()

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'certificates')
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
      const bytes = await readFile(join(this.dir, name))
      const certificate = decodeCertificate(bytes)
      this.byKey.set(CertificateStore.key(certificate.body.blockNumber, certificate.body.kind), { certificate, cid: encodeCertificate(certificate).cid, bytes })
    }
  }

  private queue: Promise<unknown> = Promise.resolve()

  /** Returns true when stored (new, or more signatures than before). Puts run one at a time. */
  put(certificate: Certificate): Promise<boolean> {
    const run = this.queue.then(() => this.putNow(certificate))
    this.queue = run.catch(() => {})
    return run
  }

  private async putNow(certificate: Certificate): Promise<boolean> {
    const k = CertificateStore.key(certificate.body.blockNumber, certificate.body.kind)
    const had = this.byKey.get(k)
    if (had !== undefined && had.certificate.signatures.length >= certificate.signatures.length) return false
    const block = encodeCertificate(certificate)
    const file = join(this.dir, `${k}.cert`)
    await writeFile(`${file}.tmp`, block.bytes, { mode: 0o600 })
    await rename(`${file}.tmp`, file)
    this.byKey.set(k, { certificate, cid: block.cid, bytes: block.bytes })
    return true
  }

  get(block: bigint, kind = 0): StoredCertificate | undefined {
    return this.byKey.get(CertificateStore.key(block, kind))
  }

  /** Ascending by block. */
  list(): StoredCertificate[] {
    return [...this.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v)
  }

  latest(): StoredCertificate | undefined {
    return this.list().at(-1)
  }

  async remove(block: bigint, kind = 0): Promise<void> {
    const k = CertificateStore.key(block, kind)
    this.byKey.delete(k)
    await rm(join(this.dir, `${k}.cert`), { force: true })
  }
}
