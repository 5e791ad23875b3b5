import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, writeSync, existsSync, ftruncateSync } from 'node:fs'
import type { Hex } from 'viem'
import { checkpointKey, contentKey, type AttestationBody } from '../../protocol/attestation.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * Slashing-protection for attestations (after EIP-3076): before a signature
 * leaves the node, (checkpoint, content, signature) is appended and fsynced.
 * For a checkpoint already in the log the node re-publishes the same
 * signature, and refuses to sign anything else — across crashes and restarts.
 */
export interface SignLogEntry {
  checkpoint: string
  content: string
  signer: string
  signature: Hex
}

export class SignConflictError extends ArkError {
  override readonly name = 'SignConflictError'
  constructor(checkpoint: string, had: string, wanted: string) {
    super('INVALID_INPUT', `refusing to sign checkpoint ${checkpoint}: already signed ${had}, now asked to sign ${wanted}. Signing both would be equivocation; investigate why this node derived a different snapshot (RPC provider, adapter version) before doing anything else`, { details: { checkpoint, had, wanted } })
  }
}

/** An append that did not reach the disk in full: the log fails closed (no signature leaves, nothing more is signed). */
export class SignLogWriteError extends ArkError {
  override readonly name = 'SignLogWriteError'
  constructor(path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code
    super('IO', `cannot append to the sign log ${path}${code === undefined ? '' : ` (${code})`}${code === 'ENOSPC' ? '; the disk is full: free space' : '; check the disk'}, then restart the node. Nothing was published for this checkpoint and the node signs nothing until restarted`, { cause, retryable: false })
  }
}

/** The write primitive (writeSync's shape), injectable so tests can simulate short writes and ENOSPC. */
export type WriteFn = (fd: number, data: Uint8Array, offset: number, length: number) => number

export class SignLog {
  private readonly path: string
  private readonly entries = new Map<string, SignLogEntry>()
  private fd: number | undefined
  private readonly write: WriteFn
  /** set after a failed append: every later sign throws it again */
  private failed: SignLogWriteError | undefined

  constructor(path: string, options: { write?: WriteFn } = {}) {
    this.path = path
    this.write = options.write ?? ((fd, data, offset, length) => writeSync(fd, data, offset, length))
  }

