import type { CID } from 'multiformats/cid'
import type { Block } from '../../snapshot/codec/block.ts'
import { BlockNotFoundError } from '../../snapshot/errors.ts'
import type { BlockStore } from '../../snapshot/store.ts'

export interface HeliaBlockStoreOptions {
  /**
   * Fetch blocks missing locally from connected peers over bitswap (they are
   * hash-checked by Helia and stored on disk). Default false: a missing block
   * is a BlockNotFoundError at once.
   */
  network?: boolean
  /** bounds every network fetch; required in practice when `network` is on */
  signal?: AbortSignal
}

const NOT_FOUND = new Set(['NotFoundError', 'BlockNotFoundWhileOfflineError', 'LoadBlockFailedError'])

/** Helia's blockstore, or the node's disk store under it (local reads without Helia's has-before-get). */
export interface BlockSource {
  get(cid: CID, options: { offline?: boolean; signal?: AbortSignal }): AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  put(cid: CID, bytes: Uint8Array, options: { signal?: AbortSignal }): unknown
  has(cid: CID): boolean | Promise<boolean>
}

/**
 * Helia's blockstore (or the disk store) as the snapshot engine's BlockStore. Helia 7's get()
 * yields the block as an async sequence of chunks; they are joined here.
 */
export function heliaBlockStore(helia: { blockstore: BlockSource }, options: HeliaBlockStoreOptions = {}): BlockStore {
  const offline = options.network !== true
  return {
    async get(cid: CID): Promise<Uint8Array> {
      const chunks: Uint8Array[] = []
      try {
        for await (const chunk of helia.blockstore.get(cid, { offline, ...(options.signal === undefined ? {} : { signal: options.signal }) })) chunks.push(chunk)
      } catch (err) {
        if (NOT_FOUND.has((err as Error).name)) throw new BlockNotFoundError(cid.toString(), { cause: err })
        throw err
      }
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    },
    async put(block: Block): Promise<void> {
      await helia.blockstore.put(block.cid, block.bytes, options.signal === undefined ? {} : { signal: options.signal })
    },
    async has(cid: CID): Promise<boolean> {
      return helia.blockstore.has(cid)
    },
  }
}
