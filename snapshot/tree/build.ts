import type { Block } from '../codec/block.ts'
import { InvalidInputError } from '../errors.ts'
import { LevelChunker, type Cut } from './chunker.ts'
import type { TreeIndex, TreeLevel } from './index.ts'
import type { ChildRef, Entry } from './node.ts'
import { TREE_PARAMS_V1, type TreeParams } from './params.ts'

/**
 * Streaming bottom-up build from entries in strictly increasing key order.
 * Memory is one open chunk per level plus the node index (no leaf contents);
 * finished nodes are handed to `emit`.
 */
export class TreeBuilder {
  private readonly chunkers: LevelChunker<Entry | ChildRef>[] = []
  private readonly levels: TreeLevel[] = []
  private readonly emit: (block: Block) => void
  private readonly params: TreeParams
  private prev: Uint8Array | undefined
  private count = 0

  constructor(emit: (block: Block) => void, params: TreeParams = TREE_PARAMS_V1, startLevel = 0) {
    this.emit = emit
    this.params = params
    this.base = startLevel
  }

  private readonly base: number
  private readonly held: (ChildRef | undefined)[] = []

  add(entry: Entry): void {
    if (this.prev !== undefined && compareKeys(this.prev, entry.key) >= 0) {
      throw new InvalidInputError(
        Buffer.compare(this.prev, entry.key) === 0
          ? `duplicate key 0x${Buffer.from(entry.key).toString('hex')}; each key may appear once per snapshot`
          : 'entries are not in increasing key order; sort them first (buildSnapshot does)',
      )
    }
    this.prev = entry.key
    this.count++
    this.pushAt(this.base, entry)
  }

  /** Feed an already-built node ref (used when an update rebuilds upper levels); startLevel must be ref.level + 1. */
  addRef(ref: ChildRef): void {
    this.count += ref.count
    this.pushAt(ref.level + 1, ref)
  }

  private chunker(level: number): LevelChunker<Entry | ChildRef> {
    let c = this.chunkers[level]
    if (c === undefined) {
      c = new LevelChunker(level, this.params)
      this.chunkers[level] = c
      this.levels[level] = { refs: [], sizes: [] }
    }
    return c
  }

  private pushAt(level: number, item: Entry | ChildRef): void {
    const done = this.chunker(level).push(item)
    if (done !== undefined) this.closed(level, done)
  }

  private closed(level: number, done: Cut): void {
    this.emit(done.block)
    const l = this.levels[level]!
    l.refs.push(done.ref)
    l.sizes.push(done.size)
    // Hold the newest node of each level back one step: if it turns out to be the
    // only node of its level it is the root, and must not get a parent.
    const prev = this.held[level]
    this.held[level] = done.ref
    if (prev !== undefined) this.pushAt(level + 1, prev)
  }

  /** Close every level; returns the index (levels below `startLevel` are left empty). */
  finish(): TreeIndex {
    if (this.count === 0) return { levels: [] }
    for (let level = this.base; ; level++) {
      const done = this.chunker(level).flush()
      if (done !== undefined) this.closed(level, done)
      if (this.levels[level]!.refs.length === 1) return { levels: this.levels.slice(0, level + 1) }
      this.pushAt(level + 1, this.held[level]!)
      this.held[level] = undefined
    }
  }
}

/** memcmp order; keys are short and usually differ in their first byte, where a call into Buffer.compare costs more than the loop. */
function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

export function buildTree(entries: Iterable<Entry>, emit: (block: Block) => void, params: TreeParams = TREE_PARAMS_V1): TreeIndex {
  const b = new TreeBuilder(emit, params)
  for (const e of entries) b.add(e)
  return b.finish()
}
