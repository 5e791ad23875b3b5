import * as dagCbor from '@ipld/dag-cbor'
import type { Hex } from 'viem'
import { cidOf, type Block } from '../snapshot/codec/block.ts'
import { hexToBytes } from '../snapshot/codec/hex.ts'
import { attestationDigest, bodyFromValue, bytesField, checkSignature, contentKey, typedMessage, type AttestationBody, type SignedAttestation } from './attestation.ts'
import { arkDomain, ATTESTATION_TYPES, EIP712_DOMAIN_TYPE } from './eip712.ts'
import { ProtocolError } from './errors.ts'
import { signedWeight, type Address, type OperatorSet } from './operator-set.ts'
import { decodeWire, type WireShape } from './wire/envelope.ts'

export const CERTIFICATE_VERSION = 1
export const MAX_CERTIFICATE_BYTES = 64 * 1024

/** The attested fields plus distinct operators' signatures reaching the threshold, sorted by signer. */
export interface Certificate {
  body: AttestationBody
  signatures: { signer: Address; signature: Hex }[]
}

/** Build from attestations of the same content; sorts and dedupes signers. */
export function certificateFrom(atts: readonly SignedAttestation[]): Certificate {
  if (atts.length === 0) throw new ProtocolError('BELOW_THRESHOLD', 'a certificate needs at least one attestation')
  const key = contentKey(atts[0]!.body)
  const bySigner = new Map<Address, Hex>()
  for (const a of atts) {
    if (contentKey(a.body) !== key || attestationDigest(a.body) !== attestationDigest(atts[0]!.body)) throw new ProtocolError('MISMATCH', 'attestations for a certificate must sign the same content')
    bySigner.set(a.signer.toLowerCase() as Address, a.signature)
  }
  return { body: atts[0]!.body, signatures: [...bySigner].sort(([a], [b]) => (a < b ? -1 : 1)).map(([signer, signature]) => ({ signer, signature })) }
}

/** dag-cbor block that links to the snapshot root: one CID fetches certificate and state. */
export function encodeCertificate(c: Certificate): Block {
  const b = c.body
  const bytes = dagCbor.encode({
    type: 'ark.certificate',
    v: CERTIFICATE_VERSION,
    chainId: b.chainId,
    adapterId: b.adapterId,
    configHash: hexToBytes(b.configHash),
    blockNumber: b.blockNumber,
    blockHash: hexToBytes(b.blockHash),
    snapshot: b.snapshotCid,
    stateRoot: hexToBytes(b.stateRoot),
    specVersion: b.specVersion,
    kind: b.kind,
    signatures: c.signatures.map((s) => [hexToBytes(s.signer), hexToBytes(s.signature)]),
  })
  return { cid: cidOf(bytes), bytes }
}

export const CERTIFICATE_WIRE: WireShape = {
  name: 'certificate',
  maxBytes: MAX_CERTIFICATE_BYTES,
  fields: ['adapterId', 'blockHash', 'blockNumber', 'chainId', 'configHash', 'kind', 'signatures', 'snapshot', 'specVersion', 'stateRoot', 'type', 'v'],
  type: 'ark.certificate',
  version: CERTIFICATE_VERSION,
}

/** Decode a certificate block through the strict envelope (wire/envelope.ts). */
export function decodeCertificate(bytes: Uint8Array): Certificate {
  return decodeWire(bytes, CERTIFICATE_WIRE, certificateFromValue, (c) => encodeCertificate(c).bytes)
}

function certificateFromValue(v: Record<string, unknown>): Certificate {
  const body = bodyFromValue(v)
  if (!Array.isArray(v.signatures)) throw new ProtocolError('MALFORMED', 'signatures must be a list')
  const signatures = (v.signatures as unknown[]).map((s) => {
    if (!Array.isArray(s) || s.length !== 2) throw new ProtocolError('MALFORMED', 'signature entry must be [signer(20), signature(65)]')
    return { signer: bytesField(s[0], 20, 'signature entry signer') as Address, signature: bytesField(s[1], 65, 'signature entry signature') }
  })
  return { body, signatures }
}

/**
 * The checks that need no operator set (cheap, no I/O): signers strictly
 * increasing (so each counts once) and every signature valid, low-s and by
 * its claimed signer (recovered from the signature).
 */
export async function checkCertificateSignatures(c: Certificate): Promise<void> {
  const digest = attestationDigest(c.body)
  let prev = ''
  for (const s of c.signatures) {
    const signer = s.signer.toLowerCase()
    if (signer <= prev) throw new ProtocolError(signer === prev ? 'DUPLICATE_SIGNER' : 'UNSORTED', `certificate signers must be strictly increasing (${signer} after ${prev})`)
    prev = signer
    await checkSignature(digest, s.signature, s.signer)
  }
}

/** Every (already recovered) signer known to the set, and their weight at least its threshold. */
export function checkCertificateQuorum(c: Certificate, set: OperatorSet): { weight: bigint } {
  for (const s of c.signatures) if (!set.weights.has(s.signer.toLowerCase() as Address)) throw new ProtocolError('UNKNOWN_SIGNER', `certificate is signed by ${s.signer.toLowerCase()}, who is not in the operator set`)
  const weight = signedWeight(set, c.signatures.map((s) => s.signer))
  if (weight < set.threshold) throw new ProtocolError('BELOW_THRESHOLD', `certificate carries weight ${weight}, below the threshold ${set.threshold} of ${set.totalWeight}`)
  return { weight }
}

/** Verify with the operator set alone: checkCertificateSignatures, then checkCertificateQuorum. */
export async function verifyCertificate(c: Certificate, set: OperatorSet): Promise<{ weight: bigint }> {
  await checkCertificateSignatures(c)
  return checkCertificateQuorum(c, set)
}

/** Self-describing JSON: any EIP-712 library can check each signature from this alone. */
export function certificateJSON(c: Certificate): Record<string, unknown> {
  const m = typedMessage(c.body)
  return {
    certificate: encodeCertificate(c).cid.toString(),
    snapshot: c.body.snapshotCid.toString(),
    domain: { ...arkDomain(c.body.chainId), chainId: c.body.chainId.toString() },
    types: { EIP712Domain: EIP712_DOMAIN_TYPE, ...ATTESTATION_TYPES },
    primaryType: 'Attestation',
    message: { ...m, chainId: c.body.chainId.toString(), blockNumber: c.body.blockNumber.toString() },
    signatures: c.signatures,
  }
}
