import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidOf, type Block } from '../snapshot/codec/block.ts'
import { alertFromValue, alertValue, conditionKey, emergencyBlock, verifyAlert, type SignedAlert } from './alert.ts'
import { CHECKPOINT_KIND } from './attestation.ts'
import type { Certificate } from './certificate.ts'
import { ProtocolError } from './errors.ts'
import { signedWeight, type Address, type OperatorSet } from './operator-set.ts'
import { decodeWire, type WireShape } from './wire/envelope.ts'

export const EMERGENCY_VERSION = 1
export const MAX_EMERGENCY_BYTES = 64 * 1024

/**
 * The link between an emergency certificate and the condition that caused it
 * (PROTOCOL.md §12.4). It needs no signature of its own: it carries the
 * operators' signed alerts for one condition key (a quorum of weight, sorted
 * by signer) and links the kind-1 certificate of `emergencyBlock(key)`, so
 * anyone with the operator set can check both halves. Fetching its CID from
 * a gateway (dag-scope=all) yields alerts, certificate and snapshot at once.
 */
export interface EmergencyRecord {
  alerts: SignedAlert[]
  /** CID of the emergency (kind 1) certificate block */
  certificate: CID
}

/** Union of alerts for one key, deduplicated and sorted by signer: a pure function of the set. */
export function emergencyFrom(alerts: readonly SignedAlert[], certificate: CID): EmergencyRecord {
  if (alerts.length === 0) throw new ProtocolError('BELOW_THRESHOLD', 'an emergency record needs at least one alert')
  const key = conditionKey(alerts[0]!.body)
  const bySigner = new Map<Address, SignedAlert>()
  for (const a of alerts) {
    if (conditionKey(a.body) !== key) throw new ProtocolError('MISMATCH', 'alerts of one emergency record must share the condition key')
    const s = a.signer.toLowerCase() as Address
    if (!bySigner.has(s)) bySigner.set(s, a)
  }
  return { alerts: [...bySigner].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, a]) => a), certificate }
}

export function encodeEmergency(r: EmergencyRecord): Block {
  const bytes = dagCbor.encode({ type: 'ark.emergency', v: EMERGENCY_VERSION, alerts: r.alerts.map(alertValue), certificate: r.certificate })
  return { cid: cidOf(bytes), bytes }
}

export const EMERGENCY_WIRE: WireShape = { name: 'emergency record', maxBytes: MAX_EMERGENCY_BYTES, fields: ['alerts', 'certificate', 'type', 'v'], type: 'ark.emergency', version: EMERGENCY_VERSION }

/** Decode an emergency record through the strict envelope; its alerts are checked inline (steps 3–7). */
export function decodeEmergency(bytes: Uint8Array): EmergencyRecord {
  return decodeWire(bytes, EMERGENCY_WIRE, emergencyFromValue, (r) => encodeEmergency(r).bytes)
}

function emergencyFromValue(v: Record<string, unknown>): EmergencyRecord {
  const certificate = CID.asCID(v.certificate)
  if (certificate === null) throw new ProtocolError('MALFORMED', 'emergency record certificate must be a CID link')
  if (!Array.isArray(v.alerts)) throw new ProtocolError('MALFORMED', 'emergency record alerts must be a list')
  return { alerts: v.alerts.map((a: unknown) => alertFromValue(a)), certificate }
}

/**
 * Check a record against the operator set and its certificate: signers
 * strictly increasing and known, every alert valid and for one key, weight at
 * least the threshold, and the certificate an emergency one at exactly
 * `emergencyBlock(key)` of the same chain, adapter and configuration.
 */
export async function verifyEmergency(r: EmergencyRecord, certificate: Certificate, certificateCid: CID, set: OperatorSet): Promise<{ weight: bigint; conditionKey: string }> {
  if (r.alerts.length === 0) throw new ProtocolError('BELOW_THRESHOLD', 'no alerts')
  const key = conditionKey(r.alerts[0]!.body)
  let prev = ''
  for (const a of r.alerts) {
    const s = a.signer.toLowerCase()
    if (s <= prev) throw new ProtocolError(s === prev ? 'DUPLICATE_SIGNER' : 'UNSORTED', `alert signers must be strictly increasing (${s} after ${prev})`)
    prev = s
    if (conditionKey(a.body) !== key) throw new ProtocolError('MISMATCH', 'alerts are about different conditions')
    if (!set.weights.has(s as Address)) throw new ProtocolError('UNKNOWN_SIGNER', `alert signed by ${s}, who is not in the operator set`)
    await verifyAlert(a)
  }
  const weight = signedWeight(set, r.alerts.map((a) => a.signer))
  if (weight < set.threshold) throw new ProtocolError('BELOW_THRESHOLD', `alerts carry weight ${weight}, below the threshold ${set.threshold}`)
  if (!r.certificate.equals(certificateCid)) throw new ProtocolError('MISMATCH', 'the record links another certificate')
  const b = r.alerts[0]!.body
  const c = certificate.body
  if (c.kind !== CHECKPOINT_KIND.emergency) throw new ProtocolError('MISMATCH', 'the linked certificate is not an emergency checkpoint')
  if (c.blockNumber !== emergencyBlock(b)) throw new ProtocolError('MISMATCH', `the certificate is for block ${c.blockNumber}, the condition's emergency block is ${emergencyBlock(b)}`)
  if (c.chainId !== b.chainId) throw new ProtocolError('WRONG_CHAIN', 'certificate and alerts are for different chains')
  if (c.adapterId !== b.adapterId || c.configHash.toLowerCase() !== b.configHash.toLowerCase()) throw new ProtocolError('WRONG_ADAPTER', 'certificate and alerts are for different adapters')
  return { weight, conditionKey: key }
}
