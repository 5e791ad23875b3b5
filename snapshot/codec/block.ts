import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { hash } from 'node:crypto'
import { BlockHashMismatchError, MalformedBlockError } from '../errors.ts'

/** No block may exceed bitswap's message limit. */
export const MAX_BLOCK_BYTES = 1 << 20
export const DAG_CBOR = 0x71
export const SHA2_256 = 0x12

export interface Block {
  cid: CID
  bytes: Uint8Array
}

/**
 * sha256 as a 32-character latin1 string (char code i = digest byte i): the
 * one-shot hash with string output allocates no Hash object and no Buffer
 * backing store, which is most of the cost for a ~500-byte block.
 */
function sha256Chars(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'binary') // 'binary' is latin1
}

export function sha256(bytes: Uint8Array): Uint8Array {
  const s = sha256Chars(bytes)
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i)
  return out
}

/** Binary prefix of every Ark CID: version 1, dag-cbor, sha2-256, 32-byte digest. */
export const CID_PREFIX = Uint8Array.of(0x01, DAG_CBOR, SHA2_256, 0x20)
export const CID_BYTES = 36

/**
 * A CIDv1(dag-cbor, sha2-256) over its 36 binary bytes (`01 71 12 20 ||
 * digest`), which the caller has checked start with CID_PREFIX. Builds the CID
 * around views of those bytes instead of re-encoding them (CID.createV1
 * allocates and copies twice); the result equals CID.decode(bytes).
 */
export function cidFromBinary(bytes: Uint8Array): CID {
  return new CID(1, DAG_CBOR, new Digest(SHA2_256, 32, bytes.subarray(4, CID_BYTES), bytes.subarray(2, CID_BYTES)), bytes)
}

/**
 * Binary CIDs are carved from shared slabs. A CID takes two views of its
 * bytes (digest, multihash), and a view of a small standalone array makes V8
 * move that array off the JS heap first, which cost more than the hash.
 */
const CID_SLAB = CID_BYTES * 2048
let cidSlab = new Uint8Array(CID_SLAB)
let cidUsed = 0

/** CIDv1(dag-cbor, sha2-256) of already-encoded bytes. */
export function cidOf(bytes: Uint8Array): CID {
  if (cidUsed + CID_BYTES > CID_SLAB) {
    cidSlab = new Uint8Array(CID_SLAB)
    cidUsed = 0
  }
  const b = cidSlab.subarray(cidUsed, cidUsed + CID_BYTES)
  cidUsed += CID_BYTES
  b.set(CID_PREFIX)
  const s = sha256Chars(bytes)
  for (let i = 0; i < 32; i++) b[4 + i] = s.charCodeAt(i)
  return cidFromBinary(b)
}

export function encodeBlock(value: unknown): Block {
  const bytes = dagCbor.encode(value)
  if (bytes.length > MAX_BLOCK_BYTES) {
    throw new MalformedBlockError(`encoded block is ${bytes.length} bytes, over the ${MAX_BLOCK_BYTES}-byte limit`)
  }
  return { cid: cidOf(bytes), bytes }
}

export function blockFromBytes(bytes: Uint8Array): Block {
  return { cid: cidOf(bytes), bytes }
}

/** Check bytes against their CID: only dag-cbor/sha2-256 CIDv1 are Ark blocks. */
export function checkBlock(cid: CID, bytes: Uint8Array): void {
  if (cid.version !== 1 || cid.code !== DAG_CBOR || cid.multihash.code !== SHA2_256) {
    throw new MalformedBlockError(`CID ${cid.toString()} is not CIDv1 dag-cbor sha2-256; Ark snapshots use only that form`)
  }
  if (bytes.length > MAX_BLOCK_BYTES) {
    throw new MalformedBlockError(`block ${cid.toString()} is ${bytes.length} bytes, over the ${MAX_BLOCK_BYTES}-byte limit`)
  }
  const got = sha256Chars(bytes)
  const want = cid.multihash.digest
  let same = want.length === 32
  for (let i = 0; i < 32 && same; i++) same = want[i] === got.charCodeAt(i)
  if (!same) throw new BlockHashMismatchError(cid.toString())
}

/**
 * Strict decode: the decoder tolerates some non-canonical forms (whole-number
 * floats, undefined, unsorted map keys), so a block must also re-encode to
 * exactly its own bytes. One value, one encoding, one CID.
 */
export function decodeBlock(cid: CID, bytes: Uint8Array): unknown {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (cause) {
    throw new MalformedBlockError(`block ${cid.toString()} is not valid dag-cbor: ${(cause as Error).message}`, { cause })
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(value)
  } catch (cause) {
    throw new MalformedBlockError(`block ${cid.toString()} holds a value outside the IPLD data model`, { cause })
  }
  if (Buffer.compare(again, bytes) !== 0) throw new MalformedBlockError(`block ${cid.toString()} is not canonical dag-cbor (floats, undefined or unsorted keys); Ark blocks have exactly one encoding`)
  return value
}
