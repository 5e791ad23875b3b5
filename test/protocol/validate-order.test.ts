/**
 * Issue 10 items 1, 2 and 4 on the validators (protocol/gossip/validate.ts): the checkpoint schedule,
 * the emergency-block predicate, the one check order (no operator-set lookup — RPC in registry mode —
 * before the cheap checks and signature recovery), and our own dependency failures never blamed on a
 * peer. Each test says which part fails on the code before the change.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeAttestation, type SignedAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import { encodeEvidence } from '../../protocol/evidence.ts'
import { validateAttestation, validateCertificate, validateEvidence, type ValidatorContext } from '../../protocol/gossip/validate.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { ADAPTER_ID, addr, body, CHAIN_ID, CONFIG_HASH, fourOperators, OP, OUTSIDER, sign, SNAPSHOT_B } from './support.ts'

/** Checkpoints every 100 blocks from 500; window [500, 1000 + 464]. */
function ctx(over: Partial<ValidatorContext> = {}): ValidatorContext {
  return { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: 1000n, maxAheadBlocks: 4n * 100n + 64n, oldestBlock: 500n, schedule: { interval: 100n, first: 500n }, ...over }
}

const code = (v: { action: string; code?: string }): string => `${v.action}:${v.action === 'accept' ? 'OK' : v.code}`

describe('the checkpoint schedule (issue 10 item 1)', () => {
  // Fails on the old validator: every block in the window was accepted, so one key could open ~2,000
  // checkpoints per interval in every aggregator.
  it('accepts a regular attestation only at a checkpoint block, from the first checkpoint on', async () => {
    expect(code(await validateAttestation(encodeAttestation(await sign(body({ blockNumber: 1000n }), OP[0]!)), ctx()))).toBe('accept:OK')
    expect(code(await validateAttestation(encodeAttestation(await sign(body({ blockNumber: 1001n }), OP[0]!)), ctx()))).toBe('reject:OFF_SCHEDULE')
    expect(code(await validateAttestation(encodeAttestation(await sign(body({ blockNumber: 1300n }), OP[0]!)), ctx()))).toBe('accept:OK')
    expect(code(await validateAttestation(encodeAttestation(await sign(body({ blockNumber: 1000n }), OP[0]!)), ctx({ schedule: { interval: 100n, first: 1100n } })))).toBe('reject:OFF_SCHEDULE')
    // the window is still checked first: far ahead is ignored, not rejected (our head may lag)
    expect(code(await validateAttestation(encodeAttestation(await sign(body({ blockNumber: 1501n }), OP[0]!)), ctx()))).toBe('ignore:TOO_FAR_AHEAD')
  })

  it('applies the schedule to certificates and evidence too', async () => {
    const atts = await Promise.all(OP.slice(0, 3).map((a) => sign(body({ blockNumber: 1050n }), a)))
    expect(code(await validateCertificate(encodeCertificate(certificateFrom(atts)).bytes, ctx()))).toBe('reject:OFF_SCHEDULE')
    const pair = encodeEvidence({ a: atts[0]!, b: await sign(body({ blockNumber: 1050n, snapshotCid: SNAPSHOT_B }), OP[0]!) })
    expect(code(await validateEvidence(pair, ctx()))).toBe('reject:OFF_SCHEDULE')
  })

  // Fails on the old validator (no emergencyBlock): any kind-1 block in the window was accepted.
  it('accepts an emergency attestation only for a block an alert of the pool names', async () => {
    const e = encodeAttestation(await sign(body({ blockNumber: 1041n, kind: 1 }), OP[0]!))
    expect(code(await validateAttestation(e, ctx({ emergencyBlock: (b) => b === 1041n })))).toBe('accept:OK')
    expect(code(await validateAttestation(e, ctx({ emergencyBlock: () => false })))).toBe('ignore:NOT_EMERGENCY')
    // no predicate (no watchdog): the window alone, as before
    expect(code(await validateAttestation(e, ctx()))).toBe('accept:OK')
    const pair = encodeEvidence({ a: await sign(body({ blockNumber: 1041n, kind: 1 }), OP[0]!), b: await sign(body({ blockNumber: 1041n, kind: 1, snapshotCid: SNAPSHOT_B }), OP[0]!) })
    expect(code(await validateEvidence(pair, ctx({ emergencyBlock: () => false })))).toBe('ignore:NOT_EMERGENCY')
  })
})

