import { decodeBlock, encodeBlock, type Block } from '../codec/block.ts'
import { bytesToHex, hexToBytes } from '../codec/hex.ts'
import { InvalidInputError } from '../errors.ts'
import type { EncodedRecord, RecordSchema } from '../schema/types.ts'
import type { BlockStore } from '../store.ts'
import { TreeBuilder } from '../tree/build.ts'
import { rootOf, type TreeIndex } from '../tree/index.ts'
import { TREE_PARAMS_V1 } from '../tree/params.ts'
import { readLeaf } from '../tree/read.ts'
import { updateTree, type Edit } from '../tree/update.ts'
import { abiEncodeScratch } from '../abi/encode.ts'
import { doubleKeccak256Into, keccak256 } from '../codec/keccak.ts'
import { copier, sortKeys } from '../codec/sort.ts'
import { schemaMarketsTree, stateRootOf } from '../merkle/composed-root.ts'
import { HASH, leafHashFast } from '../merkle/standard-tree.ts'
import { findKey, LeafIndexBuilder, merkleOf, patchLeafIndex, type LeafIndex } from './leaves.ts'
import { checkMeta, encodeRoot, SPEC_VERSION, type SnapshotMeta } from './root.ts'
import { Snapshot } from './snapshot.ts'

export interface RecordInput<R> {
  /** 0x-hex or raw bytes, exactly schema.keyLength bytes */
  key: string | Uint8Array
  record: R
}

export interface BuildOptions<R, M> {
  schema: RecordSchema<R, M>
  meta: SnapshotMeta
  markets: M
  records: Iterable<RecordInput<R>> | AsyncIterable<RecordInput<R>>
  store: BlockStore
  /**
   * Input already in strictly increasing key order: records then stream
   * straight into the tree and only keys and leaf hashes are kept in memory.
   * Otherwise records are encoded, held compactly and sorted first.
   */
  sorted?: boolean
}

/**
 * `for await` over the input, except that a plain (sync) iterable such as an
 * array is walked synchronously: for-await would wrap every item in a promise
 * and a microtask, which costs more than encoding a small record. Like
 * for-await, an async iterator is preferred when both are present.
 */
async function each<T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void> | void): Promise<void> {
  if (Symbol.asyncIterator in items) {
    for await (const item of items) await fn(item)
    return
  }
  for (const item of items) {
    const pending = fn(item)
    if (pending !== undefined) await pending
  }
}

/** Blocks waiting to be written, flushed in batches so a build never holds the whole DAG. */
class BlockSink {
  private pending: Block[] = []
  readonly store: BlockStore
  blocks = 0
  bytes = 0
  constructor(store: BlockStore) {
    this.store = store
  }
  emit = (b: Block): void => {
    this.pending.push(b)
    this.blocks++
    this.bytes += b.bytes.length
  }
  get size(): number {
    return this.pending.length
  }
  async flush(): Promise<void> {
    const batch = this.pending
    this.pending = []
    for (const b of batch) {
      const r = this.store.put(b)
      if (r instanceof Promise) await r
    }
  }
}

/** A record key as bytes of the schema's key length (hex accepted for building from files and tests). */
export function keyBytes(key: string | Uint8Array, length: number): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== length) throw new InvalidInputError(`key ${bytesToHex(key)} is ${key.length} bytes; keys are ${length} bytes (the schema's keyLength)`)
    return key
  }
  return hexToBytes(key, 'account key', length)
}

/**
 * Canonical bytes of a record (size-checked) with its proof-leaf hash written
 * to hashes[at..at+32). The label `record of 0x…` only appears in errors, so
 * the schema first gets a placeholder; on failure the (pure) encode runs again
 * with the real label for its message.
 */
function encodeRecord<R, M>(schema: RecordSchema<R, M>, key: Uint8Array, record: R, hashes: Uint8Array, at: number): Uint8Array {
  let encoded: EncodedRecord
  try {
    encoded = schema.encode(record, 'record')
  } catch (first) {
    schema.encode(record, `record of ${bytesToHex(key)}`)
    throw first // not reached for a pure schema
  }
  const value = encoded.bytes
  if (value.length > TREE_PARAMS_V1.maxRecordBytes) {
    throw new InvalidInputError(`record of ${bytesToHex(key)} encodes to ${value.length} bytes, over the ${TREE_PARAMS_V1.maxRecordBytes}-byte record limit; split the account's state or raise the limit in a new spec version`)
  }
  if (leafHashFast(schema)?.into(key, value, hashes, at) !== true) {
    doubleKeccak256Into(abiEncodeScratch(schema.leafEncoding, encoded.leaf(key, keccak256(value))), hashes, at)
  }
  return value
}

