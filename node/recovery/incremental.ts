import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { walkDag, walkDagSync } from '../../snapshot/dag/walk.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { LEAF_LAYER_FILE, openSnapshotDir } from './snapshot-dir.ts'
import { SourceError, type FetchSource, type SourceContext } from './source.ts'
import type { Staging } from './staging.ts'
import { asTrustRoot, verifyAgainst, type TrustRoot } from './trust.ts'
import type { Fetched } from './fetch.ts'
import { checkedLeafLayer, sortedLeafLayer, type VerifiedPrevious } from './verify-incremental.ts'

export const INCREMENTAL_DEFAULTS = Object.freeze({
  /** block reads of the walk in flight when the source takes batches (they coalesce into POST /v1/blocks requests) */
  batchWindow: 4096,
})

/**
 * Block fetches as the walk asks for them, gathered over one turn of the
 * event loop and handed to the source as one batch (fetchBlockBatch); a
 * source without batches (or whose gateway lacks the endpoint) gets them one
 * by one, `blockConcurrency` at once.
 */
function coalesced(src: FetchSource, staging: Staging, ctx: SourceContext): (cid: CID) => Promise<void> {
  let pending: { cid: CID; resolve: () => void; reject: (err: unknown) => void }[] = []
  let batches = src.fetchBlockBatch !== undefined
  const oneByOne = async (cids: CID[]): Promise<void> => {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < cids.length) await src.fetchBlock(cids[next++]!, staging, ctx)
    }
    await Promise.all(Array.from({ length: Math.min(src.blockConcurrency, cids.length) }, worker))
  }
  const flush = (): void => {
    const batch = pending
    pending = []
    const cids = batch.map((p) => p.cid)
    const run = async (): Promise<void> => {
      if (batches && (await src.fetchBlockBatch!(cids, staging, ctx))) return
      batches = false
      await oneByOne(cids)
    }
    run().then(
      () => batch.forEach((p) => p.resolve()),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    )
  }
  return (cid) => {
    if (pending.length === 0) setImmediate(flush)
    return new Promise<void>((resolve, reject) => pending.push({ cid, resolve, reject }))
  }
}

/** Blocks of an earlier snapshot, each hash-checked when it was read from disk. */
export interface ReusableBlocks {
  has(cid: CID): boolean
  get(cid: CID): Uint8Array
  /** where they come from, for messages */
  describe: string
  /** the earlier snapshot's block */
  block: bigint
  /** the earlier snapshot, verified, with its leaf layer: the new one is verified against it incrementally */
  previous?: VerifiedPrevious
}

/**
 * An earlier `ark fetch --out` directory, checked again before any of its
 * blocks is reused: its CAR is read with every block hash-checked, its
 * certificate must certify exactly that CAR (chain, block, adapter,
 * configHash, stateRoot) and carry enough signatures of the same trust root,
 * for the same chain and adapter, and its leaf layer is recomputed and must
 * give its stateRoot. Its tree was verified in full when `ark fetch` wrote
 * it (hash-checked against the same certified root now), so the next
 * snapshot is verified against it incrementally (verify-incremental.ts).
 */
export async function openReusable(dir: string, trust: OperatorSet | TrustRoot, chainId: bigint, adapterId: string, signal?: AbortSignal): Promise<ReusableBlocks> {
  const d = await openSnapshotDir(dir)
  const b = d.certificate.body
  if (b.chainId !== chainId || b.adapterId !== adapterId) {
    throw new ArkError('INVALID_INPUT', `--from ${dir} holds a snapshot of chain ${b.chainId} adapter ${b.adapterId}, not chain ${chainId} adapter ${adapterId}; pass an earlier fetch of the same chain and adapter, or drop --from`)
  }
  try {
    await verifyAgainst(asTrustRoot(trust), d.certificate, signal)
  } catch (cause) {
    throw new ArkError('INVALID_INPUT', `--from ${dir}: its certificate does not verify against the trust root (${(cause as Error).message}); its blocks are not reused — drop --from or pass a directory fetched with the same trust root`, { cause })
  }
  const store = d.snapshot.store
  // openSnapshotDir reads the CAR into memory, hash-checking every block (readCar)
  if (!(store instanceof MemoryBlockStore)) throw new ArkError('IO', `--from ${dir}: its snapshot was not read into memory`)
  // its records are the certified ones (hash-checked against the certified root CID); the leaf layer is recomputed and checked against its stateRoot
  const cached = await readFile(join(dir, LEAF_LAYER_FILE)).catch(() => undefined)
  const sortedLeaves = (cached === undefined ? undefined : checkedLeafLayer(d.snapshot, cached)) ?? (await sortedLeafLayer(d.snapshot))
  return { has: (cid) => store.has(cid), get: (cid) => store.get(cid), describe: dir, block: b.blockNumber, previous: { snapshot: d.snapshot, sortedLeaves } }
}

/** A fetch's verified result as the base of the next incremental fetch (kept in memory: no second read of its directory). */
export async function reusableFrom(r: Fetched, describe: string): Promise<ReusableBlocks> {
  const store = r.store
  const sortedLeaves = (await r.snapshot.merkle())?.sortedLeaves ?? new Uint8Array(0)
  return { has: (cid) => store.has(cid), get: (cid) => store.get(cid), describe, block: r.certificate.body.blockNumber, previous: { snapshot: r.snapshot, sortedLeaves } }
}

/**
 * Make every block of the DAG under `root` present in `staging`, walking it
 * with the one DAG walker (level order, reads overlapping). A block the
 * earlier snapshot holds roots a subtree it holds whole (content
 * addressing): the walk does not descend into it, its blocks are copied in
 * one synchronous pass (counted as reused, never fetched or hashed again).
 * Only blocks of neither are fetched from `src`, in batches when it takes
 * them (coalesced), else `src.blockConcurrency` at once (hash-checked by the
 * source before they are kept). A block the
 * earlier snapshot should hold but lacks is fetched like a new one.
 */
export async function fetchReusing(src: FetchSource, root: CID, staging: Staging, reuse: ReusableBlocks, ctx: SourceContext): Promise<void> {
  let lacking: CID[] = []
  const copy = (top: CID): void => {
    const read = (cid: CID): Uint8Array | undefined => (reuse.has(cid) ? reuse.get(cid) : undefined)
    for (const b of walkDagSync(top, read, { onMissing: (cid) => lacking.push(cid) })) staging.put(b, 'reused')
  }
  const held = (cid: CID): boolean => {
    if (!reuse.has(cid)) return false
    copy(cid)
    return true
  }
  const fetchOne = coalesced(src, staging, ctx)
  const read = async (cid: CID): Promise<Uint8Array> => {
    if (staging.has(cid)) return staging.get(cid)
    await fetchOne(cid)
    ctx.progress()
    if (!staging.has(cid)) throw new SourceError(`did not deliver block ${cid.toString()}`)
    return staging.get(cid)
  }
  // with a batch endpoint a whole level of the walk is asked for at once (the reads coalesce into batches)
  const concurrency = src.fetchBlockBatch === undefined ? src.blockConcurrency : INCREMENTAL_DEFAULTS.batchWindow
  for (let roots = [root]; roots.length > 0; ) {
    for await (const _ of walkDag(roots, read, { order: 'level', concurrency, signal: ctx.signal, skip: held })) {
      // each block is in staging once read
    }
    roots = lacking.filter((cid) => !staging.has(cid))
    lacking = []
  }
}
