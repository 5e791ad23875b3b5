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

export function sha256(bytes: Uint8Array): Uint8Array {
  // One-shot hash: no Hash object per call (a snapshot hashes one block per ~4 accounts).
  return hash('sha256', bytes, 'buffer')
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

/** CIDv1(dag-cbor, sha2-256) of already-encoded bytes. */
export function cidOf(bytes: Uint8Array): CID {
  const b = new Uint8Array(CID_BYTES)
  b.set(CID_PREFIX)
  b.set(sha256(bytes), 4)
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
  const digest = sha256(bytes)
  const want = cid.multihash.digest
  if (Buffer.compare(digest, want) !== 0) throw new BlockHashMismatchError(cid.toString())
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
