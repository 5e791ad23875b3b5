import { readFileSync } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { keccak256, recoverAddress, toBytes, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { alertKindNames, conditionKey, decodeAlert, emergencyBlock, encodeAlert, isEmergencyKind, signAlert, verifyAlert, type AlertBody, type SignedAlert } from '../../protocol/alert.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import { decodeEmergency, emergencyFrom, verifyEmergency } from '../../protocol/emergency.ts'
import { validateAlert, type AlertValidatorContext } from '../../protocol/gossip/validate-alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { computeAlertVectors, alertBodyFromJSON, type AlertVectorInputs, type AlertVectorOutputs } from './alert-vectors.ts'
import { addr, ADAPTER_ID, body as attBody, CHAIN_ID, CONFIG_HASH, expectReason, fourOperators, hex32, highS, OP, OUTSIDER, sign as signAtt } from './support.ts'

const file = JSON.parse(readFileSync(new URL('../vectors/alert-v1.json', import.meta.url), 'utf8')) as { _note: string; inputs: AlertVectorInputs; outputs: AlertVectorOutputs }
const PARAMS: Hex = `0x${'44'.repeat(32)}`
const FEED = '0x00000000000000000000000000000000000000fe' as Address

function alertBody(over: Partial<AlertBody> = {}): AlertBody {
  return { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, paramsHash: PARAMS, kind: 'oracle-stale', subject: FEED, sinceBlock: 1000n, block: 1005n, values: [7n, 2000n * 10n ** 8n, 1_700_000_000n, 1_700_003_601n, 3600n], ...over }
}
const signA = (b: AlertBody, account = OP[0]!): Promise<SignedAlert> => signAlert(b, addr(account), (d) => account.sign({ hash: d }))

function ctx(over: Partial<AlertValidatorContext> = {}): AlertValidatorContext {
  return { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, paramsHash: PARAMS, operators: fourOperators(), finalizedHead: 1010n, maxAheadBlocks: 100n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n }, ...over }
}

describe('alert-v1 golden vectors', () => {
  it('has the never-edit header and honest inputs', () => {
    expect(file._note).toMatch(/NEVER EDITED/)
    for (const k of file.inputs.keys) {
      expect(k.privateKey).toBe(keccak256(toBytes(k.seed)))
      expect(privateKeyToAccount(k.privateKey).address.toLowerCase()).toBe(k.address)
    }
  })

  it('recomputes every output byte for byte', async () => {
    expect(await computeAlertVectors(file.inputs)).toEqual(file.outputs)
  })

  it('stored bytes decode, verify, and name the documented condition and block', async () => {
    const o = file.outputs
    expect((await recoverAddress({ hash: o.digest, signature: o.signature })).toLowerCase()).toBe(file.inputs.keys[0]!.address)
    const a = decodeAlert(hexToBytes(o.alert))
    await verifyAlert(a)
    expect(a.body).toEqual(alertBodyFromJSON(file.inputs.body))
    expect(conditionKey(a.body)).toBe(o.conditionKey)
    expect(emergencyBlock(a.body).toString()).toBe(o.emergencyBlock)
    const r = decodeEmergency(hexToBytes(o.emergency.block))
    expect(r.alerts.map((x) => x.signer)).toEqual([...file.inputs.quorumSigners.map((i) => file.inputs.keys[i]!.address)].sort())
    expect(r.certificate.toString()).toBe(encodeBlock({ ark: file.inputs.certificateSeed }).cid.toString())
  })
})

describe('alert wire format', () => {
  it('round-trips any valid alert to the same bytes; the condition key ignores observation block and values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ kind: fc.constantFrom(...alertKindNames.filter(isEmergencyKind)), since: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), block: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), values: fc.array(fc.bigInt({ min: -(1n << 255n), max: (1n << 255n) - 1n }), { maxLength: 8 }), params: hex32 }),
        async ({ kind, since, block, values, params }) => {
          const b = alertBody({ kind, sinceBlock: since, block, values, paramsHash: params })
          const a = await signA(b)
          const bytes = encodeAlert(a)
          const back = decodeAlert(bytes)
          expect(Buffer.compare(encodeAlert(back), bytes)).toBe(0)
          expect(conditionKey(back.body)).toBe(conditionKey({ ...b, block: 0n, values: [] }))
        },
      ),
      { numRuns: 40 },
    )
  })

  it('refuses local kinds, oversize, unknown fields, other versions and non-canonical bytes', async () => {
    await expectReason(() => signA(alertBody({ kind: 'head-lag' })), 'MALFORMED')
    const bytes = encodeAlert(await signA(alertBody()))
    await expectReason(() => decodeAlert(new Uint8Array(2000)), 'OVERSIZED')
    const m = dagCbor.decode(bytes) as Record<string, unknown>
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, extra: 1 })), 'UNKNOWN_FIELD')
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, v: 2 })), 'BAD_VERSION')
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, kind: 1 })), 'MALFORMED')
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, kind: 99 })), 'MALFORMED')
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, values: [new Uint8Array([0, 5])] })), 'MALFORMED')
    await expectReason(() => decodeAlert(dagCbor.encode({ ...m, values: Array(9).fill(1) })), 'MALFORMED')
  })
})

