import type { ChildRef } from './node.ts'

/**
 * The in-memory shape of a tree above its leaves: for each level the node
 * refs in key order and, for levels >= 1, how many children each node has.
 * Incremental updates work on this instead of re-reading every leaf.
 */
export interface TreeLevel {
  refs: ChildRef[]
  /** children per node (level >= 1); entries per leaf at level 0 */
  sizes: number[]
}

export interface TreeIndex {
  /** levels[0] = leaves ... levels[top] = [root]; empty for an empty tree */
  levels: TreeLevel[]
}

export function rootOf(index: TreeIndex): ChildRef | null {
  const top = index.levels[index.levels.length - 1]
  return top === undefined ? null : top.refs[0]!
}

export function countOf(index: TreeIndex): number {
  return rootOf(index)?.count ?? 0
}

export function childStarts(level: TreeLevel): number[] {
  const starts = new Array<number>(level.sizes.length + 1)
  starts[0] = 0
  for (let i = 0; i < level.sizes.length; i++) starts[i + 1] = starts[i]! + level.sizes[i]!
  return starts
}
