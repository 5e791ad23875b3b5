import { ArkError, type ArkErrorOptions } from '../snapshot/ark-error.ts'

/** Why a protocol message or certificate was refused (bounded: used as a metrics label). */
export const rejectCodes = [
  'OVERSIZED',
  'MALFORMED',
  'UNKNOWN_FIELD',
  'BAD_VERSION',
  'BAD_SIGNATURE',
  'HIGH_S',
  'UNKNOWN_SIGNER',
  'WRONG_CHAIN',
  'WRONG_ADAPTER',
  'TOO_FAR_AHEAD',
  'TOO_OLD',
  'DUPLICATE_SIGNER',
  'BELOW_THRESHOLD',
  'MISMATCH',
  'UNSORTED',
  // a regular attestation, certificate or evidence for a block that is not a checkpoint of the schedule (§7)
  'OFF_SCHEDULE',
  // watchdog alerts (PROTOCOL.md §12)
  'WRONG_PARAMS',
  'FALSE_ALERT',
] as const
export type RejectCode = (typeof rejectCodes)[number]

export class ProtocolError extends ArkError {
  override readonly name = 'ProtocolError'
  readonly reason: RejectCode
  constructor(reason: RejectCode, message: string, options: ArkErrorOptions = {}) {
    super('INVALID_INPUT', message, options)
    this.reason = reason
  }
}
