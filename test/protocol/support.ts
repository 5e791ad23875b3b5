/**
 * Shared fixtures for the protocol tests: fixed operator keys, a fixed
 * attestation body, signing helpers and raw-CBOR builders for hand-made
 * (non-canonical or malformed) wire messages.
 */
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { keccak256, toBytes, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { signAttestation, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { makeOperatorSet, type Address, type OperatorSet } from '../../protocol/operator-set.ts'
import { ProtocolError, type RejectCode } from '../../protocol/errors.ts'

/** secp256k1 group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** Operator keys: keccak256('ark-op-1') … keccak256('ark-op-6'). Operators 1-4 form the set; 5 and 6 are outsiders. */
export const PRIVATE_KEYS: Hex[] = [1, 2, 3, 4, 5, 6].map((i) => keccak256(toBytes(`ark-op-${i}`)))
export const ACCOUNTS: PrivateKeyAccount[] = PRIVATE_KEYS.map((k) => privateKeyToAccount(k))
export const OP = ACCOUNTS.slice(0, 4)
export const OUTSIDER = ACCOUNTS[4]!

export const addr = (a: PrivateKeyAccount): Address => a.address.toLowerCase() as Address

/** Four operators of weight 1: default threshold 3 (more than two thirds). */
export function fourOperators(): OperatorSet {
  return makeOperatorSet(new Map(OP.map((a) => [addr(a), 1n])))
}

export const SNAPSHOT_A: CID = encodeBlock({ ark: 'protocol test snapshot', n: 1 }).cid
export const SNAPSHOT_B: CID = encodeBlock({ ark: 'protocol test snapshot', n: 2 }).cid

export const CHAIN_ID = 31337n
export const ADAPTER_ID = 'perp-reference'
export const CONFIG_HASH: Hex = `0x${'22'.repeat(32)}`

export function body(over: Partial<AttestationBody> = {}): AttestationBody {
  return {
    chainId: CHAIN_ID,
    adapterId: ADAPTER_ID,
    configHash: CONFIG_HASH,
    blockNumber: 1000n,
    blockHash: `0x${'11'.repeat(32)}`,
    snapshotCid: SNAPSHOT_A,
    stateRoot: `0x${'33'.repeat(32)}`,
    specVersion: 1,
    kind: 0,
    ...over,
  }
}

export function sign(b: AttestationBody, account: PrivateKeyAccount): Promise<SignedAttestation> {
  return signAttestation(b, account.address, (digest) => account.sign({ hash: digest }))
}

/** The same signature with s' = n - s and the recovery bit flipped: recovers the same key, but high-s. */
export function highS(signature: Hex): Hex {
  const r = signature.slice(2, 66)
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  const v = Number.parseInt(signature.slice(130), 16)
  const flipped = v === 27 ? 28 : v === 28 ? 27 : v ^ 1
  return `0x${r}${(SECP256K1_N - s).toString(16).padStart(64, '0')}${flipped.toString(16).padStart(2, '0')}`
}

/** Replace the trailing v byte of a 65-byte signature. */
export function withV(signature: Hex, v: number): Hex {
  return `${signature.slice(0, 130)}${v.toString(16).padStart(2, '0')}` as Hex
}

/** Assert `fn` throws (or rejects with) a ProtocolError with this reason. */
export async function expectReason(fn: () => unknown, reason: RejectCode): Promise<ProtocolError> {
  let caught: unknown
  try {
    await fn()
  } catch (err) {
    caught = err
  }
  if (!(caught instanceof ProtocolError)) throw new Error(`expected ProtocolError ${reason}, got ${caught === undefined ? 'no error' : String(caught)}`)
  if (caught.reason !== reason) throw new Error(`expected reason ${reason}, got ${caught.reason}: ${caught.message}`)
  return caught
}

/** The dag-cbor wire map of an attestation, as decoded (byte fields as Uint8Array). */
export function wireMap(bytes: Uint8Array): Record<string, unknown> {
  return { ...(dagCbor.decode(bytes) as Record<string, unknown>) }
}

/** Encode one CBOR value (dag-cbor); strip nothing. */
export const cbor = (v: unknown): Uint8Array => dagCbor.encode(v)

/**
 * A CBOR map from pre-encoded (key, value) pairs, in the given order and
 * with no normalisation: the way to build encodings dag-cbor would never
 * emit (unsorted keys, floats for integers, non-minimal lengths).
 */
export function rawMap(pairs: [string, Uint8Array][]): Uint8Array {
  if (pairs.length >= 24) throw new Error('rawMap supports fewer than 24 entries')
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 + pairs.length)]
  for (const [k, v] of pairs) parts.push(dagCbor.encode(k), v)
  return Buffer.concat(parts)
}

/** The (key, encoded value) pairs of a canonical dag-cbor map, in encoded order. */
export function pairsOf(bytes: Uint8Array): [string, Uint8Array][] {
  const m = dagCbor.decode(bytes) as Record<string, unknown>
  const keys = Object.keys(m).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
  return keys.map((k) => [k, dagCbor.encode(m[k])])
}

/** A 64-bit IEEE float encoding of a number (dag-cbor allows only 64-bit floats, never for integers). */
export function float64(n: number): Uint8Array {
  const b = new Uint8Array(9)
  b[0] = 0xfb
  new DataView(b.buffer).setFloat64(1, n)
  return b
}

export const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b))

export const cidArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => CID.createV1(0x71, Digest.create(0x12, d)))

export const bodyArb: fc.Arbitrary<AttestationBody> = fc.record({
  chainId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  adapterId: fc.string({ minLength: 1, maxLength: 64, unit: 'binary-ascii' }),
  configHash: hex32,
  blockNumber: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  blockHash: hex32,
  snapshotCid: cidArb,
  stateRoot: hex32,
  specVersion: fc.integer({ min: 0, max: 0xffffffff }),
  kind: fc.constantFrom(0, 1),
})

/** A body as plain comparable data (CID as string). */
export function plainBody(b: AttestationBody): Record<string, unknown> {
  return { ...b, configHash: b.configHash.toLowerCase(), blockHash: b.blockHash.toLowerCase(), stateRoot: b.stateRoot.toLowerCase(), snapshotCid: b.snapshotCid.toString() }
}
