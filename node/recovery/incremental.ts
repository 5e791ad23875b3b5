import type { CID } from 'multiformats/cid'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { walkDag, walkDagSync } from '../../snapshot/dag/walk.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { openSnapshotDir } from './snapshot-dir.ts'
import { SourceError, type FetchSource, type SourceContext } from './source.ts'
import type { Staging } from './staging.ts'
import { asTrustRoot, verifyAgainst, type TrustRoot } from './trust.ts'

/** Blocks of an earlier snapshot, each hash-checked when it was read from disk. */
export interface ReusableBlocks {
  has(cid: CID): boolean
  get(cid: CID): Uint8Array
  /** where they come from, for messages */
  describe: string
  /** the earlier snapshot's block */
  block: bigint
}

/**
 * An earlier `ark fetch --out` directory, checked again before any of its
 * blocks is reused: its CAR is read with every block hash-checked, its
 * certificate must certify exactly that CAR (chain, block, adapter,
 * configHash, stateRoot) and carry enough signatures of the same trust root,
 * for the same chain and adapter. A reused block still ends up in a snapshot
 * that is verified in full against the new certificate.
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
  return { has: (cid) => store.has(cid), get: (cid) => store.get(cid), describe: dir, block: b.blockNumber }
}

/**
 * Make every block of the DAG under `root` present in `staging`, walking it
 * with the one DAG walker (level order, reads overlapping). A block the
 * earlier snapshot holds roots a subtree it holds whole (content
 * addressing): the walk does not descend into it, its blocks are copied in
 * one synchronous pass (counted as reused, never fetched or hashed again).
 * Only blocks of neither are fetched from `src`, `src.blockConcurrency` at
 * once (hash-checked by the source before they are kept). A block the
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
  const read = async (cid: CID): Promise<Uint8Array> => {
    if (staging.has(cid)) return staging.get(cid)
    await src.fetchBlock(cid, staging, ctx)
    ctx.progress()
    if (!staging.has(cid)) throw new SourceError(`did not deliver block ${cid.toString()}`)
    return staging.get(cid)
  }
  for (let roots = [root]; roots.length > 0; ) {
    for await (const _ of walkDag(roots, read, { order: 'level', concurrency: src.blockConcurrency, signal: ctx.signal, skip: held })) {
      // each block is in staging once read
    }
    roots = lacking.filter((cid) => !staging.has(cid))
    lacking = []
  }
}
