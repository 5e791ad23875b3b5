import type { Helia } from '@helia/interface'
import type { CID } from 'multiformats/cid'
import { DAG_WALK_DEFAULTS, walkDag } from '../../snapshot/dag/walk.ts'
import { heliaBlockStore } from './blockstore.ts'

export interface FetchDagOptions {
  signal?: AbortSignal
  /** blocks requested at once (default 32): bitswap round trips overlap instead of adding up */
  concurrency?: number
  /** refuse DAGs with more blocks than this (default 10 million) */
  maxBlocks?: number
}

/**
 * Make every block reachable from `root` present in the local blockstore,
 * fetching missing ones from connected peers over bitswap, many at a time
 * (Helia hash-checks each before storing it), level by level through the one
 * DAG walker. Returns how many blocks the DAG has and how many were fetched.
 * Checks nothing about the content: open the result with Snapshot.open and
 * verify() it.
 */
export async function fetchDag(helia: Pick<Helia, 'blockstore'>, root: CID, options: FetchDagOptions = {}): Promise<{ blocks: number; fetched: number }> {
  const remote = heliaBlockStore(helia, { network: true, ...(options.signal === undefined ? {} : { signal: options.signal }) })
  let blocks = 0
  let fetched = 0
  const read = async (cid: CID): Promise<Uint8Array> => {
    if (!(await helia.blockstore.has(cid))) fetched++
    return remote.get(cid)
  }
  const walk = walkDag(root, read, {
    order: 'level',
    concurrency: options.concurrency ?? DAG_WALK_DEFAULTS.levelConcurrency,
    maxBlocks: options.maxBlocks ?? DAG_WALK_DEFAULTS.maxBlocks,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  for await (const _ of walk) blocks++
  return { blocks, fetched }
}
