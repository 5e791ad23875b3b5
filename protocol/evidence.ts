import * as dagCbor from '@ipld/dag-cbor'
import { attestationFromValue, checkpointKey, contentKey, encodeAttestation, verifyAttestation, type SignedAttestation } from './attestation.ts'
import { ProtocolError } from './errors.ts'
import { decodeWire, type WireShape } from './wire/envelope.ts'

export const MAX_EVIDENCE_BYTES = 4096
export const EVIDENCE_VERSION = 1

/**
 * Equivocation: two valid signatures by one operator over different contents
 * for the same checkpoint. Evidence, not a second truth: neither attestation
 * is counted twice, and the pair is kept and gossiped as proof.
 */
export interface Evidence {
  a: SignedAttestation
  b: SignedAttestation
}

export async function checkEvidence(e: Evidence): Promise<void> {
  if (e.a.signer.toLowerCase() !== e.b.signer.toLowerCase()) throw new ProtocolError('MISMATCH', 'evidence attestations are by different signers')
  if (checkpointKey(e.a.body) !== checkpointKey(e.b.body)) throw new ProtocolError('MISMATCH', 'evidence attestations are for different checkpoints')
  if (contentKey(e.a.body) === contentKey(e.b.body)) throw new ProtocolError('MISMATCH', 'evidence attestations sign the same content: not an equivocation')
  await verifyAttestation(e.a)
  await verifyAttestation(e.b)
}

/** Order the pair canonically so the same equivocation always encodes to the same bytes. */
export function encodeEvidence(e: Evidence): Uint8Array {
  const x = encodeAttestation(e.a)
  const y = encodeAttestation(e.b)
  const [first, second] = Buffer.compare(x, y) <= 0 ? [x, y] : [y, x]
  return dagCbor.encode({ type: 'ark.evidence', v: EVIDENCE_VERSION, a: dagCbor.decode(first), b: dagCbor.decode(second) })
}

export const EVIDENCE_WIRE: WireShape = { name: 'evidence', maxBytes: MAX_EVIDENCE_BYTES, fields: ['a', 'b', 'type', 'v'], type: 'ark.evidence', version: EVIDENCE_VERSION }

/** Decode evidence through the strict envelope; its two attestations are checked inline (steps 3–7). */
export function decodeEvidence(bytes: Uint8Array): Evidence {
  return decodeWire(bytes, EVIDENCE_WIRE, (v) => ({ a: attestationFromValue(v.a), b: attestationFromValue(v.b) }), encodeEvidence)
}
