import * as dagCbor from '@ipld/dag-cbor'
import { attestationFromValue, checkpointKey, contentKey, encodeAttestation, verifyAttestation, type SignedAttestation } from './attestation.ts'
import { ProtocolError } from './errors.ts'

export const MAX_EVIDENCE_BYTES = 4096

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
  return dagCbor.encode({ type: 'ark.evidence', v: 1, a: dagCbor.decode(first), b: dagCbor.decode(second) })
}

export function decodeEvidence(bytes: Uint8Array): Evidence {
  if (bytes.length > MAX_EVIDENCE_BYTES) throw new ProtocolError('OVERSIZED', `evidence is ${bytes.length} bytes, over ${MAX_EVIDENCE_BYTES}`)
  let v: Record<string, unknown>
  try {
    v = dagCbor.decode(bytes) as Record<string, unknown>
  } catch (cause) {
    throw new ProtocolError('MALFORMED', 'evidence is not valid dag-cbor', { cause })
  }
  if (v?.type !== 'ark.evidence' || v.v !== 1 || Object.keys(v).length !== 4) throw new ProtocolError('MALFORMED', 'not an ark.evidence v1 message')
  const e = { a: attestationFromValue(v.a as Record<string, unknown>), b: attestationFromValue(v.b as Record<string, unknown>) }
  if (Buffer.compare(encodeEvidence(e), bytes) !== 0) throw new ProtocolError('MALFORMED', 'evidence is not canonically encoded')
  return e
}
