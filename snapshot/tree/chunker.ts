import type { Block } from '../codec/block.ts'
import { encodeBranch, encodeLeaf, entrySize, childSize, type ChildRef, type Entry } from './node.ts'
import { isBoundary, type TreeParams } from './params.ts'

export interface Cut {
  block: Block
  ref: ChildRef
  /** number of items in the chunk */
  size: number
}

/**
 * Cuts one level's item sequence into chunks. The decision to cut after an
 * item depends only on the items since the previous cut, which is what lets
 * an incremental update stop as soon as a new cut lands on an old one.
 */
export class LevelChunker<T extends Entry | ChildRef> {
  private items: T[] = []
  private bytes = 0
  readonly level: number
  private readonly params: TreeParams

  constructor(level: number, params: TreeParams) {
    this.level = level
    this.params = params
  }

  get pending(): number {
    return this.items.length
  }

  /** Add an item; returns the finished chunk's node when this item closes one. */
  push(item: T): Cut | undefined {
    this.items.push(item)
    const key = this.level === 0 ? (item as Entry).key : (item as ChildRef).firstKey
    this.bytes += this.level === 0 ? entrySize(item as Entry) : childSize(item as ChildRef)
    if (isBoundary(this.params, this.level, key) || this.items.length >= this.params.maxItems || this.bytes >= this.params.maxChunkBytes) {
      return this.cut()
    }
    return undefined
  }

  /** Close the current chunk (end of sequence). */
  flush(): Cut | undefined {
    return this.items.length === 0 ? undefined : this.cut()
  }

  /** The single pending item, taken without making a node (it is the root). */
  takeSingle(): ChildRef {
    if (this.level === 0 || this.items.length !== 1) throw new Error('takeSingle needs exactly one pending child')
    const only = this.items[0] as ChildRef
    this.items = []
    this.bytes = 0
    return only
  }

  private cut(): Cut {
    const items = this.items
    this.items = []
    this.bytes = 0
    let block: Block
    let count: number
    let firstKey: Uint8Array
    if (this.level === 0) {
      const entries = items as Entry[]
      block = encodeLeaf(entries)
      count = entries.length
      firstKey = entries[0]!.key
    } else {
      const children = items as ChildRef[]
      block = encodeBranch(this.level, children)
      count = 0
      for (const c of children) count += c.count
      firstKey = children[0]!.firstKey
    }
    return { block, ref: { firstKey: firstKey.slice(), cid: block.cid, count, level: this.level }, size: items.length }
  }
}
