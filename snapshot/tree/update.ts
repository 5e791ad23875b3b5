import type { Block } from '../codec/block.ts'
import { TreeBuilder } from './build.ts'
import { LevelChunker } from './chunker.ts'
import { childStarts, type TreeIndex, type TreeLevel } from './index.ts'
import type { ChildRef, Entry } from './node.ts'
import { TREE_PARAMS_V1, type TreeParams } from './params.ts'

export interface Edit {
  key: Uint8Array
  /** new canonical record bytes, or null to delete the key */
  value: Uint8Array | null
}

/** A run of old nodes [from, to) at one level replaced by new nodes. */
interface Replacement {
  from: number
  to: number
  refs: ChildRef[]
  sizes: number[]
}

export type LoadLeaf = (ref: ChildRef) => Promise<Entry[]>

/**
 * Apply sorted, unique edits to a tree. Only the leaves that hold an edited
 * key are read; each level is re-chunked from the first dirty node until a
 * new cut lands on an old cut followed by an untouched node, after which the
 * old nodes are, by construction, exactly what a full rebuild would produce.
 * The result is therefore identical to `buildTree` over the edited entry set.
 */
export async function updateTree(
  index: TreeIndex,
  edits: readonly Edit[],
  loadLeaf: LoadLeaf,
  emit: (block: Block) => void,
  params: TreeParams = TREE_PARAMS_V1,
): Promise<TreeIndex> {
  if (edits.length === 0) return index
  if (index.levels.length === 0) {
    const b = new TreeBuilder(emit, params)
    for (const e of edits) if (e.value !== null) b.add({ key: e.key, value: e.value })
    return b.finish()
  }
  const levels: TreeLevel[] = []
  let reps = await updateLeaves(index.levels[0]!, edits, loadLeaf, emit, params)
  let current = applyReplacements(index.levels[0]!, reps)
  levels.push(current)
  for (let level = 1; ; level++) {
    if (current.refs.length === 0) return { levels: [] }
    if (current.refs.length === 1) return { levels }
    const old = index.levels[level]
    if (old === undefined) {
      // Above the old top: rebuild the (small) remaining levels from scratch.
      const b = new TreeBuilder(emit, params, level)
      for (const ref of current.refs) b.addRef(ref)
      const upper = b.finish()
      for (let l = level; l < upper.levels.length; l++) levels.push(upper.levels[l]!)
      return { levels }
    }
    reps = updateBranches(level, old, index.levels[level - 1]!, reps, emit, params)
    current = applyReplacements(old, reps)
    levels.push(current)
  }
}

function applyReplacements(old: TreeLevel, reps: readonly Replacement[]): TreeLevel {
  if (reps.length === 0) return old
  const refs: ChildRef[] = []
  const sizes: number[] = []
  let p = 0
  for (const r of reps) {
    for (; p < r.from; p++) {
      refs.push(old.refs[p]!)
      sizes.push(old.sizes[p]!)
    }
    for (let i = 0; i < r.refs.length; i++) {
      refs.push(r.refs[i]!)
      sizes.push(r.sizes[i]!)
    }
    p = r.to
  }
  for (; p < old.refs.length; p++) {
    refs.push(old.refs[p]!)
    sizes.push(old.sizes[p]!)
  }
  return { refs, sizes }
}

/** Index of the last ref whose firstKey <= key (0 when key precedes all). */
function locate(refs: readonly ChildRef[], key: Uint8Array): number {
  let lo = 0
  let hi = refs.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (Buffer.compare(refs[mid]!.firstKey, key) <= 0) lo = mid
    else hi = mid - 1
  }
  return lo
}

function mergeEntries(old: readonly Entry[], edits: readonly Edit[]): Entry[] {
  const out: Entry[] = []
  let i = 0
  let j = 0
  while (i < old.length || j < edits.length) {
    if (j >= edits.length) out.push(old[i++]!)
    else if (i >= old.length) {
      const e = edits[j++]!
      if (e.value !== null) out.push({ key: e.key, value: e.value })
    } else {
      const c = Buffer.compare(old[i]!.key, edits[j]!.key)
      if (c < 0) out.push(old[i++]!)
      else {
        const e = edits[j++]!
        if (c === 0) i++
        if (e.value !== null) out.push({ key: e.key, value: e.value })
      }
    }
  }
  return out
}