/**
 * Encoded records in input order: keys, leaf hashes and record bytes packed in
 * flat buffers (a million accounts are then a few allocations rather than a
 * few million long-lived objects for the garbage collector to move).
 */
class RecordTable {
  n = 0
  keys: Uint8Array
  hashes: Uint8Array
  /** record i is bytes[ends[i-1], ends[i]) */
  bytes: Uint8Array
  ends: Float64Array
  private readonly keyLength: number

  /** `expected`: number of records if known (an array input), to size the buffers once */
  constructor(keyLength: number, expected = 0) {
    const n = Math.max(1024, expected)
    this.keyLength = keyLength
    this.keys = new Uint8Array(n * keyLength)
    this.hashes = new Uint8Array(n * HASH)
    this.ends = new Float64Array(n)
    // typical records are ~100-130 bytes; the arena grows if that is short
    this.bytes = new Uint8Array(Math.max(1 << 20, n * 112))
  }

  add<R, M>(schema: RecordSchema<R, M>, key: Uint8Array, record: R): void {
    const n = this.n
    if (n === this.ends.length) {
      this.keys = grow(this.keys, this.keys.length * 2)
      this.hashes = grow(this.hashes, this.hashes.length * 2)
      const e = new Float64Array(n * 2)
      e.set(this.ends)
      this.ends = e
    }
    const value = encodeRecord(schema, key, record, this.hashes, n * HASH)
    const start = n === 0 ? 0 : this.ends[n - 1]!
    if (start + value.length > this.bytes.length) this.bytes = grow(this.bytes, Math.max(Math.floor(1.5 * this.bytes.length), start + value.length))
    this.bytes.set(value, start)
    this.ends[n] = start + value.length
    this.keys.set(key, n * this.keyLength)
    this.n = n + 1
  }

  value(i: number): Uint8Array {
    return this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!)
  }
}

function grow(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size)
  b.set(a)
  return b
}

export interface BuildStats {
  /** blocks and bytes written by this operation */
  newBlocks: number
  newBytes: number
}

async function finishSnapshot<R, M>(
  schema: RecordSchema<R, M>,
  meta: SnapshotMeta,
  markets: M,
  sink: BlockSink,
  index: TreeIndex,
  leaves: LeafIndex,
): Promise<{ snapshot: Snapshot<R, M>; stats: BuildStats }> {
  const m = checkMeta(meta)
  const marketBlock = encodeBlock(schema.markets.encode(markets))
  sink.emit(marketBlock)
  const merkle = merkleOf(leaves)
  // a schema with market leaves commits to the canonical (decoded) market state too (SPEC §1.5)
  const marketTree = schema.marketLeaves === undefined ? null : schemaMarketsTree(schema, schema.markets.decode(decodeBlock(marketBlock.cid, marketBlock.bytes), marketBlock.bytes), m.block)
  const rootRef = rootOf(index)
  const root = {
    version: SPEC_VERSION,
    ...m,
    schema: { id: schema.id, version: schema.version, leafEncoding: [...schema.leafEncoding] },
    markets: marketBlock.cid,
    accounts: rootRef?.cid ?? null,
    accountCount: rootRef?.count ?? 0,
    stateRoot: stateRootOf(merkle?.root ?? null, marketTree),
  }
  const rootBlock = encodeRoot(root)
  sink.emit(rootBlock)
  await sink.flush()
  const snapshot = new Snapshot<R, M>({ cid: rootBlock.cid, root, store: sink.store, schema, rootRef, index, leaves, merkle, marketsTree: marketTree, verifyBlocks: false })
  return { snapshot, stats: { newBlocks: sink.blocks, newBytes: sink.bytes } }
}

