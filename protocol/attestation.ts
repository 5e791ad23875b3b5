import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { hashTypedData, recoverAddress, type Hex, type TypedDataDefinition } from 'viem'
import { bytesToHex, hexToBytes } from '../snapshot/codec/hex.ts'
import { arkDomain, ATTESTATION_TYPES } from './eip712.ts'
import { ProtocolError } from './errors.ts'
import type { Address } from './operator-set.ts'
import { checkShape, decodeWire, type WireShape } from './wire/envelope.ts'

export const ATTESTATION_WIRE_VERSION = 1
/** Checked on the raw bytes before decoding anything. */
export const MAX_ATTESTATION_BYTES = 1024

/**
 * What an attestation is about: 0 a scheduled checkpoint, 1 an emergency checkpoint (PROTOCOL §12),
 * 2 a restitution table (PROTOCOL "Restitution (kind 2)": snapshotCid is the table's root block,
 * stateRoot its Merkle root, blockNumber/blockHash the after snapshot's).
 */
export const CHECKPOINT_KIND = { scheduled: 0, emergency: 1, restitution: 2 } as const
export const MAX_CHECKPOINT_KIND = 2

/** The fields an operator signs about one checkpoint. */
export interface AttestationBody {
  chainId: bigint
  adapterId: string
  configHash: Hex
  blockNumber: bigint
  blockHash: Hex
  snapshotCid: CID
  stateRoot: Hex
  specVersion: number
  kind: number
}

export interface SignedAttestation {
  body: AttestationBody
  signer: Address
  /** 65-byte r || s || v */
  signature: Hex
}

/** secp256k1 group order / 2: signatures with a larger s are malleable twins and rejected. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

export function typedMessage(b: AttestationBody): Record<string, unknown> {
  return {
    chainId: b.chainId,
    adapterId: b.adapterId,
    configHash: b.configHash,
    blockNumber: b.blockNumber,
    blockHash: b.blockHash,
    snapshotCid: bytesToHex(b.snapshotCid.bytes),
    stateRoot: b.stateRoot,
    specVersion: b.specVersion,
    kind: b.kind,
  }
}

/** The EIP-712 typed data an operator signs (what a remote signer is shown). */
export function attestationTypedData(b: AttestationBody): TypedDataDefinition {
  return { domain: arkDomain(b.chainId), types: ATTESTATION_TYPES, primaryType: 'Attestation', message: typedMessage(b) } as TypedDataDefinition
}

/** The EIP-712 digest an operator signs. */
export function attestationDigest(b: AttestationBody): Hex {
  return hashTypedData(attestationTypedData(b))
}

/** Identity of the checkpoint an attestation is about (what one operator may sign only once). */
export function checkpointKey(b: AttestationBody): string {
  return `${b.chainId}/${b.adapterId}/${b.configHash.toLowerCase()}/${b.blockNumber}/${b.kind}`
}

/** Identity of what is attested at that checkpoint. */
export function contentKey(b: AttestationBody): string {
  return `${b.blockHash.toLowerCase()}/${b.snapshotCid.toString()}/${b.stateRoot.toLowerCase()}/v${b.specVersion}`
}

export async function signAttestation(body: AttestationBody, signer: Address, sign: (digest: Hex) => Promise<Hex>): Promise<SignedAttestation> {
  return { body, signer: signer.toLowerCase() as Address, signature: normalizeV(await sign(attestationDigest(body))) }
}

/** Signers may return v as 0/1; the wire form is always 27/28. */
export function normalizeV(signature: Hex): Hex {
  const v = Number.parseInt(signature.slice(130), 16)
  return v === 0 || v === 1 ? (`${signature.slice(0, 130)}${(v + 27).toString(16)}` as Hex) : signature
}

