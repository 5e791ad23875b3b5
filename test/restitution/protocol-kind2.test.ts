/**
 * Restitution tables (kind 2) on the wire: attestations and certificates of kind 2 decode and
 * round-trip (kind 3 does not); the validator takes a kind-2 message only for a block at which the
 * node holds a certified snapshot (else ignore, never reject), off the checkpoint schedule; the
 * aggregator certifies one content and turns a second content from one signer into evidence; the
 * sign log keeps one content per (scope, after block, kind 2), independent of kind 0 at that block.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Aggregator } from '../../protocol/aggregator.ts'
import { CHECKPOINT_KIND, decodeAttestation, encodeAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, decodeCertificate, encodeCertificate } from '../../protocol/certificate.ts'
import { validateAttestation, validateCertificate, type ValidatorContext } from '../../protocol/gossip/validate.ts'
import { SignLog, SignConflictError } from '../../node/signlog/signlog.ts'
import { ADAPTER_ID, body, CHAIN_ID, CONFIG_HASH, fourOperators, OP, sign, SNAPSHOT_A, SNAPSHOT_B } from '../protocol/support.ts'

const ctx = (over: Partial<ValidatorContext> = {}): ValidatorContext => ({ chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: 1000n, maxAheadBlocks: 464n, oldestBlock: 500n, schedule: { interval: 100n, first: 500n }, ...over })
const code = (v: { action: string; code?: string }): string => `${v.action}:${v.action === 'accept' ? 'OK' : v.code}`
const R = CHECKPOINT_KIND.restitution

describe('kind 2 (restitution) in the protocol', () => {
  it('attestations and certificates of kind 2 decode and round-trip', async () => {
    const a = await sign(body({ kind: R, blockNumber: 1000n }), OP[0]!)
    const bytes = encodeAttestation(a)
    expect(decodeAttestation(bytes)).toEqual(a)
    const cert = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => sign(body({ kind: R }), o))))
    const block = encodeCertificate(cert)
    expect(decodeCertificate(block.bytes).body.kind).toBe(2)
  })

  it('the validator takes kind 2 only at a block with a certified snapshot (ignore otherwise), off schedule too', async () => {
    const at = (b: bigint) => sign(body({ kind: R, blockNumber: b }), OP[0]!)
    const certified = (b: bigint) => b === 1000n || b === 1041n
    expect(code(await validateAttestation(encodeAttestation(await at(1000n)), ctx({ certifiedBlock: certified })))).toBe('accept:OK')
    // an emergency snapshot's block is off the schedule and still a valid "after" block
    expect(code(await validateAttestation(encodeAttestation(await at(1041n)), ctx({ certifiedBlock: certified })))).toBe('accept:OK')
    expect(code(await validateAttestation(encodeAttestation(await at(900n)), ctx({ certifiedBlock: certified })))).toBe('ignore:NOT_CERTIFIED')
    expect(code(await validateAttestation(encodeAttestation(await at(1501n)), ctx({ certifiedBlock: certified })))).toBe('ignore:TOO_FAR_AHEAD')
    // certificates are not held back by the predicate: a quorum's signatures are checked instead
    const cert = certificateFrom(await Promise.all(OP.slice(0, 3).map((o) => sign(body({ kind: R, blockNumber: 900n }), o))))
    expect(code(await validateCertificate(encodeCertificate(cert).bytes, ctx({ certifiedBlock: certified })))).toBe('accept:OK')
  })

  it('the aggregator certifies the content a quorum signed; a second content from one signer is evidence; kind 0 at that block is separate', async () => {
    const agg = new Aggregator({ operators: fourOperators() })
    const events = []
    for (const o of OP.slice(0, 2)) events.push(...agg.add(await sign(body({ kind: R, snapshotCid: SNAPSHOT_A }), o)))
    events.push(...agg.add(await sign(body({ kind: R, snapshotCid: SNAPSHOT_B }), OP[3]!))) // another exclusion list
    events.push(...agg.add(await sign(body({ kind: 0 }), OP[2]!)))
    expect(events.filter((e) => e.type === 'certificate')).toHaveLength(0)
    events.push(...agg.add(await sign(body({ kind: R, snapshotCid: SNAPSHOT_A }), OP[2]!)))
    const certs = events.filter((e) => e.type === 'certificate')
    expect(certs).toHaveLength(1)
    expect(certs[0]!.type === 'certificate' && certs[0]!.certificate.body.snapshotCid.equals(SNAPSHOT_A) && certs[0]!.certificate.body.kind).toBe(R)
    const ev = agg.add(await sign(body({ kind: R, snapshotCid: SNAPSHOT_B }), OP[0]!))
    expect(ev.map((e) => e.type)).toContain('evidence')
  })

  it('the sign log holds one content per (scope, after block, kind 2), beside kind 0 at the same block', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-r2-'))
    try {
      const log = new SignLog(join(dir, 'signlog.jsonl'))
      log.open()
      const signer = OP[0]!.address.toLowerCase() as `0x${string}`
      const signWith = (b: ReturnType<typeof body>) => log.sign(b, signer, () => OP[0]!.sign({ hash: `0x${'00'.repeat(32)}` }))
      await signWith(body({ kind: 0 }))
      const first = await signWith(body({ kind: R, snapshotCid: SNAPSHOT_A }))
      expect(await signWith(body({ kind: R, snapshotCid: SNAPSHOT_A }))).toBe(first)
      await expect(signWith(body({ kind: R, snapshotCid: SNAPSHOT_B }))).rejects.toBeInstanceOf(SignConflictError)
      log.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
