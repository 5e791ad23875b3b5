import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { keccak256, toBytes, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkpointKey, contentKey, signAttestation, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { verifyCertificate } from '../../protocol/certificate.ts'
import { checkEvidence } from '../../protocol/evidence.ts'
import { makeOperatorSet, type Address } from '../../protocol/operator-set.ts'
import { Aggregator, type AggregatorEvent } from '../../node/aggregate/aggregator.ts'

const ACCOUNTS: PrivateKeyAccount[] = [1, 2, 3, 4, 5].map((i) => privateKeyToAccount(keccak256(toBytes(`ark-aggregator-test-${i}`))))
const OPS = ACCOUNTS.slice(0, 4)
const OUTSIDER = ACCOUNTS[4]!
const addr = (a: PrivateKeyAccount): Address => a.address.toLowerCase() as Address
const SET = makeOperatorSet(new Map(OPS.map((a) => [addr(a), 1n])))

const cid = (n: number): CID => CID.createV1(0x71, Digest.create(0x12, keccak256(toBytes(`snapshot-${n}`), 'bytes')))
const hex32 = (b: string): Hex => `0x${b.repeat(32)}`

function body(over: Partial<AttestationBody> = {}): AttestationBody {
  return { chainId: 31337n, adapterId: 'synth', configHash: hex32('22'), blockNumber: 1000n, blockHash: hex32('11'), snapshotCid: cid(1), stateRoot: hex32('33'), specVersion: 1, kind: 0, ...over }
}

const sign = (b: AttestationBody, a: PrivateKeyAccount): Promise<SignedAttestation> => signAttestation(b, a.address, (digest) => a.sign({ hash: digest }))
const types = (events: AggregatorEvent[]): string[] => events.map((e) => e.type)

let A: SignedAttestation[]
let B: SignedAttestation[]

beforeAll(async () => {
  A = await Promise.all(OPS.map((o) => sign(body(), o)))
  B = await Promise.all(OPS.map((o) => sign(body({ snapshotCid: cid(2), stateRoot: hex32('44') }), o)))
})

describe('aggregator', () => {
  it('certifies when the third of four operators signs, then extends with the fourth', async () => {
    const agg = new Aggregator({ operators: SET })
    expect(types(agg.add(A[0]!))).toEqual(['counted'])
    expect(types(agg.add(A[1]!))).toEqual(['counted'])
    expect(agg.certificate(checkpointKey(A[0]!.body))).toBeUndefined()
    const third = agg.add(A[2]!)
    expect(types(third)).toEqual(['counted', 'certificate'])
    const cert = third.find((e) => e.type === 'certificate')!
    if (cert.type !== 'certificate') throw new Error('unreachable')
    expect(cert.certificate.signatures).toHaveLength(3)
    expect((await verifyCertificate(cert.certificate, SET)).weight).toBe(3n)
    const fourth = agg.add(A[3]!)
    expect(types(fourth)).toEqual(['counted', 'extended'])
    const current = agg.certificate(checkpointKey(A[0]!.body))!
    expect(current.certificate.signatures).toHaveLength(4)
    expect(agg.tally(checkpointKey(A[0]!.body))).toEqual([{ content: contentKey(A[0]!.body), weight: 4n, signers: OPS.map(addr).sort() }])
  })

  it('gives the same certificate CID whatever order the attestations arrive in', () => {
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]
    const cids = orders.map((o) => {
      const agg = new Aggregator({ operators: SET })
      for (const i of o) agg.add(A[i]!)
      return agg.certificate(checkpointKey(A[0]!.body))!.cid.toString()
    })
    expect(new Set(cids).size).toBe(1)
  })

  it('reports duplicates and ignores unknown signers', async () => {
    const agg = new Aggregator({ operators: SET })
    agg.add(A[0]!)
    expect(types(agg.add(A[0]!))).toEqual(['duplicate'])
    expect(agg.seen(A[0]!)).toBe(true)
    expect(agg.seen(A[1]!)).toBe(false)
    const outsider = await sign(body(), OUTSIDER)
    expect(agg.add(outsider)).toEqual([{ type: 'ignored', checkpoint: checkpointKey(outsider.body), signer: addr(OUTSIDER), reason: 'UNKNOWN_SIGNER' }])
    expect(agg.tally(checkpointKey(A[0]!.body))[0]!.weight).toBe(1n)
  })

  it('turns a second content from one signer into evidence and does not count it', async () => {
    const agg = new Aggregator({ operators: SET })
    agg.add(A[0]!)
    agg.add(A[1]!)
    const ev = agg.add(B[0]!)
    expect(types(ev)).toEqual(['evidence'])
    const e = ev[0]!
    if (e.type !== 'evidence') throw new Error('unreachable')
    await checkEvidence(e.evidence)
    expect(e.evidence.a).toEqual(A[0])
    expect(agg.evidence(checkpointKey(A[0]!.body))).toHaveLength(1)
    const third = await sign(body({ snapshotCid: cid(3) }), OPS[0]!)
    expect(types(agg.add(third))).toEqual(['ignored'])
    // B has operator 3 only: operator 1's B signature never counted
    agg.add(B[2]!)
    expect(agg.tally(checkpointKey(A[0]!.body)).map((t) => [t.content, t.weight])).toEqual([
      [contentKey(A[0]!.body), 2n],
      [contentKey(B[0]!.body), 1n],
    ])
    expect(agg.certificate(checkpointKey(A[0]!.body))).toBeUndefined()
    // the equivocator's first attestation still counts: one more for A certifies A
    expect(types(agg.add(A[3]!))).toEqual(['counted', 'certificate'])
  })

  it('catches up from a certificate', () => {
    const a = new Aggregator({ operators: SET })
    for (const x of A.slice(0, 3)) a.add(x)
    const b = new Aggregator({ operators: SET })
    b.add(A[3]!)
    const events = b.addCertificate(a.certificate(checkpointKey(A[0]!.body))!.certificate)
    expect(types(events)).toEqual(['counted', 'counted', 'certificate', 'counted', 'extended'])
    expect(b.certificate(checkpointKey(A[0]!.body))!.certificate.signatures).toHaveLength(4)
    a.add(A[3]!)
    expect(b.certificate(checkpointKey(A[0]!.body))!.cid.toString()).toBe(a.certificate(checkpointKey(A[0]!.body))!.cid.toString())
  })

  it('keeps memory bounded: window, checkpoint cap, explicit prune', async () => {
    const agg = new Aggregator({ operators: SET, windowBlocks: 100n, maxCheckpoints: 3 })
    const at = (n: bigint) => sign(body({ blockNumber: n }), OPS[0]!)
    agg.add(await at(1000n))
    agg.add(await at(1050n))
    expect(agg.size).toBe(2)
    agg.add(await at(1200n))
    // 1000 and 1050 fell out of the 100-block window below 1200
    expect(agg.size).toBe(1)
    expect(types(agg.add(await at(1050n)))).toEqual(['ignored'])
    for (const n of [1201n, 1202n, 1203n]) agg.add(await at(n))
    expect(agg.size).toBe(3)
    expect(agg.tally(checkpointKey(body({ blockNumber: 1200n })))).toEqual([])
    // an evicted checkpoint is not rebuilt by a late attestation
    expect(types(agg.add(await at(1200n)))).toEqual(['ignored'])
    agg.pruneBelow(1203n)
    expect(agg.size).toBe(1)
    expect(types(agg.add(await at(1202n)))).toEqual(['ignored'])
  })

  it('counts weight, not heads', async () => {
    const weighted = makeOperatorSet(new Map([[addr(OPS[0]!), 3n], [addr(OPS[1]!), 1n], [addr(OPS[2]!), 1n], [addr(OPS[3]!), 1n]]))
    expect(weighted.threshold).toBe(5n)
    const agg = new Aggregator({ operators: weighted })
    expect(types(agg.add(A[1]!))).toEqual(['counted'])
    expect(types(agg.add(A[2]!))).toEqual(['counted'])
    expect(types(agg.add(A[3]!))).toEqual(['counted'])
    expect(types(agg.add(A[0]!))).toEqual(['counted', 'certificate'])
  })

  it('counts each checkpoint against the operator set at its block (operatorsAt)', async () => {
    // from block 1000 on, OPS[3] is out and the threshold of the remaining three is 2
    const later = makeOperatorSet(new Map(OPS.slice(0, 3).map((a) => [addr(a), 1n])), 2n)
    const agg = new Aggregator({ operators: later, operatorsAt: (b) => (b < 1000n ? SET : later) })
    const old = await Promise.all(OPS.map((o) => sign(body({ blockNumber: 996n }), o)))
    expect(types(agg.add(old[3]!))).toEqual(['counted'])
    expect(types(agg.add(old[0]!))).toEqual(['counted'])
    expect(types(agg.add(old[1]!))).toEqual(['counted', 'certificate'])
    expect(agg.tally(checkpointKey(old[0]!.body))[0]!.weight).toBe(3n)
    const cert = agg.certificate(checkpointKey(old[0]!.body))!.certificate
    expect((await verifyCertificate(cert, SET)).weight).toBe(3n)
    // at 1000: OPS[3] is unknown, and two signatures reach the new threshold
    expect(types(agg.add(A[3]!))).toEqual(['ignored'])
    expect(types(agg.add(A[0]!))).toEqual(['counted'])
    expect(types(agg.add(A[1]!))).toEqual(['counted', 'certificate'])
  })
})
