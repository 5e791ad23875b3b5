import type { CID } from 'multiformats/cid'
import { blockLinks } from '../codec/links.ts'
import { ArkError, type ArkErrorOptions } from '../ark-error.ts'
import { cidKey } from '../store.ts'

/**
 * The one DAG walker (issue 16): every place that follows the links of a
 * snapshot DAG (gateway CAR streams, bitswap fetches, the recovery sources,
 * resume, retention) walks through here, with links found by the fast
 * `codec/links.ts` (no decode). Each block is visited once.
 *
 * Two orders:
 * - `depth-first`: the CARv1 order of the trustless gateway (links in the
 *   order their block encodes them); blocks are read one after another, with
 *   the children of each block read ahead (up to `concurrency` at once), so
 *   slow stores (disk, network) are read in parallel while the order holds.
 * - `level`: breadth-first, `concurrency` reads at once per level, for
 *   network fetches where round trips must overlap and order does not matter.
 */

export type DagOrder = 'depth-first' | 'level'

export interface DagBlock {
  cid: CID
  bytes: Uint8Array
}

/** Where the walker reads blocks: undefined when the block is absent. */
export type DagRead = (cid: CID, signal: AbortSignal | undefined) => Promise<Uint8Array | undefined> | Uint8Array | undefined

export interface DagWalkOptions {
  order?: DagOrder
  /** depth-first: blocks read ahead; level: reads at once (default DAG_WALK_DEFAULTS) */
  concurrency?: number
  signal?: AbortSignal
  /** not visited, not descended into (e.g. a block already known to be kept) */
  skip?: (cid: CID) => boolean
  /** an absent block: reported here and not descended into; without it, a DagBlockMissingError */
  onMissing?: (cid: CID) => void
  /** refuse DAGs with more blocks than this */
  maxBlocks?: number
}

export const DAG_WALK_DEFAULTS = Object.freeze({ depthFirstConcurrency: 64, levelConcurrency: 32, maxBlocks: 10_000_000 })

export class DagBlockMissingError extends ArkError {
  override readonly name = 'DagBlockMissingError'
  readonly cid: CID
  constructor(cid: CID, options: ArkErrorOptions = {}) {
    super('BLOCK_NOT_FOUND', `block ${cid.toString()} of the DAG is not held; fetch the complete DAG and try again`, { retryable: true, ...options })
    this.cid = cid
  }
}

export class DagTooLargeError extends ArkError {
  override readonly name = 'DagTooLargeError'
  constructor(max: number) {
    super('INVALID_INPUT', `the DAG has more than ${max} blocks; refusing to walk it (a source may be sending an endless DAG)`)
  }
}

/**
 * The traversal state both walkers (and the synchronous one) share: which
 * CIDs were seen, and which come next. Depth-first pops from a stack that
 * holds each block's links in reverse, so they come out in encoding order.
 */
class Frontier {
  readonly seen = new Set<string>()
  private readonly stack: CID[]
  private readonly max: number
  private readonly options: DagWalkOptions

  constructor(roots: readonly CID[], options: DagWalkOptions) {
    this.options = options
    this.stack = [...roots].reverse()
    this.max = options.maxBlocks ?? DAG_WALK_DEFAULTS.maxBlocks
  }

  /** The next unseen CID (marked seen), or undefined when the walk is done. */
  next(): CID | undefined {
    for (;;) {
      const cid = this.stack.pop()
      if (cid === undefined) return undefined
      if (!this.admit(cid)) continue
      return cid
    }
  }

  /** True when `cid` is new (and now seen) and not skipped. */
  admit(cid: CID): boolean {
    const key = cidKey(cid)
    if (this.seen.has(key) || this.options.skip?.(cid) === true) return false
    this.seen.add(key)
    if (this.seen.size > this.max) throw new DagTooLargeError(this.max)
    return true
  }

  /** Queue the links of a visited block (depth-first); returns them in encoding order. */
  expand(cid: CID, bytes: Uint8Array): CID[] {
    const links = blockLinks(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) this.stack.push(links[i]!)
    return links
  }

  unseen(cid: CID): boolean {
    return !this.seen.has(cidKey(cid))
  }

