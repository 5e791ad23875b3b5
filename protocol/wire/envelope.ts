import * as dagCbor from '@ipld/dag-cbor'
import { ProtocolError } from '../errors.ts'

/**
 * The one strict wire envelope (PROTOCOL.md §7.1). Every message a peer
 * sends — attestation, certificate, evidence, alert, emergency record,
 * catch-up request and page — is opened here, in one order, so one fault
 * gets one reject code whatever the message:
 *
 *   1. size cap on the raw bytes, before any decoding   → OVERSIZED
 *   2. strict dag-cbor decode                           → MALFORMED
 *   3. a map                                            → MALFORMED
 *   4. exactly the required keys (plus allowed optional) → UNKNOWN_FIELD
 *   5. `type` (when the message has one)                → MALFORMED
 *   6. `v` (when the message has one)                   → BAD_VERSION
 *   7. the message's own field checks                    → MALFORMED (or its own code)
 *   8. canonical: re-encoding gives the input bytes      → MALFORMED
 *
 * Messages carried inline in another (the attestations of evidence, the
 * alerts of an emergency record) go through steps 3–7 with `checkShape`; the
 * outer message's step 8 covers their bytes.
 */
export interface WireShape {
  /** what the message is called in errors ("attestation", "catch-up request") */
  readonly name: string
  /** raw byte cap, checked first */
  readonly maxBytes: number
  /** keys every message has (including `type` and `v` when it has them) */
  readonly fields: readonly string[]
  /** keys a message may leave out */
  readonly optional?: readonly string[]
  /** the value of its `type` key, if it has one */
  readonly type?: string
  /** the value of its `v` key, if it has one */
  readonly version?: number
}

/** Steps 3–6 on an already decoded value. */
export function checkShape(v: unknown, shape: WireShape): asserts v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new ProtocolError('MALFORMED', `${shape.name} must be a map`)
  const optional = shape.optional ?? []
  const keys = Object.keys(v)
  const required = shape.fields.every((k) => k in v)
  if (!required || keys.some((k) => !shape.fields.includes(k) && !optional.includes(k))) {
    const allowed = optional.length === 0 ? shape.fields.join(', ') : `${shape.fields.join(', ')} (optional: ${optional.join(', ')})`
    throw new ProtocolError('UNKNOWN_FIELD', `${shape.name} fields must be exactly ${allowed}`)
  }
  const m = v as Record<string, unknown>
  if (shape.type !== undefined && m.type !== shape.type) throw new ProtocolError('MALFORMED', `type is not ${shape.type}`)
  if (shape.version !== undefined && m.v !== shape.version) throw new ProtocolError('BAD_VERSION', `${shape.name} wire version ${String(m.v)} is not supported (this node speaks ${shape.version})`)
}

/** Steps 1–6: the checked map. */
export function openWire(bytes: Uint8Array, shape: WireShape): Record<string, unknown> {
  if (bytes.length > shape.maxBytes) throw new ProtocolError('OVERSIZED', `${shape.name} is ${bytes.length} bytes, over the ${shape.maxBytes}-byte limit`)
  let v: unknown
  try {
    v = dagCbor.decode(bytes)
  } catch (cause) {
    throw new ProtocolError('MALFORMED', `${shape.name} is not valid dag-cbor`, { cause })
  }
  checkShape(v, shape)
  return v
}

/** Step 8. */
export function checkCanonical(bytes: Uint8Array, reencoded: Uint8Array, shape: Pick<WireShape, 'name'>): void {
  if (Buffer.compare(reencoded, bytes) !== 0) throw new ProtocolError('MALFORMED', `${shape.name} is not canonically encoded`)
}

/** All eight steps: `build` checks the fields (step 7), `encode` re-encodes the result (step 8). */
export function decodeWire<T>(bytes: Uint8Array, shape: WireShape, build: (v: Record<string, unknown>) => T, encode: (value: T) => Uint8Array): T {
  const value = build(openWire(bytes, shape))
  checkCanonical(bytes, encode(value), shape)
  return value
}