async function updateLeaves(
  leaves: TreeLevel,
  edits: readonly Edit[],
  loadLeaf: LoadLeaf,
  emit: (block: Block) => void,
  params: TreeParams,
): Promise<Replacement[]> {
  const byLeaf = new Map<number, Edit[]>()
  for (const e of edits) {
    const i = locate(leaves.refs, e.key)
    let list = byLeaf.get(i)
    if (list === undefined) byLeaf.set(i, (list = []))
    list.push(e)
  }
  const dirty = [...byLeaf.keys()].sort((a, b) => a - b)
  const reps: Replacement[] = []
  let d = 0
  while (d < dirty.length) {
    const from = dirty[d]!
    const chunker = new LevelChunker<Entry>(0, params)
    const rep: Replacement = { from, to: from, refs: [], sizes: [] }
    let j = from
    for (;;) {
      const edited = byLeaf.get(j)
      const old = await loadLeaf(leaves.refs[j]!)
      const items = edited === undefined ? old : mergeEntries(old, edited)
      for (const item of items) {
        const cut = chunker.push(item)
        if (cut !== undefined) {
          emit(cut.block)
          rep.refs.push(cut.ref)
          rep.sizes.push(cut.size)
        }
      }
      j++
      if (d < dirty.length && dirty[d] === j - 1) d++
      if (j === leaves.refs.length) {
        const cut = chunker.flush()
        if (cut !== undefined) {
          emit(cut.block)
          rep.refs.push(cut.ref)
          rep.sizes.push(cut.size)
        }
        break
      }
      if (chunker.pending === 0 && !byLeaf.has(j)) break
    }
    rep.to = j
    reps.push(rep)
  }
  return reps
}

function updateBranches(
  level: number,
  old: TreeLevel,
  below: TreeLevel,
  belowReps: readonly Replacement[],
  emit: (block: Block) => void,
  params: TreeParams,
): Replacement[] {
  const starts = childStarts(old)
  // Which old nodes at this level contain a replaced child.
  const dirty = new Uint8Array(old.refs.length)
  const repAt = new Map<number, Replacement>()
  let k = 0
  for (const r of belowReps) {
    repAt.set(r.from, r)
    while (starts[k + 1]! <= r.from) k++
    for (let m = k; m < old.refs.length && starts[m]! < r.to; m++) dirty[m] = 1
    // a pure deletion at a node's end still dirties the node that holds r.from
  }
  const reps: Replacement[] = []
  const total = below.refs.length
  let node = 0
  while (node < old.refs.length) {
    if (dirty[node] === 0) {
      node++
      continue
    }
    const from = node
    const chunker = new LevelChunker<ChildRef>(level, params)
    const rep: Replacement = { from, to: from, refs: [], sizes: [] }
    let p = starts[node]!
    let m = node
    for (;;) {
      const r = repAt.get(p)
      if (r !== undefined) {
        for (const ref of r.refs) pushRef(chunker, ref, rep, emit)
        p = r.to
      } else if (p < total) {
        pushRef(chunker, below.refs[p]!, rep, emit)
        p++
      }
      while (m < old.refs.length && starts[m + 1]! <= p) m++
      if (p >= total) {
        const cut = chunker.flush()
        if (cut !== undefined) {
          emit(cut.block)
          rep.refs.push(cut.ref)
          rep.sizes.push(cut.size)
        }
        m = old.refs.length
        break
      }
      if (starts[m] === p && chunker.pending === 0 && dirty[m] === 0 && !repAt.has(p)) break
    }
    rep.to = m
    reps.push(rep)
    node = m
  }
  return reps
}

function pushRef(chunker: LevelChunker<ChildRef>, ref: ChildRef, rep: Replacement, emit: (block: Block) => void): void {
  const cut = chunker.push(ref)
  if (cut !== undefined) {
    emit(cut.block)
    rep.refs.push(cut.ref)
    rep.sizes.push(cut.size)
  }
}
