import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'

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

export interface GcStore {
  get(cid: CID): Promise<Uint8Array>
  has(cid: CID): Promise<boolean>
  delete(cid: CID): Promise<void>
}

function links(bytes: Uint8Array): CID[] {
  const out: CID[] = []
  const walk = (v: unknown): void => {
    const cid = CID.asCID(v)
    if (cid !== null) out.push(cid)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) Object.values(v).forEach(walk)
  }
  walk(dagCbor.decode(bytes))
  return out
}

async function reachable(store: GcStore, roots: readonly CID[], into: Set<string>, stopAt?: Set<string>): Promise<void> {
  const stack = [...roots]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const k = cid.toString()
    if (into.has(k) || stopAt?.has(k) === true) continue
    if (!(await store.has(cid))) continue
    into.add(k)
    for (const l of links(await store.get(cid))) stack.push(l)
  }
}

/**
 * Delete the blocks of dropped DAGs that no kept DAG references. Shared
 * subtrees are the norm (snapshots share all but the changed paths), so the
 * kept set is computed first and the dropped walk never enters it.
 */
export async function collectGarbage(store: GcStore, keepRoots: readonly CID[], dropRoots: readonly CID[]): Promise<{ deleted: number }> {
  const keep = new Set<string>()
  await reachable(store, keepRoots, keep)
  const drop = new Set<string>()
  await reachable(store, dropRoots, drop, keep)
  for (const k of drop) await store.delete(CID.parse(k))
  return { deleted: drop.size }
}
