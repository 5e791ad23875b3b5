/**
 * Issue 16: one strict wire envelope (protocol/wire/envelope.ts). Every message kind a peer sends is
 * opened in one order, so one fault gets one code whatever the message. Fails on the old decoders:
 * a certificate with an extra key and another `type` said MALFORMED (type was checked before the key
 * set), evidence answered MALFORMED for a wrong version or key set (attestations: BAD_VERSION,
 * UNKNOWN_FIELD), and catch-up messages had no codes at all.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { beforeAll, describe, expect, it } from 'vitest'
import { ALERT_WIRE, decodeAlert, encodeAlert, signAlert } from '../../protocol/alert.ts'
import { ATTESTATION_WIRE, decodeAttestation, encodeAttestation } from '../../protocol/attestation.ts'
import { CATCHUP_PAGE_WIRE, CATCHUP_REQUEST_WIRE, decodeCatchupPage, decodeCatchupRequest, encodeCatchupPage, encodeCatchupRequest } from '../../protocol/catchup.ts'
import { CERTIFICATE_WIRE, certificateFrom, decodeCertificate, encodeCertificate } from '../../protocol/certificate.ts'
import { decodeEmergency, EMERGENCY_WIRE, emergencyFrom, encodeEmergency } from '../../protocol/emergency.ts'
import type { RejectCode } from '../../protocol/errors.ts'
import { decodeEvidence, encodeEvidence, EVIDENCE_WIRE } from '../../protocol/evidence.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { WireShape } from '../../protocol/wire/envelope.ts'
import { addr, body, expectReason, OP, sign, SNAPSHOT_B } from './support.ts'

interface Kind {
  shape: WireShape
  good: Uint8Array
  decode: (bytes: Uint8Array) => unknown
}

const kinds: Kind[] = []

beforeAll(async () => {
  const a = await sign(body(), OP[0]!)
  const b = await sign(body({ snapshotCid: SNAPSHOT_B }), OP[0]!)
  const cert = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => sign(body({ blockNumber: 999n, kind: 1 }), o))))
  const alertBody = { chainId: a.body.chainId, adapterId: a.body.adapterId, configHash: a.body.configHash, paramsHash: `0x${'44'.repeat(32)}` as const, kind: 'oracle-stale' as const, subject: '0x00000000000000000000000000000000000000fe' as Address, sinceBlock: 1000n, block: 1005n, values: [7n] }
  const alert = await signAlert(alertBody, addr(OP[0]!), (d) => OP[0]!.sign({ hash: d }))
  kinds.push(
    { shape: ATTESTATION_WIRE, good: encodeAttestation(a), decode: decodeAttestation },
    { shape: CERTIFICATE_WIRE, good: encodeCertificate(cert).bytes, decode: decodeCertificate },
    { shape: EVIDENCE_WIRE, good: encodeEvidence({ a, b }), decode: decodeEvidence },
    { shape: ALERT_WIRE, good: encodeAlert(alert), decode: decodeAlert },
    { shape: EMERGENCY_WIRE, good: encodeEmergency(emergencyFrom([alert], encodeCertificate(cert).cid)).bytes, decode: decodeEmergency },
    { shape: CATCHUP_REQUEST_WIRE, good: encodeCatchupRequest(5n, 10), decode: (x) => decodeCatchupRequest(x) },
    { shape: CATCHUP_PAGE_WIRE, good: encodeCatchupPage({ certificates: [encodeCertificate(cert).bytes], next: 1000n }), decode: (x) => decodeCatchupPage(x, { from: 5n, limit: 10 }) },
  )
})

const faults: { name: string; code: RejectCode; make: (k: Kind, m: Record<string, unknown>) => Uint8Array | undefined }[] = [
  { name: 'over the size cap', code: 'OVERSIZED', make: (k) => new Uint8Array(k.shape.maxBytes + 1) },
  { name: 'not dag-cbor', code: 'MALFORMED', make: () => Uint8Array.of(0xff, 0x00) },
  { name: 'not a map', code: 'MALFORMED', make: () => dagCbor.encode([1, 2]) },
  { name: 'an extra key', code: 'UNKNOWN_FIELD', make: (_, m) => dagCbor.encode({ ...m, zz: 1 }) },
  { name: 'a missing key', code: 'UNKNOWN_FIELD', make: (k, m) => dagCbor.encode(Object.fromEntries(Object.entries(m).filter(([key]) => key !== k.shape.fields[0]))) },
  { name: 'an extra key and another type', code: 'UNKNOWN_FIELD', make: (k, m) => (k.shape.type === undefined ? undefined : dagCbor.encode({ ...m, zz: 1, type: 'ark.other' })) },
  { name: 'another type', code: 'MALFORMED', make: (k, m) => (k.shape.type === undefined ? undefined : dagCbor.encode({ ...m, type: 'ark.other' })) },
  { name: 'another version', code: 'BAD_VERSION', make: (k, m) => (k.shape.version === undefined ? undefined : dagCbor.encode({ ...m, v: k.shape.version + 1 })) },
  { name: 'another version and another type', code: 'MALFORMED', make: (k, m) => (k.shape.type === undefined ? undefined : dagCbor.encode({ ...m, v: 99, type: 'ark.other' })) },
  { name: 'a trailing byte', code: 'MALFORMED', make: (k) => Buffer.concat([k.good, Uint8Array.of(0)]) },
]

describe('one strict wire envelope', () => {
  it('every kind decodes its own good bytes', () => {
    for (const k of kinds) expect(() => k.decode(k.good), k.shape.name).not.toThrow()
  })

  for (const f of faults) {
    it(`${f.name} → ${f.code}, for every message kind`, async () => {
      for (const k of kinds) {
        const bytes = f.make(k, dagCbor.decode(k.good) as Record<string, unknown>)
        if (bytes === undefined) continue
        try {
          await expectReason(() => k.decode(bytes), f.code)
        } catch (err) {
          throw new Error(`${k.shape.name}: ${(err as Error).message}`)
        }
      }
    })
  }
})
