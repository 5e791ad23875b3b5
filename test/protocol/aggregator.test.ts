import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { keccak256, toBytes, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkpointKey, contentKey, signAttestation, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { verifyCertificate } from '../../protocol/certificate.ts'
import { checkEvidence } from '../../protocol/evidence.ts'
import { makeOperatorSet, type Address } from '../../protocol/operator-set.ts'
import { Aggregator, type AggregatorEvent } from '../../protocol/aggregator.ts'

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

  it('keeps memory bounded: window under the newest certified checkpoint, certified cap, explicit prune', async () => {
    const agg = new Aggregator({ operators: SET, windowBlocks: 100n, maxCheckpoints: 2 })
    const certify = async (n: bigint) => {
      for (const o of OPS.slice(0, 3)) agg.add(await sign(body({ blockNumber: n }), o))
    }
    const at = (n: bigint) => sign(body({ blockNumber: n }), OPS[3]!)
    agg.add(await at(1000n))
    agg.add(await at(1050n))
    expect(agg.size).toBe(2)
    await certify(1200n)
    // 1000 and 1050 fell out of the 100-block window below the certified 1200
    expect(agg.size).toBe(1)
    expect(types(agg.add(await at(1050n)))).toEqual(['ignored'])
    await certify(1201n)
    await certify(1202n)
    // two certified at most: 1200 went, and a late attestation does not rebuild it
    expect(agg.size).toBe(2)
    expect(agg.certificate(checkpointKey(body({ blockNumber: 1200n })))).toBeUndefined()
    expect(types(agg.add(await at(1200n)))).toEqual(['ignored'])
    agg.pruneBelow(1202n)
    expect(agg.size).toBe(1)
    expect(types(agg.add(await at(1201n)))).toEqual(['ignored'])
  })

  // Issue 10 item 1. Fails on the old aggregator (node/aggregate/aggregator.ts): one signer's 300
  // attestations for distinct blocks evicted the honest open checkpoint (cap 256, oldest first), so
  // the third honest signature started a fresh checkpoint that never reached quorum.
  it('one signer flooding distinct blocks cannot evict an honest open checkpoint; past its cap it is ignored with SIGNER_CAP', async () => {
    const agg = new Aggregator({ operators: SET, maxOpenPerSigner: 8 })
    agg.add(A[0]!)
    agg.add(A[1]!)
    const reasons = new Map<string, number>()
    for (let i = 1; i <= 300; i++) {
      for (const e of agg.add(await sign(body({ blockNumber: 1000n + BigInt(i) }), OPS[3]!))) {
        const k = e.type === 'ignored' ? e.reason : e.type
        reasons.set(k, (reasons.get(k) ?? 0) + 1)
      }
    }
    expect(reasons.get('counted')).toBe(8)
    expect(reasons.get('SIGNER_CAP')).toBe(292)
    expect(agg.openCount(addr(OPS[3]!))).toBe(8)
    expect(agg.size).toBe(9)
    expect(types(agg.add(A[2]!))).toEqual(['counted', 'certificate'])
  })

  // Issue 10 item 1. Fails on the old aggregator: the window followed the newest block *seen*, so one
  // attestation far ahead (validators allowed finalized + 4·interval + 64, over 7200 when interval ≥ ~1800)
  // dropped every honest checkpoint below it.
  it('a block only one signer claims never moves the window', async () => {
    const agg = new Aggregator({ operators: SET, windowBlocks: 7200n })
    agg.add(A[0]!)
    agg.add(A[1]!)
    agg.add(await sign(body({ blockNumber: 1000n + 8200n }), OPS[3]!))
    expect(types(agg.add(A[2]!))).toEqual(['counted', 'certificate'])
  })

  it("never evicts the node's own checkpoint (add with own: true), not even past its cap or the window", async () => {
    const agg = new Aggregator({ operators: SET, windowBlocks: 10n, maxCheckpoints: 1, maxOpenPerSigner: 1 })
    const mine = OPS[0]!
    expect(types(agg.add(await sign(body({ blockNumber: 990n }), mine), { own: true }))).toEqual(['counted'])
    expect(types(agg.add(await sign(body({ blockNumber: 1000n }), mine), { own: true }))).toEqual(['counted'])
    // certified far above: the window moves past both, the certified cap is 1, yet both own checkpoints stay
    for (const n of [2000n, 3000n]) for (const o of OPS.slice(1)) agg.add(await sign(body({ blockNumber: n }), o))
    expect(agg.tally(checkpointKey(body({ blockNumber: 990n })))).toHaveLength(1)
    expect(agg.tally(checkpointKey(body({ blockNumber: 1000n })))).toHaveLength(1)
    // others still complete it
    agg.add(A[1]!)
    expect(types(agg.add(A[2]!))).toEqual(['counted', 'certificate'])
    agg.pruneBelow(1001n)
    expect(agg.tally(checkpointKey(body({ blockNumber: 990n })))).toEqual([])
  })

  it('an honest signer whose checkpoints missed quorum is not locked out once the network certifies past them', async () => {
    const agg = new Aggregator({ operators: SET, maxOpenPerSigner: 2 })
    const o = OPS[3]!
    agg.add(await sign(body({ blockNumber: 1000n }), o))
    agg.add(await sign(body({ blockNumber: 1010n }), o))
    // nothing certified above its open votes: a third is over the cap
    expect(agg.add(await sign(body({ blockNumber: 1020n }), o))).toMatchObject([{ type: 'ignored', reason: 'SIGNER_CAP' }])
    for (const p of OPS.slice(0, 3)) agg.add(await sign(body({ blockNumber: 1020n }), p))
    // 1020 is certified: the signer gives up its own oldest open vote (1000) for the next checkpoint
    expect(types(agg.add(await sign(body({ blockNumber: 1030n }), o)))).toEqual(['counted'])
    expect(agg.tally(checkpointKey(body({ blockNumber: 1000n })))).toEqual([])
    expect(agg.openCount(addr(o))).toBe(2)
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
