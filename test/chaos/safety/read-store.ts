import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { decodeCertificate, type Certificate } from '../../../protocol/certificate.ts'
import { blockLinks } from '../../../snapshot/codec/links.ts'
import { BLOCKSTORE_DIR, DiskBlockstore } from '../../../node/p2p/disk-blockstore.ts'

/**
 * Read a stopped node's data directory, the way the node writes it (README "What the node keeps"):
 * certificates/<block>-<kind>.cert (certificate block bytes), signlog.jsonl (one JSON object per
 * line), blockstore/ (LevelDB, PROTOCOL.md §14.9). Tolerant on purpose: a file it cannot read is counted, never
 * fatal, so the checker survives layout changes and reports damage as a figure.
 */
export interface StoredState {
  certificates: Certificate[]
  unreadableCertificates: number
  signLog: { checkpoint: string; content: string; signer?: string }[]
  /** complete lines that do not parse (a torn last line is not counted: the node drops it) */
  damagedSignLogLines: number
}

export async function readStoredState(dataDir: string): Promise<StoredState> {
  const out: StoredState = { certificates: [], unreadableCertificates: 0, signLog: [], damagedSignLogLines: 0 }
  const dir = join(dataDir, 'certificates')
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.cert')) continue
    try {
      out.certificates.push(decodeCertificate(await readFile(join(dir, name))))
    } catch {
      out.unreadableCertificates++
    }
  }
  const text = await readFile(join(dataDir, 'signlog.jsonl'), 'utf8').catch(() => '')
  const lines = text.split('\n')
  lines.pop() // after the last newline: empty, or a torn append the node truncates at start
  for (const l of lines) {
    try {
      const e = JSON.parse(l) as { checkpoint?: unknown; content?: unknown; signer?: unknown }
      if (typeof e.checkpoint !== 'string' || typeof e.content !== 'string') throw new Error('not an entry')
      out.signLog.push({ checkpoint: e.checkpoint, content: e.content, ...(typeof e.signer === 'string' ? { signer: e.signer.toLowerCase() } : {}) })
    } catch {
      out.damagedSignLogLines++
    }
  }
  return out
}

/** Walks DAGs in one node's on-disk blockstore; remembers complete subtrees (snapshots share most blocks). */
export class DagChecker {
  private readonly store: DiskBlockstore
  private readonly complete = new Set<string>()
  private opened = false

  constructor(dataDir: string) {
    this.store = new DiskBlockstore(join(dataDir, BLOCKSTORE_DIR))
  }

  /** True when every block reachable from root is present and well-formed. */
  async isComplete(root: CID): Promise<boolean> {
    if (!this.opened) {
      try {
        await this.store.open()
      } catch {
        return false
      }
      this.opened = true
    }
    return this.walk(root)
  }

  private async walk(cid: CID): Promise<boolean> {
    const k = cid.toString()
    if (this.complete.has(k)) return true
    let bytes: Uint8Array
    try {
      const chunks: Uint8Array[] = []
      for await (const c of this.store.get(cid)) chunks.push(c)
      bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    } catch {
      return false
    }
    let links: CID[]
    try {
      links = blockLinks(cid, bytes)
    } catch {
      return false
    }
    for (const l of links) if (!(await this.walk(l))) return false
    this.complete.add(k)
    return true
  }

  async close(): Promise<void> {
    if (this.opened) await this.store.close().catch(() => {})
  }
}