describe('validation order and our own dependencies (issue 10 item 4)', () => {
  let cert: Uint8Array
  let att: SignedAttestation
  let pair: Uint8Array
  beforeAll(async () => {
    cert = encodeCertificate(certificateFrom(await Promise.all(OP.slice(0, 3).map((a) => sign(body(), a))))).bytes
    att = await sign(body(), OP[0]!)
    pair = encodeEvidence({ a: att, b: await sign(body({ snapshotCid: SNAPSHOT_B }), OP[0]!) })
  })
  const failing = (): ValidatorContext => ctx({
    operatorsAt: () => {
      throw new Error('HTTP 429 Too Many Requests')
    },
  })

  // Fails on the old validator: a certificate whose set lookup failed was rejected MALFORMED (the
  // forwarding honest peer lost score), an attestation's or evidence's threw (VALIDATOR_ERROR).
  it('an operatorsAt that throws (RPC error, 429, timeout) → ignore DEPENDENCY_FAILED, never reject', async () => {
    expect(code(await validateCertificate(cert, failing()))).toBe('ignore:DEPENDENCY_FAILED')
    expect(code(await validateAttestation(encodeAttestation(att), failing()))).toBe('ignore:DEPENDENCY_FAILED')
    expect(code(await validateEvidence(pair, failing()))).toBe('ignore:DEPENDENCY_FAILED')
    const rejecting = ctx({ operatorsAt: () => Promise.reject(new Error('timeout')) })
    expect(code(await validateCertificate(cert, rejecting))).toBe('ignore:DEPENDENCY_FAILED')
  })

  // Fails on the old validator: the set was read before the signature was checked, so a keyless
  // sender cost one (RPC) lookup per message; and old certificates had no age bound at all.
  it("a keyless sender's certificates for 10,000 distinct old blocks cost no set lookup; forged in-window ones none either", async () => {
    let calls = 0
    const counting = ctx({
      schedule: { interval: 1n, first: 0n },
      operatorsAt: () => {
        calls++
        return fourOperators()
      },
    })
    const outsider = await sign(body(), OUTSIDER)
    const junk = `0x${'ab'.repeat(64)}1b` as const
    for (let i = 0; i < 10_000; i++) {
      const b = body({ blockNumber: BigInt(i) % 500n, stateRoot: `0x${i.toString(16).padStart(64, '0')}` })
      const bytes = encodeCertificate({ body: b, signatures: [{ signer: addr(OUTSIDER), signature: i % 2 === 0 ? junk : outsider.signature }] }).bytes
      expect((await validateCertificate(bytes, counting)).action).toBe('ignore')
    }
    expect(calls).toBe(0)
    // in the window, signed by no one it claims: refused at signature recovery, still no lookup
    for (let i = 0; i < 50; i++) {
      const b = body({ blockNumber: 600n + BigInt(i) })
      const bytes = encodeCertificate({ body: b, signatures: [{ signer: addr(OP[0]!), signature: outsider.signature }] }).bytes
      expect(code(await validateCertificate(bytes, counting))).toBe('reject:BAD_SIGNATURE')
    }
    expect(calls).toBe(0)
  })

  it('looks the set up once per valid message, after recovery', async () => {
    const seen: bigint[] = []
    const c = ctx({
      operatorsAt: (b): OperatorSet => {
        seen.push(b)
        return fourOperators()
      },
    })
    expect(code(await validateCertificate(cert, c))).toBe('accept:OK')
    expect(code(await validateAttestation(encodeAttestation(att), c))).toBe('accept:OK')
    expect(seen).toEqual([1000n, 1000n])
  })
})
