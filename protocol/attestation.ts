import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { hashTypedData, recoverAddress, type Hex } from 'viem'
import { bytesToHex, hexToBytes } from '../snapshot/codec/hex.ts'
import { arkDomain, ATTESTATION_TYPES } from './eip712.ts'
import { ProtocolError } from './errors.ts'
import type { Address } from './operator-set.ts'

export const ATTESTATION_WIRE_VERSION = 1
/** Checked on the raw bytes before decoding anything. */
export const MAX_ATTESTATION_BYTES = 1024

export const CHECKPOINT_KIND = { scheduled: 0, emergency: 1 } as const

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

/** The EIP-712 digest an operator signs. */
export function attestationDigest(b: AttestationBody): Hex {
  return hashTypedData({ domain: arkDomain(b.chainId), types: ATTESTATION_TYPES, primaryType: 'Attestation', message: typedMessage(b) as never })
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

const FIELDS = ['adapterId', 'blockHash', 'blockNumber', 'chainId', 'configHash', 'kind', 'signature', 'signer', 'snapshot', 'specVersion', 'stateRoot', 'type', 'v']

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

export function uintField(v: unknown, what: string, max: bigint): bigint {
  const x = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v
  if (typeof x !== 'bigint' || x < 0n || x > max) throw new ProtocolError('MALFORMED', `${what} must be an integer in [0, ${max}]`)
  return x
}

export function checkAdapterId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new ProtocolError('MALFORMED', 'adapterId must be a string of 1-64 characters')
}

/** Decode a wire attestation: size first, then strict dag-cbor, exact field set, canonical bytes. */
export function decodeAttestation(bytes: Uint8Array): SignedAttestation {
  if (bytes.length > MAX_ATTESTATION_BYTES) throw new ProtocolError('OVERSIZED', `attestation is ${bytes.length} bytes, over the ${MAX_ATTESTATION_BYTES}-byte limit`)
  let v: Record<string, unknown>
  try {
    v = dagCbor.decode(bytes) as Record<string, unknown>
  } catch (cause) {
    throw new ProtocolError('MALFORMED', 'attestation is not valid dag-cbor', { cause })
  }
  return attestationFromValue(v, bytes)
}

export function attestationFromValue(v: Record<string, unknown>, bytes?: Uint8Array): SignedAttestation {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('MALFORMED', 'attestation must be a map')
  const keys = Object.keys(v).sort()
  if (keys.join() !== FIELDS.join()) throw new ProtocolError('UNKNOWN_FIELD', `attestation fields must be exactly ${FIELDS.join(', ')}`)
  if (v.type !== 'ark.attestation') throw new ProtocolError('MALFORMED', 'type is not ark.attestation')
  if (v.v !== ATTESTATION_WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `attestation wire version ${String(v.v)} is not supported (this node speaks ${ATTESTATION_WIRE_VERSION})`)
  checkAdapterId(v.adapterId)
  const cid = CID.asCID(v.snapshot)
  if (cid === null) throw new ProtocolError('MALFORMED', 'snapshot must be a CID link')
  const a: SignedAttestation = {
    body: {
      chainId: uintField(v.chainId, 'chainId', (1n << 64n) - 1n),
      adapterId: v.adapterId,
      configHash: bytesField(v.configHash, 32, 'configHash'),
      blockNumber: uintField(v.blockNumber, 'blockNumber', (1n << 64n) - 1n),
      blockHash: bytesField(v.blockHash, 32, 'blockHash'),
      snapshotCid: cid,
      stateRoot: bytesField(v.stateRoot, 32, 'stateRoot'),
      specVersion: Number(uintField(v.specVersion, 'specVersion', 0xffffffffn)),
      kind: Number(uintField(v.kind, 'kind', 1n)),
    },
    signer: bytesField(v.signer, 20, 'signer') as Address,
    signature: bytesField(v.signature, 65, 'signature'),
  }
  if (bytes !== undefined && Buffer.compare(encodeAttestation(a), bytes) !== 0) throw new ProtocolError('MALFORMED', 'attestation is not canonically encoded')
  return a
}
