import { opendir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import type { MultihashDigest } from 'multiformats/hashes/interface'
import type { Logger } from 'pino'
import { SHA2_256, sha256 } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { syncDir } from '../fs/atomic.ts'
import type { DiskBlockstore } from './disk-blockstore.ts'

/** The one-file-per-block layout of earlier versions (blockstore-fs): `blocks/<last 2 chars>/<base32upper multihash>.data`. */
export const FS_BLOCKS_DIR = 'blocks'
/** The old directory, renamed once every block is in the new store; removed from there (a crash mid-removal resumes it). */
export const FS_BLOCKS_RETIRED = 'blocks.migrated'
const EXT = '.data'
/** blocks per LevelDB batch */
const BATCH = 512

export interface MigrationResult {
  /** blocks copied and read back from the new store */
  blocks: number
  bytes: number
  /** files whose bytes do not hash to their name: not copied (they were not the block their name says) */
  corrupt: number
  /** files in the old layout that are not blocks (left-over temporary files): not copied */
  foreign: number
  ms: number
}

export class BlockMigrationError extends ArkError {
  override readonly name = 'BlockMigrationError'
}

/** The multihash a blockstore-fs file name encodes, or undefined for a name that is not a block. */
function multihashOf(name: string): MultihashDigest | undefined {
  if (!name.endsWith(EXT)) return undefined
  try {
    return Digest.decode(base32upper.decode(name.slice(0, -EXT.length)))
  } catch {
    return undefined
  }
}

function hashMatches(mh: MultihashDigest, bytes: Uint8Array): boolean {
  return mh.code === SHA2_256 && Buffer.compare(sha256(bytes), mh.digest) === 0
}

/** Every file under the old layout's shard directories. */
async function* oldFiles(dir: string): AsyncGenerator<{ path: string; name: string }> {
  for await (const shard of await opendir(dir)) {
    if (!shard.isDirectory()) continue
    for await (const f of await opendir(join(dir, shard.name))) if (f.isFile()) yield { path: join(dir, shard.name, f.name), name: f.name }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false
      throw err
    },
  )
}

/**
 * Move an old one-file-per-block store (`{dataDir}/blocks`) into the packed
 * store, at start, before Helia runs. Idempotent and resumable: blocks are
 * copied in batches (copying one again is harmless), every copied block is
 * then read back from the new store and checked against its CID, the new
 * store is fsynced, and only then is the old directory renamed aside and
 * removed. A crash at any point leaves either the old directory (the next
 * start copies again) or the renamed one (the next start finishes removing
 * it). Returns undefined when there is nothing to migrate.
 */
export async function migrateFsBlocks(dataDir: string, store: DiskBlockstore, log: Logger): Promise<MigrationResult | undefined> {
  const old = join(dataDir, FS_BLOCKS_DIR)
  const retired = join(dataDir, FS_BLOCKS_RETIRED)
  if (await exists(retired)) {
    log.info({ dir: retired }, 'blockstore migration: removing the old block files left by an interrupted migration (every block was already in the new store)')
    await rm(retired, { recursive: true, force: true })
  }
  if (!(await exists(old))) return undefined
  const t0 = performance.now()
  log.info({ from: old }, 'blockstore migration: moving one-file-per-block storage into the packed blockstore')
  const copied: CID[] = []
  const result: MigrationResult = { blocks: 0, bytes: 0, corrupt: 0, foreign: 0, ms: 0 }
  let batch: { cid: CID; bytes: Uint8Array }[] = []
  for await (const f of oldFiles(old)) {
    const mh = multihashOf(f.name)
    if (mh === undefined) {
      result.foreign++
      continue
    }
    const bytes = await readFile(f.path)
    if (!hashMatches(mh, bytes)) {
      result.corrupt++
      log.warn({ file: f.path }, 'blockstore migration: a block file does not hash to its name; not copied (the block is fetched again if a kept snapshot needs it)')
      continue
    }
    // keys are multihashes: the codec in this CID is irrelevant to the store
    const cid = CID.createV1(raw.code, mh)
    batch.push({ cid, bytes })
    copied.push(cid)
    result.bytes += bytes.length
    if (batch.length >= BATCH) {
      await store.putBatch(batch)
      batch = []
    }
  }
  await store.putBatch(batch)
  // the old files go only once the new store holds every block, checked by CID, and durably
  for (const cid of copied) {
    let bytes: Uint8Array | undefined
    try {
      for await (const chunk of store.get(cid)) bytes = chunk
    } catch {
      bytes = undefined
    }
    if (bytes === undefined || !hashMatches(cid.multihash, bytes)) {
      throw new BlockMigrationError('IO', `blockstore migration: block ${cid.toString()} did not read back intact from ${join(dataDir, 'blockstore')}; the old files in ${old} are kept: check the disk and start again (the migration resumes)`)
    }
  }
  await store.sync()
  result.blocks = copied.length
  await rename(old, retired)
  await syncDir(dataDir)
  await rm(retired, { recursive: true, force: true })
  result.ms = Math.round(performance.now() - t0)
  log.info({ ...result }, 'blockstore migration: done; the old block files are removed')
  return result
}