  /** Load, dropping a torn final line from a crash mid-append. */
  open(): void {
    if (existsSync(this.path)) {
      const bytes = readFileSync(this.path)
      // Only newline-terminated lines are complete; anything after the last newline is a torn append.
      let end = 0
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, end)) {
        const line = bytes.subarray(end, i).toString('utf8')
        let e: SignLogEntry
        try {
          e = JSON.parse(line) as SignLogEntry
          if (e === null || typeof e.checkpoint !== 'string' || typeof e.content !== 'string' || typeof e.signature !== 'string') throw new Error('not an entry')
        } catch (cause) {
          // A complete line that does not parse is damage, not a torn append: fail closed, never drop history.
          throw new ArkError('INVALID_INPUT', `sign log ${this.path} is damaged at byte ${end}; refusing to start (signing without the full history could equivocate). Restore it from a backup or an "ark signlog export"`, { cause })
        }
        const had = this.entries.get(e.checkpoint)
        if (had !== undefined && had.content !== e.content) throw new SignConflictError(e.checkpoint, had.content, e.content)
        this.entries.set(e.checkpoint, e)
        end = i + 1
      }
      if (end < bytes.length) {
        const fd = openSync(this.path, 'r+')
        ftruncateSync(fd, end)
        fsyncSync(fd)
        closeSync(fd)
      }
    }
    this.fd = openSync(this.path, 'a', 0o600)
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  get(body: AttestationBody): SignLogEntry | undefined {
    return this.entries.get(checkpointKey(body))
  }

  /**
   * Sign through the log: the same content again returns the logged signature
   * (safe to re-publish); different content for a logged checkpoint throws.
   */
  private readonly pending = new Map<string, { content: string; signature: Promise<Hex> }>()

  async sign(body: AttestationBody, signer: string, sign: () => Promise<Hex>): Promise<Hex> {
    if (this.fd === undefined) throw new ArkError('INVALID_INPUT', 'sign log is not open')
    if (this.failed !== undefined) throw this.failed
    const checkpoint = checkpointKey(body)
    const content = contentKey(body)
    const had = this.entries.get(checkpoint)
    if (had !== undefined) {
      if (had.content !== content) throw new SignConflictError(checkpoint, had.content, content)
      return had.signature
    }
    // A sign already in flight for this checkpoint reserves it: overlapping calls cannot both sign.
    const inFlight = this.pending.get(checkpoint)
    if (inFlight !== undefined) {
      if (inFlight.content !== content) throw new SignConflictError(checkpoint, inFlight.content, content)
      return inFlight.signature
    }
    const signature = (async () => {
      const sig = await sign()
      this.append({ checkpoint, content, signer: signer.toLowerCase(), signature: sig })
      return sig
    })()
    this.pending.set(checkpoint, { content, signature })
    try {
      return await signature
    } finally {
      this.pending.delete(checkpoint)
    }
  }

  /**
   * Append one line in full and fsync it, or fail closed: a short write or an
   * error (ENOSPC) cuts the file back to its size before the append (so a
   * restart reads a consistent log) and leaves the log refusing to sign.
   */
  private append(e: SignLogEntry): void {
    if (this.fd === undefined) throw new ArkError('INVALID_INPUT', 'sign log is not open')
    if (this.failed !== undefined) throw this.failed
    const fd = this.fd
    const data = Buffer.from(`${JSON.stringify(e)}\n`, 'utf8')
    const before = fstatSync(fd).size
    try {
      for (let off = 0; off < data.length; ) {
        const n = this.write(fd, data, off, data.length - off)
        if (!(n > 0)) throw Object.assign(new Error('short write: no bytes written'), { code: 'ENOSPC' })
        off += n
      }
      fsyncSync(fd)
    } catch (cause) {
      this.failed = new SignLogWriteError(this.path, cause)
      try {
        ftruncateSync(fd, before)
        fsyncSync(fd)
      } catch {
        // the torn line (no newline) is dropped at the next open anyway
      }
      throw this.failed
    }
    this.entries.set(e.checkpoint, e)
  }

  /** Interchange form, to move a node with its history. */
  export(): { version: 1; entries: SignLogEntry[] } {
    return { version: 1, entries: [...this.entries.values()] }
  }

  /** Merge an exported history; a conflicting entry aborts the import before anything is written. */
  import(data: { version: number; entries: SignLogEntry[] }): number {
    if (data?.version !== 1 || !Array.isArray(data.entries)) throw new ArkError('INVALID_INPUT', 'sign-log import must be {"version": 1, "entries": [...]} as written by export')
    const seen = new Map<string, string>()
    for (const e of data.entries) {
      if (e === null || typeof e.checkpoint !== 'string' || typeof e.content !== 'string' || typeof e.signature !== 'string' || typeof e.signer !== 'string') throw new ArkError('INVALID_INPUT', 'sign-log import has a malformed entry; use a file written by "ark signlog export"')
      const other = seen.get(e.checkpoint)
      if (other !== undefined && other !== e.content) throw new SignConflictError(e.checkpoint, other, e.content)
      seen.set(e.checkpoint, e.content)
    }
    for (const e of data.entries) {
      const had = this.entries.get(e.checkpoint)
      if (had !== undefined && had.content !== e.content) throw new SignConflictError(e.checkpoint, had.content, e.content)
    }
    let added = 0
    for (const e of data.entries) {
      if (!this.entries.has(e.checkpoint)) {
        this.append(e)
        added++
      }
    }
    return added
  }
}
