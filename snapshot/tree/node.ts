import { CID } from 'multiformats/cid'
import { blockFromBytes, CID_BYTES, CID_PREFIX, cidFromBinary, decodeBlock, type Block } from '../codec/block.ts'
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

/** Write a shortest CBOR head for n < 2^32 at out[o]; returns the offset after it. */
function putHead(out: Uint8Array, o: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) {
    out[o] = m | n
    return o + 1
  }
  if (n < 0x100) {
    out[o] = m | 24
    out[o + 1] = n
    return o + 2
  }
  if (n < 0x10000) {
    out[o] = m | 25
    out[o + 1] = n >>> 8
    out[o + 2] = n & 0xff
    return o + 3
  }
  if (n < 0x100000000) {
    out[o] = m | 26
    out[o + 1] = n >>> 24
    out[o + 2] = (n >>> 16) & 0xff
    out[o + 3] = (n >>> 8) & 0xff
    out[o + 4] = n & 0xff
    return o + 5
  }
  throw new RangeError('CBOR head length over 2^32 is not used by Ark')
}

/**
 * Node bytes are carved from shared 256 KiB slabs rather than allocated one
 * by one: a build makes a node per ~4 accounts, and a separate ~500-byte
 * ArrayBuffer each (external memory the GC must track) was a large share of
 * a million-account build. A node is a view of its slab, as
 * blocks read from a CAR are views of the file; nothing writes to them after
 * encoding. Large nodes get their own buffer.
 */
const SLAB = 1 << 18
let slab = new Uint8Array(SLAB)
let slabUsed = 0

function nodeBytes(size: number): Uint8Array {
  if (size > SLAB >> 4) return new Uint8Array(size)
  if (slabUsed + size > SLAB) {
    slab = new Uint8Array(SLAB)
    slabUsed = 0
  }
  const out = slab.subarray(slabUsed, slabUsed + size)
  slabUsed += size
  return out
}

/** [0, [[key, record], ...]]: heads written straight into one exactly sized buffer. */
export function encodeLeaf(entries: readonly Entry[]): Block {
  let total = 2 + headSize(entries.length)
  for (const e of entries) total += 1 + headSize(e.key.length) + e.key.length + e.value.length
  const out = nodeBytes(total)
  out[0] = 0x82
  out[1] = 0x00
  let o = putHead(out, 2, 4, entries.length)
  for (const e of entries) {
    out[o++] = 0x82
    o = putHead(out, o, 2, e.key.length)
    const key = e.key
    for (let i = 0; i < key.length; i++) out[o + i] = key[i]! // short: a loop beats set()
    o += key.length
    out.set(e.value, o)
    o += e.value.length
  }
  return blockFromBytes(out)
}

/** [level, [[firstKey, link, count], ...]]; a link is tag 42 over 0x00 || CID bytes. */
export function encodeBranch(level: number, children: readonly ChildRef[]): Block {
  let total = 1 + headSize(level) + headSize(children.length)
  for (const c of children) total += childSize(c)
  const out = nodeBytes(total)
  out[0] = 0x82
  let o = putHead(out, 1, 0, level)
  o = putHead(out, o, 4, children.length)
  for (const c of children) {
    out[o++] = 0x83
    o = putHead(out, o, 2, c.firstKey.length)
    out.set(c.firstKey, o)
    o += c.firstKey.length
    out[o++] = 0xd8
    out[o++] = 0x2a
    o = putHead(out, o, 2, c.cid.bytes.length + 1)
    out[o++] = 0
    out.set(c.cid.bytes, o)
    o += c.cid.bytes.length
    o = putHead(out, o, 0, c.count)
  }
  return blockFromBytes(out)
}

export type DecodedNode =
  | { level: 0; entries: Entry[] }
  | { level: number; children: ChildRef[] }

/** A link as encodeBranch writes it: tag 42 (d8 2a), bytes(37) (58 25), the 0x00 prefix, then the Ark CID prefix. */
const LINK_HEAD = Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00, ...CID_PREFIX)

/**
 * A branch in exactly the form encodeBranch writes (every link an Ark CID,
 * counts below 2^32, keys strictly increasing, no trailing bytes), parsed
 * without a generic dag-cbor decode and re-encode. Anything else returns
 * undefined and takes the generic path, which accepts or rejects it (with its
 * messages) exactly as before.
 */
function decodeBranchFast(bytes: Uint8Array, at: number, level: number, keyLength: number): ChildRef[] | undefined {
  try {
    return parseBranch(bytes, at, level, keyLength)
  } catch {
    return undefined // e.g. a non-minimal head: the generic path reports it
  }
}

function parseBranch(bytes: Uint8Array, at: number, level: number, keyLength: number): ChildRef[] | undefined {
  if (at >= bytes.length || bytes[at]! >> 5 !== 4) return undefined
  const arr = readHead(bytes, at)
  if (arr.value === 0 || arr.value > bytes.length) return undefined
  const keyHead = cborHead(2, keyLength)
  const children: ChildRef[] = new Array(arr.value)
  let o = arr.end
  let prev: Uint8Array | undefined
  for (let i = 0; i < arr.value; i++) {
    if (o + 1 + keyHead.length + keyLength + LINK_HEAD.length + 32 + 1 > bytes.length || bytes[o] !== 0x83) return undefined
    o++
    for (let k = 0; k < keyHead.length; k++) if (bytes[o + k] !== keyHead[k]) return undefined
    o += keyHead.length
    const firstKey = bytes.subarray(o, o + keyLength)
    o += keyLength
    if (prev !== undefined && Buffer.compare(prev, firstKey) >= 0) return undefined
    prev = firstKey
    for (let k = 0; k < LINK_HEAD.length; k++) if (bytes[o + k] !== LINK_HEAD[k]) return undefined
    const cid = cidFromBinary(bytes.subarray(o + 5, o + 5 + CID_BYTES))
    o += 5 + CID_BYTES
    const ib = bytes[o]!
    if (ib >> 5 !== 0 || (ib & 31) > 26) return undefined
    const count = readHead(bytes, o)
    if (count.value < 1) return undefined
    o = count.end
    children[i] = { firstKey, cid, count: count.value, level: level - 1 }
  }
  return o === bytes.length ? children : undefined
}

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
    const fast = decodeBranchFast(bytes, lv.end, level, keyLength)
    if (fast !== undefined) return { level, children: fast }
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
