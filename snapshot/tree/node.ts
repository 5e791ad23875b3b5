import { CID } from 'multiformats/cid'
import { blockFromBytes, decodeBlock, type Block } from '../codec/block.ts'
import { cborHead, headSize, readHead, skipItem } from '../codec/cbor-head.ts'
import { MalformedBlockError } from '../errors.ts'

/**
 * Tree node formats (SPEC §3.2):
 *   leaf:   [0, [[key, record], ...]]             keys strictly increasing
 *   branch: [level, [[firstKey, link, count], ...]] level >= 1
 */
export interface Entry {
  key: Uint8Array
  /** canonical dag-cbor bytes of the record */
  value: Uint8Array
}

export interface ChildRef {
  /** first key of the child's subtree */
  firstKey: Uint8Array
  cid: CID
  /** number of entries in the child's subtree */
  count: number
  level: number
}

export function entrySize(e: Entry): number {
  return 1 + headSize(e.key.length) + e.key.length + e.value.length
}

export function childSize(c: ChildRef): number {
  const cidLen = c.cid.bytes.length + 1
  return 1 + headSize(c.firstKey.length) + c.firstKey.length + 2 + headSize(cidLen) + cidLen + intSize(c.count)
}

function intSize(n: number): number {
  return headSize(n)
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export function encodeLeaf(entries: readonly Entry[]): Block {
  const parts: Uint8Array[] = [cborHead(4, 2), cborHead(0, 0), cborHead(4, entries.length)]
  let total = 2 + headSize(entries.length)
  for (const e of entries) {
    const h = cborHead(2, e.key.length)
    parts.push(ENTRY_HEAD, h, e.key, e.value)
    total += 1 + h.length + e.key.length + e.value.length
  }
  return blockFromBytes(concat(parts, total))
}

const ENTRY_HEAD = cborHead(4, 2)
const CHILD_HEAD = cborHead(4, 3)
const TAG_42 = Uint8Array.of(0xd8, 0x2a)

export function encodeBranch(level: number, children: readonly ChildRef[]): Block {
  const parts: Uint8Array[] = [cborHead(4, 2), cborHead(0, level), cborHead(4, children.length)]
  let total = parts[0]!.length + parts[1]!.length + parts[2]!.length
  for (const c of children) {
    const kh = cborHead(2, c.firstKey.length)
    const cidLen = c.cid.bytes.length + 1
    const ch = cborHead(2, cidLen)
    const count = cborHead(0, c.count)
    parts.push(CHILD_HEAD, kh, c.firstKey, TAG_42, ch, ZERO, c.cid.bytes, count)
    total += 1 + kh.length + c.firstKey.length + 2 + ch.length + cidLen + count.length
  }
  return blockFromBytes(concat(parts, total))
}

const ZERO = Uint8Array.of(0)

export type DecodedNode =
  | { level: 0; entries: Entry[] }
  | { level: number; children: ChildRef[] }

/**
 * Decode a node, checking the shape and that keys strictly increase. Record
 * bytes are sliced out without decoding them (the schema decodes on demand).
 */
export function decodeNode(cid: CID, bytes: Uint8Array, keyLength: number): DecodedNode {
  const fail = (why: string): never => {
    throw new MalformedBlockError(`tree node ${cid.toString()} is malformed: ${why}`)
  }
  const top = readHead(bytes, 0)
  if (top.major !== 4 || top.value !== 2) fail('expected a 2-element array')
  const lv = readHead(bytes, top.end)
  if (lv.major !== 0) fail('level is not an unsigned integer')
  const level = lv.value
  if (level > 64) fail('level out of range')
  if (level > 0) {
    const value = decodeBlock(cid, bytes) as [number, [Uint8Array, CID, number][]]
    const rows = value[1]
    if (!Array.isArray(rows) || rows.length === 0) fail('branch has no children')
    const children: ChildRef[] = []
    let prev: Uint8Array | undefined
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 3) fail('child is not [firstKey, link, count]')
      const [firstKey, link, count] = row
      if (!(firstKey instanceof Uint8Array) || firstKey.length !== keyLength) fail(`child key is not ${keyLength} bytes`)
      const child = CID.asCID(link)
      if (child === null) fail('child link is not a CID')
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) fail('child count is not a positive integer')
      if (prev !== undefined && Buffer.compare(prev, firstKey) >= 0) fail('child keys are not strictly increasing')
      prev = firstKey
      children.push({ firstKey, cid: child!, count, level: level - 1 })
    }
    return { level, children }
  }
  const arr = readHead(bytes, lv.end)
  if (arr.major !== 4) fail('entries is not an array')
  if (arr.value === 0) fail('leaf has no entries')
  let o = arr.end
  const entries: Entry[] = []
  let prev: Uint8Array | undefined
  for (let i = 0; i < arr.value; i++) {
    const eh = readHead(bytes, o)
    if (eh.major !== 4 || eh.value !== 2) fail('entry is not [key, record]')
    const kh = readHead(bytes, eh.end)
    if (kh.major !== 2 || kh.value !== keyLength) fail(`entry key is not ${keyLength} bytes`)
    const key = bytes.subarray(kh.end, kh.end + keyLength)
    const vEnd = skipItem(bytes, kh.end + keyLength)
    if (prev !== undefined && Buffer.compare(prev, key) >= 0) fail('entry keys are not strictly increasing')
    prev = key
    entries.push({ key, value: bytes.subarray(kh.end + keyLength, vEnd) })
    o = vEnd
  }
  if (o !== bytes.length) fail('trailing bytes after the entries')
  return { level: 0, entries }
}