/** Build a snapshot from records in any order (or a sorted stream). Same set, same CID. */
export async function buildSnapshot<R, M>(opts: BuildOptions<R, M>): Promise<{ snapshot: Snapshot<R, M>; stats: BuildStats }> {
  checkMeta(opts.meta)
  const { schema } = opts
  const sink = new BlockSink(opts.store)
  const tree = new TreeBuilder(sink.emit)
  let leaves: LeafIndex
  const kl = schema.keyLength
  if (opts.sorted === true) {
    const li = new LeafIndexBuilder(kl)
    const leaf = new Uint8Array(HASH)
    await each(opts.records, ({ key, record }) => {
      const k = keyBytes(key, kl)
      tree.add({ key: k, value: encodeRecord(schema, k, record, leaf, 0) })
      li.push(k, leaf)
      return sink.size >= 4096 ? sink.flush() : undefined
    })
    leaves = li.finish()
  } else {
    const t = new RecordTable(kl, Array.isArray(opts.records) ? opts.records.length : 0)
    await each(opts.records, ({ key, record }) => t.add(schema, keyBytes(key, kl), record))
    const { order, sorted } = sortKeys(t.keys.subarray(0, t.n * kl), kl)
    // The leaf index is the same permutation: sorted keys, and hashes gathered while feeding the tree.
    const li: LeafIndex = { n: t.n, keyLength: kl, keys: sorted, hashes: new Uint8Array(t.n * HASH) }
    const copyHash = copier(t.hashes, li.hashes, HASH)
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!
      tree.add({ key: sorted.subarray(j * kl, j * kl + kl), value: t.value(i) })
      copyHash(i, j)
      if (sink.size >= 4096) await sink.flush()
    }
    leaves = li
  }
  return finishSnapshot(schema, opts.meta, opts.markets, sink, tree.finish(), leaves)
}

/**
 * One account's new state. The key is raw bytes (exactly schema.keyLength), the one key type of the
 * adapter API: a hex string here was once misread as bytes (and bytes as hex), which silently kept
 * emptied accounts in incremental snapshots.
 */
export interface Change<R> {
  key: Uint8Array
  /** new state of the account, or null when it no longer exists */
  record: R | null
}

/** A change as the build engine takes it: like RecordInput, the key may also be 0x-hex (files, tests). */
export interface ChangeInput<R> {
  key: string | Uint8Array
  record: R | null
}

/**
 * New snapshot = previous one with these accounts replaced, added or removed.
 * Reads only the leaves that hold a changed key; the result is identical to
 * a full rebuild over the resulting account set.
 */
export async function applyChanges<R, M>(
  prev: Snapshot<R, M>,
  changes: Iterable<ChangeInput<R>> | AsyncIterable<ChangeInput<R>>,
  opts: { meta: SnapshotMeta; markets: M },
): Promise<{ snapshot: Snapshot<R, M>; stats: BuildStats }> {
  checkMeta(opts.meta)
  const schema = prev.schema
  const edits: (Edit & { leaf: Uint8Array | null })[] = []
  await each(changes, (ch) => {
    const key = keyBytes(ch.key, schema.keyLength)
    if (ch.record === null) edits.push({ key, value: null, leaf: null })
    else {
      const leaf = new Uint8Array(HASH)
      edits.push({ key, value: encodeRecord(schema, key, ch.record, leaf, 0), leaf })
    }
  })
  edits.sort((a, b) => Buffer.compare(a.key, b.key))
  for (let i = 1; i < edits.length; i++) {
    if (Buffer.compare(edits[i - 1]!.key, edits[i]!.key) === 0) throw new InvalidInputError(`change set lists ${bytesToHex(edits[i]!.key)} twice; give one final state per account`)
  }
  const oldLeaves = await prev.leafIndex()
  for (const e of edits) {
    if (e.value === null && findKey(oldLeaves, e.key) < 0) throw new InvalidInputError(`cannot remove ${bytesToHex(e.key)}: it is not in the previous snapshot`)
  }
  // New blocks go where the unchanged ones already are: the result must be complete in one store.
  const sink = new BlockSink(prev.store)
  const index = await updateTree(await prev.treeIndex(), edits, (ref) => readLeaf(prev.reader, ref), sink.emit)
  const leaves = patchLeafIndex(oldLeaves, edits.map((e) => ({ key: e.key, hash: e.leaf })))
  return finishSnapshot(schema, opts.meta, opts.markets, sink, index, leaves)
}
