import type { ChildRef, Entry } from './node.ts'
import { cidKey } from '../store.ts'
import { readNode, type TreeReader } from './read.ts'

export interface EntryChange {
  key: Uint8Array
  before: Uint8Array | null
  after: Uint8Array | null
}

/**
 * Keys added, removed or changed between two trees. Subtrees present in both
 * (same CID, at any depth) are never opened: cost follows the change, not
 * the size. Yields in key order.
 */
export async function* diffTrees(ra: TreeReader, a: ChildRef | null, rb: TreeReader, b: ChildRef | null): AsyncGenerator<EntryChange> {
  let fa: ChildRef[] = a === null ? [] : [a]
  let fb: ChildRef[] = b === null ? [] : [b]
  for (;;) {
    // cidKey, not toString: thousands of refs per level when 1% of a large tree changed
    const inB = new Set(fb.map((x) => cidKey(x.cid)))
    const shared = new Set<string>()
    for (const x of fa) {
      const k = cidKey(x.cid)
      if (inB.has(k)) shared.add(k)
    }
    if (shared.size > 0) {
      fa = fa.filter((x) => !shared.has(cidKey(x.cid)))
      fb = fb.filter((x) => !shared.has(cidKey(x.cid)))
    }
    let top = 0
    for (const x of fa) if (x.level > top) top = x.level
    for (const x of fb) if (x.level > top) top = x.level
    if (top === 0) break
    fa = await expand(ra, fa, top)
    fb = await expand(rb, fb, top)
  }
  const ea = await leafEntries(ra, fa)
  const eb = await leafEntries(rb, fb)
  let i = 0
  let j = 0
  while (i < ea.length || j < eb.length) {
    const c = i >= ea.length ? 1 : j >= eb.length ? -1 : Buffer.compare(ea[i]!.key, eb[j]!.key)
    if (c < 0) {
      yield { key: ea[i]!.key, before: ea[i]!.value, after: null }
      i++
    } else if (c > 0) {
      yield { key: eb[j]!.key, before: null, after: eb[j]!.value }
      j++
    } else {
      if (Buffer.compare(ea[i]!.value, eb[j]!.value) !== 0) yield { key: ea[i]!.key, before: ea[i]!.value, after: eb[j]!.value }
      i++
      j++
    }
  }
}

async function expand(r: TreeReader, refs: ChildRef[], level: number): Promise<ChildRef[]> {
  const out: ChildRef[] = []
  for (const ref of refs) {
    if (ref.level !== level) {
      out.push(ref)
      continue
    }
    const node = await readNode(r, ref.cid, level)
    out.push(...(node as { children: ChildRef[] }).children)
  }
  return out
}

async function leafEntries(r: TreeReader, refs: ChildRef[]): Promise<Entry[]> {
  const out: Entry[] = []
  for (const ref of refs) {
    const node = await readNode(r, ref.cid, 0)
    out.push(...(node as { entries: Entry[] }).entries)
  }
  out.sort((x, y) => Buffer.compare(x.key, y.key))
  return out
}
