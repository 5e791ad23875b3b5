import { encodeBlock, type Block } from '../codec/block.ts'
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
import { permute, sortOrder } from '../codec/sort.ts'
import { HASH } from '../merkle/standard-tree.ts'
import { findKey, LeafIndexBuilder, merkleOf, patchLeafIndex, ZERO_ROOT, type LeafIndex } from './leaves.ts'
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

function keyBytes(key: string | Uint8Array, length: number): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== length) throw new InvalidInputError(`key ${bytesToHex(key)} is ${key.length} bytes; keys are ${length} bytes (an account address)`)
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
  doubleKeccak256Into(abiEncodeScratch(schema.leafEncoding, encoded.leaf(key, keccak256(value))), hashes, at)
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
  bytes: Uint8Array = new Uint8Array(1 << 20)
  ends = new Float64Array(1024)
  private readonly keyLength: number

  constructor(keyLength: number) {
    this.keyLength = keyLength
    this.keys = new Uint8Array(1024 * keyLength)
    this.hashes = new Uint8Array(1024 * HASH)
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
    if (start + value.length > this.bytes.length) this.bytes = grow(this.bytes, Math.max(2 * this.bytes.length, start + value.length))
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
  const rootRef = rootOf(index)
  const root = {
    version: SPEC_VERSION,
    ...m,
    schema: { id: schema.id, version: schema.version, leafEncoding: [...schema.leafEncoding] },
    markets: marketBlock.cid,
    accounts: rootRef?.cid ?? null,
    accountCount: rootRef?.count ?? 0,
    stateRoot: merkle?.root ?? ZERO_ROOT,
  }
  const rootBlock = encodeRoot(root)
  sink.emit(rootBlock)
  await sink.flush()
  const snapshot = new Snapshot<R, M>({ cid: rootBlock.cid, root, store: sink.store, schema, rootRef, index, leaves, merkle, verifyBlocks: false })
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
    for await (const { key, record } of opts.records) {
      const k = keyBytes(key, kl)
      tree.add({ key: k, value: encodeRecord(schema, k, record, leaf, 0) })
      li.push(k, leaf)
      if (sink.size >= 4096) await sink.flush()
    }
    leaves = li.finish()
  } else {
    const t = new RecordTable(kl)
    for await (const { key, record } of opts.records) t.add(schema, keyBytes(key, kl), record)
    const keys = t.keys.subarray(0, t.n * kl)
    const order = sortOrder(keys, kl)
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!
      tree.add({ key: keys.subarray(i * kl, i * kl + kl), value: t.value(i) })
      if (sink.size >= 4096) await sink.flush()
    }
    // the tree accepted the order (no duplicate keys): the leaf index is the same permutation
    leaves = { n: t.n, keyLength: kl, keys: permute(keys, kl, order), hashes: permute(t.hashes.subarray(0, t.n * HASH), HASH, order) }
  }
  return finishSnapshot(schema, opts.meta, opts.markets, sink, tree.finish(), leaves)
}

export interface Change<R> {
  key: string | Uint8Array
  /** new state of the account, or null when it no longer exists */
  record: R | null
}

/**
 * New snapshot = previous one with these accounts replaced, added or removed.
 * Reads only the leaves that hold a changed key; the result is identical to
 * a full rebuild over the resulting account set.
 */
export async function applyChanges<R, M>(
  prev: Snapshot<R, M>,
  changes: Iterable<Change<R>> | AsyncIterable<Change<R>>,
  opts: { meta: SnapshotMeta; markets: M },
): Promise<{ snapshot: Snapshot<R, M>; stats: BuildStats }> {
  checkMeta(opts.meta)
  const schema = prev.schema
  const edits: (Edit & { leaf: Uint8Array | null })[] = []
  for await (const ch of changes) {
    const key = keyBytes(ch.key, schema.keyLength)
    if (ch.record === null) edits.push({ key, value: null, leaf: null })
    else {
      const leaf = new Uint8Array(HASH)
      edits.push({ key, value: encodeRecord(schema, key, ch.record, leaf, 0), leaf })
    }
  }
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
