import * as dagCbor from '@ipld/dag-cbor'
import type { Helia } from '@helia/interface'
import { CID } from 'multiformats/cid'
import { DAG_CBOR } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/errors.ts'
import { heliaBlockStore } from './blockstore.ts'

export interface FetchDagOptions {
  signal?: AbortSignal
  /** blocks requested at once (default 32): bitswap round trips overlap instead of adding up */
  concurrency?: number
  /** refuse DAGs with more blocks than this (default 10 million) */
  maxBlocks?: number
}

/** Every CID linked from a decoded dag-cbor value. */
function links(value: unknown, out: CID[]): void {
  const cid = CID.asCID(value)
  if (cid !== null) {
    out.push(cid)
    return
  }
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return
  for (const v of Array.isArray(value) ? value : Object.values(value)) links(v, out)
}

/**
 * Make every block reachable from `root` present in the local blockstore,
 * fetching missing ones from connected peers over bitswap, many at a time
 * (Helia hash-checks each before storing it). Follows dag-cbor links, level
 * by level. Returns how many blocks the DAG has and how many were fetched.
 * Checks nothing about the content: open the result with Snapshot.open and
 * verify() it.
 */
export async function fetchDag(helia: Pick<Helia, 'blockstore'>, root: CID, options: FetchDagOptions = {}): Promise<{ blocks: number; fetched: number }> {
  const concurrency = options.concurrency ?? 32
  const maxBlocks = options.maxBlocks ?? 10_000_000
  const remote = heliaBlockStore(helia, { network: true, ...(options.signal === undefined ? {} : { signal: options.signal }) })
  const seen = new Set<string>([root.toString()])
  let level: CID[] = [root]
  let blocks = 0
  let fetched = 0
  while (level.length > 0) {
    const next: CID[] = []
    let i = 0
    const worker = async (): Promise<void> => {
      while (i < level.length) {
        const cid = level[i++]!
        options.signal?.throwIfAborted()
        const had = await helia.blockstore.has(cid)
        const bytes = await remote.get(cid)
        if (!had) fetched++
        if (cid.code !== DAG_CBOR) continue
        const found: CID[] = []
        links(dagCbor.decode(bytes), found)
        for (const c of found) {
          const k = c.toString()
          if (seen.has(k)) continue
          seen.add(k)
          next.push(c)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, level.length) }, worker))
    blocks += level.length
    if (seen.size > maxBlocks) throw new ArkError('INVALID_INPUT', `DAG under ${root.toString()} has more than ${maxBlocks} blocks; refusing to fetch it`)
    level = next
  }
  return { blocks, fetched }
}