/** Recover and check the signer of a 65-byte signature over `digest` (low-s only). */
export async function checkSignature(digest: Hex, signature: Hex, signer: Address): Promise<void> {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new ProtocolError('BAD_SIGNATURE', 'signature must be 65 bytes (r || s || v)')
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  if (s > HALF_N) throw new ProtocolError('HIGH_S', 'signature has a high s value (malleable); sign with a canonical low-s signer')
  const v = Number.parseInt(signature.slice(130), 16)
  // 0/1 would be a second valid encoding of the same signature (like high s): only 27/28 exist on the wire.
  if (v !== 27 && v !== 28) throw new ProtocolError('BAD_SIGNATURE', `signature v=${v} is not 27/28`)
  let recovered: string
  try {
    recovered = await recoverAddress({ hash: digest, signature })
  } catch (cause) {
    throw new ProtocolError('BAD_SIGNATURE', 'signature does not recover to any address', { cause })
  }
  if (recovered.toLowerCase() !== signer.toLowerCase()) throw new ProtocolError('BAD_SIGNATURE', `signature is by ${recovered.toLowerCase()}, not the claimed signer ${signer}`)
}

export async function verifyAttestation(a: SignedAttestation): Promise<void> {
  await checkSignature(attestationDigest(a.body), a.signature, a.signer)
}

export function encodeAttestation(a: SignedAttestation): Uint8Array {
  const b = a.body
  return dagCbor.encode({
    type: 'ark.attestation',
    v: ATTESTATION_WIRE_VERSION,
    chainId: b.chainId,
    adapterId: b.adapterId,
    configHash: hexToBytes(b.configHash, 'configHash', 32),
    blockNumber: b.blockNumber,
    blockHash: hexToBytes(b.blockHash, 'blockHash', 32),
    snapshot: b.snapshotCid,
    stateRoot: hexToBytes(b.stateRoot, 'stateRoot', 32),
    specVersion: b.specVersion,
    kind: b.kind,
    signer: hexToBytes(a.signer, 'signer', 20),
    signature: hexToBytes(a.signature, 'signature', 65),
  })
}

export function bytesField(v: unknown, len: number, what: string): Hex {
  if (!(v instanceof Uint8Array) || v.length !== len) throw new ProtocolError('MALFORMED', `${what} must be ${len} bytes`)
  return bytesToHex(v)
}

export const U64 = (1n << 64n) - 1n

export function uintField(v: unknown, what: string, max: bigint): bigint {
  const x = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v
  if (typeof x !== 'bigint' || x < 0n || x > max) throw new ProtocolError('MALFORMED', `${what} must be an integer in [0, ${max}]`)
  return x
}

export function checkAdapterId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new ProtocolError('MALFORMED', 'adapterId must be a string of 1-64 characters')
}

export const ATTESTATION_WIRE: WireShape = {
  name: 'attestation',
  maxBytes: MAX_ATTESTATION_BYTES,
  fields: ['adapterId', 'blockHash', 'blockNumber', 'chainId', 'configHash', 'kind', 'signature', 'signer', 'snapshot', 'specVersion', 'stateRoot', 'type', 'v'],
  type: 'ark.attestation',
  version: ATTESTATION_WIRE_VERSION,
}

/** Decode a wire attestation through the strict envelope (wire/envelope.ts). */
export function decodeAttestation(bytes: Uint8Array): SignedAttestation {
  return decodeWire(bytes, ATTESTATION_WIRE, attestationFromValue, encodeAttestation)
}

/** The signed fields of an attestation or certificate map (envelope step 7). */
export function bodyFromValue(v: Record<string, unknown>): AttestationBody {
  checkAdapterId(v.adapterId)
  const cid = CID.asCID(v.snapshot)
  if (cid === null) throw new ProtocolError('MALFORMED', 'snapshot must be a CID link')
  return {
    chainId: uintField(v.chainId, 'chainId', U64),
    adapterId: v.adapterId,
    configHash: bytesField(v.configHash, 32, 'configHash'),
    blockNumber: uintField(v.blockNumber, 'blockNumber', U64),
    blockHash: bytesField(v.blockHash, 32, 'blockHash'),
    snapshotCid: cid,
    stateRoot: bytesField(v.stateRoot, 32, 'stateRoot'),
    specVersion: Number(uintField(v.specVersion, 'specVersion', 0xffffffffn)),
    kind: Number(uintField(v.kind, 'kind', BigInt(MAX_CHECKPOINT_KIND))),
  }
}

/** An attestation map (on its own or inline in evidence): envelope steps 3–7. */
export function attestationFromValue(v: unknown): SignedAttestation {
  checkShape(v, ATTESTATION_WIRE)
  return {
    body: bodyFromValue(v),
    signer: bytesField(v.signer, 20, 'signer') as Address,
    signature: bytesField(v.signature, 65, 'signature'),
  }
}
