import type { CID } from 'multiformats/cid'
import { checkBlock } from '../codec/block.ts'
import { MalformedBlockError } from '../errors.ts'
import type { BlockStore } from '../store.ts'
import type { TreeIndex, TreeLevel } from './index.ts'
import { decodeNode, type ChildRef, type DecodedNode, type Entry } from './node.ts'

export interface TreeReader {
  store: BlockStore
  keyLength: number
  /** hash-check every block read (on for untrusted stores) */
  verify?: boolean
}

export async function readNode(r: TreeReader, cid: CID, expectLevel?: number): Promise<DecodedNode> {
  const bytes = await r.store.get(cid)
  if (r.verify === true) checkBlock(cid, bytes)
  const node = decodeNode(cid, bytes, r.keyLength)
  if (expectLevel !== undefined && node.level !== expectLevel) {
    throw new MalformedBlockError(`tree node ${cid.toString()} is at level ${node.level} where level ${expectLevel} was expected`)
  }
  return node
}

export async function readLeaf(r: TreeReader, ref: ChildRef): Promise<Entry[]> {
  const node = await readNode(r, ref.cid, 0)
  const entries = (node as { entries: Entry[] }).entries
  if (entries.length !== ref.count) throw new MalformedBlockError(`leaf ${ref.cid.toString()} holds ${entries.length} entries but its parent says ${ref.count}`)
  return entries
}

/** Walk every branch node (not the leaves) and build the index used by updates. */
export async function loadIndex(r: TreeReader, root: ChildRef | null): Promise<TreeIndex> {
  if (root === null) return { levels: [] }
  const levels: TreeLevel[] = []
  levels[root.level] = { refs: [root], sizes: [] }
  for (let level = root.level; level >= 1; level--) {
    const here = levels[level]!
    const below: TreeLevel = { refs: [], sizes: [] }
    for (const ref of here.refs) {
      const node = await readNode(r, ref.cid, level)
      const children = (node as { children: ChildRef[] }).children
      let sum = 0
      for (const c of children) {
        below.refs.push(c)
        sum += c.count
      }
      if (sum !== ref.count) throw new MalformedBlockError(`branch ${ref.cid.toString()} children hold ${sum} entries but its parent says ${ref.count}`)
      here.sizes.push(children.length)
    }
    levels[level - 1] = below
  }
  levels[0]!.sizes = levels[0]!.refs.map((x) => x.count)
  return { levels }
}

/** O(height) lookup. */
export async function getEntry(r: TreeReader, root: ChildRef | null, key: Uint8Array): Promise<Uint8Array | undefined> {
  if (root === null) return undefined
  let ref = root
  for (;;) {
    const node = await readNode(r, ref.cid, ref.level)
    if (node.level === 0) {
      const entries = (node as { entries: Entry[] }).entries
      let lo = 0
      let hi = entries.length - 1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const c = Buffer.compare(entries[mid]!.key, key)
        if (c === 0) return entries[mid]!.value
        if (c < 0) lo = mid + 1
        else hi = mid - 1
      }
      return undefined
    }
    const children = (node as { children: ChildRef[] }).children
    let lo = 0
    let hi = children.length - 1
    if (Buffer.compare(children[0]!.firstKey, key) > 0) return undefined
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (Buffer.compare(children[mid]!.firstKey, key) <= 0) lo = mid
      else hi = mid - 1
    }
    ref = children[lo]!
  }
}

/** Every entry in key order; reads each node once, depth first (see iterateLeaves). */
export async function* iterateEntries(r: TreeReader, root: ChildRef | null): AsyncGenerator<Entry> {
  for await (const leaf of iterateLeaves(r, root)) for (const e of leaf) yield e
}

/**
 * The entries of every leaf, leaf by leaf in key order, depth first. One
 * generator with an explicit stack: nested `yield*` would pass every item
 * through every level's async generator (height ~7 at a million accounts);
 * loops over every entry await once per leaf rather than once per entry.
 */
export async function* iterateLeaves(r: TreeReader, root: ChildRef | null): AsyncGenerator<Entry[]> {
  if (root === null) return
  const stack: ChildRef[] = [root]
  while (stack.length > 0) {
    const ref = stack.pop()!
    const node = await readNode(r, ref.cid, ref.level)
    if (node.level === 0) {
      const entries = (node as { entries: Entry[] }).entries
      if (entries.length !== ref.count) throw new MalformedBlockError(`leaf ${ref.cid.toString()} holds ${entries.length} entries but its parent says ${ref.count}`)
      yield entries
      continue
    }
    const children = (node as { children: ChildRef[] }).children
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
  }
}

/** Every block CID of the tree, parents before children. */
export async function* treeCids(r: TreeReader, root: ChildRef | null): AsyncGenerator<CID> {
  if (root === null) return
  yield root.cid
  if (root.level === 0) return
  const node = await readNode(r, root.cid, root.level)
  for (const child of (node as { children: ChildRef[] }).children) yield* treeCids(r, child)
}
