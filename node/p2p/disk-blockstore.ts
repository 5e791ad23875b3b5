import type { AbortOptions } from '@libp2p/interface'
import { LevelBlockstore } from 'blockstore-level'
import { NotFoundError } from 'interface-store'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'

/** The packed blockstore's directory under the node's data dir (PROTOCOL.md §14.9). */
export const BLOCKSTORE_DIR = 'blockstore'

/**
 * LevelDB tuning for a store that mostly serves whole DAGs: a larger block
 * cache than the 8 MiB default (a 100k-account snapshot is ~14 MiB, a 1M one
 * ~150 MiB) and a larger write buffer so a derivation's puts compact less.
 * Blocks are hashes and CBOR: compression buys little and costs CPU (go-ipfs
 * leaves it off too).
 */
const LEVEL_OPTIONS = { compression: false, cacheSize: 32 * 2 ** 20, writeBufferSize: 16 * 2 ** 20 } as const

/** LevelDB's messages for a failed read or write of its files (ENOSPC, EIO): the errors a reopen clears */
const IO_FAILURE = /IO error|Corruption/

/** A key outside every block key (those start with '/'): deleted with `sync` to fsync LevelDB's log. */
const SYNC_KEY = '!sync'

/** The key blockstore-level stores a block under: '/' + base32upper(multihash). */
export function blockKey(cid: CID): string {
  return `/${base32upper.encoder.encode(cid.multihash.bytes)}`
}

/**
 * The node's on-disk blockstore: blocks packed in one LevelDB
 * (blockstore-level) instead of one file per block. Keys are the multihash
 * (as in blockstore-fs and Kubo), so a block is found under any CID version
 * or codec of the same hash.
 *
 * Crash safety comes from LevelDB: every write goes to its log first as a
 * checksummed record, and a torn record at the log's tail is dropped when the
 * store reopens, so a crash mid-write loses at most that write, never the
 * store. Writes are not fsynced one by one (a snapshot is tens of thousands
 * of blocks, and a lost block is fetched again); `sync()` makes every earlier
 * write durable where that matters (before a migration removes old files).
 */
export class DiskBlockstore extends LevelBlockstore {
  /** open() was called and close() not since: a store closed by a failed reopen is opened again on use */
  private wanted = false
  private recovering: Promise<void> | undefined

  constructor(path: string) {
    super(path, LEVEL_OPTIONS)
  }

  override async open(): Promise<void> {
    await super.open()
    this.wanted = true
  }

  override async close(): Promise<void> {
    this.wanted = false
    await this.recovering
    await super.close()
  }

  /**
   * Reads are synchronous (LevelDB's getSync): a block is a few hundred bytes
   * from LevelDB's cache or the page cache, and the async read's trip through
   * libuv's thread pool costs more than the read. That trip is what made
   * serving slow: bitswap's server reads a peer's wants one after another
   * (has(), then Helia's get() = has() + get(): three reads per block), so on a
   * busy machine each thread-pool round trip added up to ~1 s per 512 wants.
   */
  override async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    if (this.db.status !== 'open') await this.ready()
    return this.db.getSync(blockKey(cid)) !== undefined
  }

  override async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted()
    if (this.db.status !== 'open') await this.ready()
    const bytes = this.db.getSync(blockKey(cid))
    if (bytes === undefined) throw new NotFoundError(`block ${cid.toString()} is not in the blockstore`)
    yield bytes
  }

  override async put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    return this.writing(async () => super.put(cid, bytes, options))
  }

  override async delete(cid: CID, options?: AbortOptions): Promise<void> {
    await this.writing(async () => super.delete(cid, options))
  }

  /** Many blocks in one atomic LevelDB batch (one log record): all of them land, or none. */
  async putBatch(blocks: readonly { cid: CID; bytes: Uint8Array }[]): Promise<void> {
    if (blocks.length === 0) return
    await this.writing(async () => this.db.batch(blocks.map((b) => ({ type: 'put' as const, key: blockKey(b.cid), value: b.bytes }))))
  }

  /** Make every earlier write durable: one synced log record fsyncs LevelDB's log up to it. */
  async sync(): Promise<void> {
    await this.writing(async () => this.db.batch([{ type: 'del', key: SYNC_KEY }], { sync: true }))
  }

  /**
   * A write that fails (ENOSPC while LevelDB compacts) leaves LevelDB refusing
   * every later write with the same error until the store is reopened, even
   * once space is free again (seen on a full tmpfs). So a failed write reopens
   * the store once before the error is passed on; the next write then succeeds
   * if space was freed. Nothing already written is lost: the log is replayed.
   */
  private async writing<T>(op: () => Promise<T>): Promise<T> {
    if (this.db.status !== 'open') await this.ready()
    try {
      return await op()
    } catch (err) {
      if (IO_FAILURE.test(String((err as Error).message))) this.recover()
      throw err
    }
  }

  private recover(): void {
    if (!this.wanted || this.recovering !== undefined) return
    this.recovering = (async () => {
      await this.db.close().catch(() => {})
      // still full: the store stays closed and the next use tries again
      if (this.wanted) await super.open().catch(() => {})
    })().finally(() => {
      this.recovering = undefined
    })
  }

  /** Wait out a reopen; a store left closed by one that failed is opened again (its error is the caller's). */
  private async ready(): Promise<void> {
    await this.recovering
    if (this.wanted && this.db.status === 'closed') await super.open()
  }
}
