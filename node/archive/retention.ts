import { CID } from 'multiformats/cid'
import { walkDag } from '../../snapshot/dag/walk.ts'

/**
 * Retention policy: keep the newest `keepLast` certified checkpoints and every
 * checkpoint whose block is a multiple of `keepEveryBlocks`; the rest may go.
 */
export function retainedBlocks(blocks: readonly bigint[], keepLast: number, keepEveryBlocks: bigint): Set<bigint> {
  const sorted = [...blocks].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const keep = new Set(sorted.slice(Math.max(0, sorted.length - keepLast)))
  for (const b of sorted) if (keepEveryBlocks > 0n && b % keepEveryBlocks === 0n) keep.add(b)
  return keep
}

/**
 * The oldest checkpoint block the keep-last part of the policy still covers once `finalizedHead` is
 * final: the newest checkpoint at or below the head, minus `keepLast - 1` intervals (0 at the least).
 * Gossip about older checkpoints is of no use to the node (ignored as TOO_OLD), and catch-up asks for
 * certificates from here on. (Every `keepEvery`-th checkpoint is kept longer, but only what catch-up
 * or the node's own aggregation brought in while it was recent.)
 */
export function retentionFloor(finalizedHead: bigint, interval: bigint, keepLast: number): bigint {
  const newest = (finalizedHead / interval) * interval
  const floor = newest - interval * BigInt(Math.max(keepLast, 1) - 1)
  return floor > 0n ? floor : 0n
}

export interface GcStore {
  get(cid: CID): Promise<Uint8Array>
  has(cid: CID): Promise<boolean>
  delete(cid: CID): Promise<void>
}

/** Adds to `into` every held block reachable from `roots` (absent blocks are not followed), never entering `stopAt`. */
async function reachable(store: GcStore, roots: readonly CID[], into: Set<string>, stopAt?: Set<string>): Promise<{ missing: number }> {
  const read = async (cid: CID): Promise<Uint8Array | undefined> => ((await store.has(cid)) ? store.get(cid) : undefined)
  const skip = (cid: CID): boolean => {
    const k = cid.toString()
    return into.has(k) || stopAt?.has(k) === true
  }
  let missing = 0
  for await (const b of walkDag(roots, read, { skip, onMissing: () => void missing++ })) into.add(b.cid.toString())
  return { missing }
}

/**
 * Delete the blocks of dropped DAGs that no kept DAG references. Shared
 * subtrees are the norm (snapshots share all but the changed paths), so the
 * kept set is computed first and the dropped walk never enters it.
 */
export async function collectGarbage(store: GcStore, keepRoots: readonly CID[], dropRoots: readonly CID[]): Promise<{ deleted: number; postponed: boolean }> {
  const keep = new Set<string>()
  // A kept DAG with an absent block (a snapshot still being fetched) hides what lies below that block:
  // held blocks there may be shared with a dropped DAG, and deleting them would leave the kept snapshot
  // incomplete on this node (found by the chaos churn scenario). Postpone: the next run tries again, and a
  // DAG that never completes leaves the kept set when retention drops its certificate.
  if ((await reachable(store, keepRoots, keep)).missing > 0) return { deleted: 0, postponed: true }
  const drop = new Set<string>()
  await reachable(store, dropRoots, drop, keep)
  for (const k of drop) await store.delete(CID.parse(k))
  return { deleted: drop.size, postponed: false }
}