describe('alert gossip validator', () => {
  it('accepts a valid alert and gives every refusal its code', async () => {
    const good = encodeAlert(await signA(alertBody()))
    expect((await validateAlert(good, ctx())).action).toBe('accept')
    const code = async (bytes: Uint8Array, c = ctx()): Promise<string> => {
      const v = await validateAlert(bytes, c)
      return `${v.action}:${v.action === 'accept' ? 'OK' : v.code}`
    }
    expect(await code(good, ctx({ chainId: 1n }))).toBe('reject:WRONG_CHAIN')
    expect(await code(good, ctx({ configHash: `0x${'99'.repeat(32)}` }))).toBe('reject:WRONG_ADAPTER')
    expect(await code(good, ctx({ paramsHash: `0x${'98'.repeat(32)}` }))).toBe('reject:WRONG_PARAMS')
    expect(await code(good, ctx({ finalizedHead: 10n, maxAheadBlocks: 10n }))).toBe('ignore:TOO_FAR_AHEAD')
    expect(await code(encodeAlert(await signA(alertBody(), OUTSIDER)))).toBe('reject:UNKNOWN_SIGNER')
    const a = await signA(alertBody())
    expect(await code(encodeAlert({ ...a, signature: highS(a.signature) }))).toBe('reject:HIGH_S')
    expect(await code(encodeAlert({ ...a, signer: addr(OP[1]!) }))).toBe('reject:BAD_SIGNATURE')
    expect(await code(good, ctx({ seenAlert: () => true }))).toBe('ignore:DUPLICATE')
    expect(await code(good, ctx({ checkClaim: async () => 'false' }))).toBe('reject:FALSE_ALERT')
    expect(await code(good, ctx({ checkClaim: async () => 'unknown' }))).toBe('accept:OK')
  })
})

describe('emergency records', () => {
  it('verify with a quorum of alerts and the kind-1 certificate of sinceBlock − 1; anything else is refused', async () => {
    const set = fourOperators()
    const b = alertBody()
    const alerts = await Promise.all([OP[2]!, OP[0]!, OP[1]!].map((o) => signA({ ...b, block: 1000n + BigInt(OP.indexOf(o)) }, o)))
    const cert = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => signAtt(attBody({ blockNumber: 999n, kind: 1 }), o))))
    const cid = encodeCertificate(cert).cid
    const rec = emergencyFrom([...alerts, alerts[0]!], cid)
    expect(rec.alerts.map((a) => a.signer)).toEqual(rec.alerts.map((a) => a.signer).sort())
    await expect(verifyEmergency(rec, cert, cid, set)).resolves.toMatchObject({ weight: 3n, conditionKey: conditionKey(b) })
    await expectReason(() => verifyEmergency(emergencyFrom(alerts.slice(0, 2), cid), cert, cid, set), 'BELOW_THRESHOLD')
    const scheduled = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => signAtt(attBody({ blockNumber: 999n, kind: 0 }), o))))
    await expectReason(() => verifyEmergency(emergencyFrom(alerts, encodeCertificate(scheduled).cid), scheduled, encodeCertificate(scheduled).cid, set), 'MISMATCH')
    const elsewhere = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => signAtt(attBody({ blockNumber: 1000n, kind: 1 }), o))))
    await expectReason(() => verifyEmergency(emergencyFrom(alerts, encodeCertificate(elsewhere).cid), elsewhere, encodeCertificate(elsewhere).cid, set), 'MISMATCH')
    const other = await signA({ ...b, sinceBlock: 1001n }, OP[3]!)
    await expectReason(() => emergencyFrom([...alerts, other], cid), 'MISMATCH')
  })
})
