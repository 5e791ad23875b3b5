import { open, mkdir, readFile, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { decodeCertificate } from '../../protocol/certificate.ts'
import { carHeader, carSection } from '../../snapshot/car/car.ts'
import { CarStreamReader } from '../../snapshot/car/stream.ts'
import { checkBlock, type Block } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { MemoryBlockStore, type BlockStore } from '../../snapshot/store.ts'

/** `.<name>.partial` beside DIR: where an unfinished fetch keeps its verified blocks. */
export function stagingPathFor(out: string): string {
  return join(dirname(out), `.${basename(out)}.partial`)
}

export const STAGING_FILES = Object.freeze({ certificate: 'certificate.block', blocks: 'blocks.car' })

/** Appended blocks are written out in batches of about this many bytes. */
const WRITE_BATCH = 1 << 20

function ioError(what: string, err: unknown): ArkError {
  const code = (err as NodeJS.ErrnoException).code
  return new ArkError('IO', `cannot ${what}: ${code ?? (err as Error).message}${code === 'ENOSPC' ? ' (disk full; free space and rerun the same command to resume)' : ''}`, { cause: err, retryable: code === 'ENOSPC' })
}

export interface StagingOpened {
  staging: Staging
  /** blocks found from an earlier, interrupted run (already hash-checked again) */
  resumed: { blocks: number; bytes: number }
  /** why an earlier staging dir was discarded, if one was */
  discarded: string | undefined
}

/**
 * The staging directory of one fetch: the certificate being fetched
 * (`certificate.block`) and every block received and hash-checked so far,
 * appended to `blocks.car` (a CARv1 rooted at the snapshot). Blocks are also
 * kept in memory for verification. An interrupted run leaves it behind;
 * opening it again for the same snapshot loads what it holds (re-checking
 * every block, cutting off a half-written last one), so those blocks are not
 * fetched again. Opening it for a different snapshot discards it.
 */
export class Staging implements BlockStore {
  readonly dir: string
  readonly snapshotCid: CID
  readonly memory: MemoryBlockStore
  private readonly fh: FileHandle
  private batch: Uint8Array[] = []
  private batchBytes = 0
  private writing: Promise<void> = Promise.resolve()
  private failed: unknown
  private closed = false
  /** blocks and bytes added in this run, fetched from a source */
  added = { blocks: 0, bytes: 0 }
  /** blocks and bytes added in this run from an earlier snapshot (`ark fetch --from`) */
  reused = { blocks: 0, bytes: 0 }
  /** called with every new block (after it is held) */
  onPut: ((block: Block) => void) | undefined

  private constructor(dir: string, snapshotCid: CID, fh: FileHandle, memory: MemoryBlockStore) {
    this.dir = dir
    this.memory = memory
    this.snapshotCid = snapshotCid
    this.fh = fh
  }

  /**
   * Open (or create) the staging dir for `certificate` (its block bytes).
   * Staged blocks of the same snapshot are kept even if the certificate
   * differs (e.g. one with more signatures): blocks are content-addressed.
   */
  static async open(dir: string, certificateBytes: Uint8Array): Promise<StagingOpened> {
    const certificate = decodeCertificate(certificateBytes)
    const snapshotCid = certificate.body.snapshotCid
    let discarded: string | undefined
    const carPath = join(dir, STAGING_FILES.blocks)
    const certPath = join(dir, STAGING_FILES.certificate)
    let prior: Uint8Array | undefined
    try {
      prior = await readFile(certPath)
    } catch {
      prior = undefined
    }
    if (prior !== undefined) {
      let priorSnapshot: string
      let priorBlock: string
      try {
        const c = decodeCertificate(prior)
        priorSnapshot = c.body.snapshotCid.toString()
        priorBlock = c.body.blockNumber.toString()
      } catch {
        priorSnapshot = 'unreadable'
        priorBlock = '?'
      }
      if (priorSnapshot !== snapshotCid.toString()) {
        discarded = `${dir} held an interrupted fetch of snapshot ${priorSnapshot} (block ${priorBlock}), not the certified ${snapshotCid.toString()} (block ${certificate.body.blockNumber}); starting over`
        await rm(dir, { recursive: true, force: true })
      }
    } else if (await exists(dir)) {
      // a staging dir without its certificate was never past its first write: nothing in it counts
      await rm(dir, { recursive: true, force: true })
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      if (prior === undefined || Buffer.compare(prior, certificateBytes) !== 0) {
        await writeFile(`${certPath}.tmp`, certificateBytes)
        await rename(`${certPath}.tmp`, certPath)
      }
    } catch (err) {
      throw ioError(`create the staging directory ${dir}`, err)
    }
    const memory = new MemoryBlockStore()
    let resumed = { blocks: 0, bytes: 0 }
    const loaded = await loadBlocks(carPath, snapshotCid, memory)
    if (loaded.problem !== undefined) {
      discarded = `${carPath}: ${loaded.problem}; starting over`
      memory.blocks.clear()
      await rm(carPath, { force: true })
    } else {
      resumed = { blocks: loaded.blocks, bytes: loaded.bytes }
      if (loaded.validEnd !== undefined) await truncate(carPath, loaded.validEnd)
    }
    let fh: FileHandle
    try {
      fh = await open(carPath, 'a')
      if ((await fh.stat()).size === 0) await fh.write(carHeader([snapshotCid]))
    } catch (err) {
      throw ioError(`open ${carPath}`, err)
    }
    return { staging: new Staging(dir, snapshotCid, fh, memory), resumed, discarded }
  }

  has(cid: CID): boolean {
    return this.memory.has(cid)
  }

  get(cid: CID): Uint8Array {
    return this.memory.get(cid)
  }

  /**
   * Keep a block the caller has hash-checked; a block already held is ignored.
   * A reused block (from an earlier snapshot) is kept in memory only: a rerun
   * after a crash finds it in the earlier snapshot again.
   */
  put(block: Block, origin: 'fetched' | 'reused' = 'fetched'): void {
    if (this.closed) throw new ArkError('IO', 'the staging store is closed')
    if (this.memory.has(block.cid)) return
    this.memory.put(block)
    const count = origin === 'reused' ? this.reused : this.added
    count.blocks++
    count.bytes += block.bytes.length
    if (origin === 'reused') return this.onPut?.(block)
    for (const p of carSection(block.cid, block.bytes)) {
      this.batch.push(p)
      this.batchBytes += p.length
    }
    if (this.batchBytes >= WRITE_BATCH) this.writeBatch()
    this.onPut?.(block)
  }

  get size(): number {
    return this.memory.size
  }

  private writeBatch(): void {
    if (this.batch.length === 0) return
    const chunk = Buffer.concat(this.batch)
    this.batch = []
    this.batchBytes = 0
    this.writing = this.writing.then(async () => {
      if (this.failed !== undefined) return
      try {
        await this.fh.write(chunk)
      } catch (err) {
        this.failed = err
      }
    })
  }

  /** Everything put so far is on disk. */
  async flush(): Promise<void> {
    this.writeBatch()
    await this.writing
    if (this.failed !== undefined) throw ioError(`write ${join(this.dir, STAGING_FILES.blocks)}`, this.failed)
    await this.fh.datasync().catch(() => {})
  }

  /** Flush and close; the directory stays (for a later run to resume from) until remove(). */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
      await this.fh.close().catch(() => {})
    }
  }

  async remove(): Promise<void> {
    await this.close().catch(() => {})
    await rm(this.dir, { recursive: true, force: true })
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/**
 * Blocks of an earlier run's blocks.car, each hash-checked again. A file cut
 * off inside its last section (the run was killed mid-write) is valid up to
 * `validEnd`; any other damage, or another snapshot's file, is a `problem`.
 */
async function loadBlocks(path: string, root: CID, into: MemoryBlockStore): Promise<{ blocks: number; bytes: number; validEnd?: number; problem?: string }> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch {
    return { blocks: 0, bytes: 0 }
  }
  const reader = new CarStreamReader()
  let blocks = 0
  let total = 0
  try {
    for (const b of reader.push(bytes)) {
      checkBlock(b.cid, b.bytes)
      into.put(b)
      blocks++
      total += b.bytes.length
    }
  } catch (err) {
    return { blocks: 0, bytes: 0, problem: `damaged (${(err as Error).message})` }
  }
  const want = root.toString()
  if (reader.roots === undefined) return { blocks: 0, bytes: 0, validEnd: 0 }
  const got = reader.roots[0]!.toString()
  if (got !== want) return { blocks: 0, bytes: 0, problem: `holds blocks of snapshot ${got}, not ${want}` }
  return reader.buffered > 0 ? { blocks, bytes: total, validEnd: reader.offset } : { blocks, bytes: total }
}
