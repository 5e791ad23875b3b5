import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import { checkBlock } from '../codec/block.ts'
import { MalformedCarError } from './malformed-car-error.ts'
import { CarStreamReader } from './stream.ts'
import { MemoryBlockStore, type BlockStore } from '../store.ts'

export { MalformedCarError }

/**
 * The one CARv1 framer (issue 16): the header {roots, version: 1} behind its
 * varint length. Every CAR Ark writes (files, gateway streams, the staging
 * file of a fetch) is framed by carHeader and carSection, so they are
 * byte-identical for the same blocks.
 */
export function carHeader(roots: readonly CID[]): Uint8Array {
  const header = dagCbor.encode({ roots, version: 1 })
  return concat([varint.encodeTo(header.length, new Uint8Array(varint.encodingLength(header.length))), header])
}

/** One block's section: varint(len(cid)+len(bytes)) || cid || bytes, as parts (no copy of the block). */
export function carSection(cid: CID, bytes: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const len = cid.bytes.length + bytes.length
  const v = new Uint8Array(varint.encodingLength(len))
  varint.encodeTo(len, v)
  return [v, cid.bytes, bytes]
}

/**
 * Frames blocks as they come into chunks of about `chunkBytes` (the last may
 * be smaller): the caller decides where they go (file, HTTP response, hash).
 */
export async function* frameCar(roots: readonly CID[], blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }> | Iterable<{ cid: CID; bytes: Uint8Array }>, chunkBytes = 1 << 20): AsyncGenerator<Uint8Array> {
  let batch: Uint8Array[] = [carHeader(roots)]
  let size = batch[0]!.length
  for await (const { cid, bytes } of blocks) {
    for (const p of carSection(cid, bytes)) {
      batch.push(p)
      size += p.length
    }
    if (size >= chunkBytes) {
      yield concat(batch)
      batch = []
      size = 0
    }
  }
  if (batch.length > 0) yield concat(batch)
}

/** CARv1 of the blocks `cids` names, read from `store` in that order. */
export async function* writeCar(roots: CID[], cids: AsyncIterable<CID> | Iterable<CID>, store: BlockStore): AsyncGenerator<Uint8Array> {
  yield* frameCar(roots, (async function* () {
    for await (const cid of cids) {
      const got = store.get(cid)
      yield { cid, bytes: got instanceof Promise ? await got : got }
    }
  })())
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export interface CarContents {
  roots: CID[]
  store: MemoryBlockStore
  blocks: number
  bytes: number
}

/**
 * Parse a whole CARv1 and hash-check every block before accepting it. Any
 * problem (truncation, bad header, a block whose bytes don't match its CID,
 * a non-dag-cbor block) rejects the whole file. The framing is read by the
 * one CAR parser (CarStreamReader), fed the file as a single chunk.
 */
export function readCar(bytes: Uint8Array, into: MemoryBlockStore = new MemoryBlockStore()): CarContents {
  // CID bytes are plain Uint8Array views (as CID.decodeFirst makes them) even when the file is a Buffer
  const plain = bytes instanceof Buffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes
  const reader = new CarStreamReader({ source: 'file' })
  let blocks = 0
  let total = 0
  for (const { cid, bytes: rest } of reader.push(plain)) {
    checkBlock(cid, rest)
    into.put({ cid, bytes: rest })
    blocks++
    total += rest.length
  }
  reader.end()
  return { roots: reader.roots!, store: into, blocks, bytes: total }
}