  missing(cid: CID): void {
    if (this.options.onMissing === undefined) throw new DagBlockMissingError(cid)
    this.options.onMissing(cid)
  }
}

/** Every block reachable from `roots`, each once, in the order asked for. */
export async function* walkDag(roots: CID | readonly CID[], read: DagRead, options: DagWalkOptions = {}): AsyncGenerator<DagBlock> {
  const list = Array.isArray(roots) ? (roots as readonly CID[]) : [roots as CID]
  if (options.order === 'level') yield* walkLevels(list, read, options)
  else yield* walkDepthFirst(list, read, options)
}

async function* walkDepthFirst(roots: readonly CID[], read: DagRead, options: DagWalkOptions): AsyncGenerator<DagBlock> {
  const f = new Frontier(roots, options)
  const window = options.concurrency ?? DAG_WALK_DEFAULTS.depthFirstConcurrency
  const ahead = new Map<string, Promise<Uint8Array | undefined>>()
  const signal = options.signal
  try {
    for (let cid = f.next(); cid !== undefined; cid = f.next()) {
      signal?.throwIfAborted()
      const key = cidKey(cid)
      const pending = ahead.get(key)
      ahead.delete(key)
      const bytes = await (pending ?? read(cid, signal))
      if (bytes === undefined) {
        f.missing(cid)
        continue
      }
      yield { cid, bytes }
      for (const link of f.expand(cid, bytes)) {
        if (ahead.size >= window) break
        const k = cidKey(link)
        if (ahead.has(k) || !f.unseen(link) || options.skip?.(link) === true) continue
        const p = Promise.resolve(read(link, signal))
        p.catch(() => {}) // awaited (and its error reported) when the walk reaches it
        ahead.set(k, p)
      }
    }
  } finally {
    ahead.clear()
  }
}

async function* walkLevels(roots: readonly CID[], read: DagRead, options: DagWalkOptions): AsyncGenerator<DagBlock> {
  const f = new Frontier([], options)
  const concurrency = options.concurrency ?? DAG_WALK_DEFAULTS.levelConcurrency
  const signal = options.signal
  let level = roots.filter((r) => f.admit(r))
  while (level.length > 0) {
    const got: (DagBlock | undefined)[] = new Array<DagBlock | undefined>(level.length)
    const next: CID[] = []
    let i = 0
    const worker = async (): Promise<void> => {
      while (i < level.length) {
        const at = i++
        const cid = level[at]!
        signal?.throwIfAborted()
        const bytes = await read(cid, signal)
        if (bytes === undefined) {
          f.missing(cid)
          continue
        }
        got[at] = { cid, bytes }
        for (const link of blockLinks(cid, bytes)) if (f.admit(link)) next.push(link)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, level.length) }, worker))
    for (const b of got) if (b !== undefined) yield b
    level = next
  }
}

/** The depth-first walk over a synchronous store (the staging store of a fetch). */
export function* walkDagSync(roots: CID | readonly CID[], read: (cid: CID) => Uint8Array | undefined, options: Omit<DagWalkOptions, 'order' | 'concurrency' | 'signal'> = {}): Generator<DagBlock> {
  const f = new Frontier(Array.isArray(roots) ? (roots as readonly CID[]) : [roots as CID], options)
  for (let cid = f.next(); cid !== undefined; cid = f.next()) {
    const bytes = read(cid)
    if (bytes === undefined) {
      f.missing(cid)
      continue
    }
    yield { cid, bytes }
    f.expand(cid, bytes)
  }
}

/**
 * The blocks of the DAG under `root` that `store` lacks although their parent
 * is present: the roots of the missing subtrees, in depth-first order, each
 * once. Empty when the DAG is complete.
 */
export function missingRoots(store: { has(cid: CID): boolean; get(cid: CID): Uint8Array }, root: CID): CID[] {
  const missing: CID[] = []
  const walk = walkDagSync(root, (cid) => (store.has(cid) ? store.get(cid) : undefined), { onMissing: (cid) => missing.push(cid) })
  while (walk.next().done !== true) {
    // the walk reports the missing subtrees through onMissing
  }
  return missing
}
