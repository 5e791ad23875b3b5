import * as dagCbor from '@ipld/dag-cbor'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkpointKey, contentKey, encodeAttestation, type SignedAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import { encodeEvidence } from '../../protocol/evidence.ts'
import { topicName } from '../../protocol/gossip/topics.ts'
import { validateAttestation, validateCertificate, validateEvidence, type ValidatorContext } from '../../protocol/gossip/validate.ts'
import { makeOperatorSet, type Address } from '../../protocol/operator-set.ts'
import type { Hex } from 'viem'
import { ADAPTER_ID, addr, body, CHAIN_ID, CONFIG_HASH, fourOperators, highS, OP, OUTSIDER, sign, SNAPSHOT_B, wireMap } from './support.ts'

function ctx(over: Partial<ValidatorContext> = {}): ValidatorContext {
  return { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: 1000n, maxAheadBlocks: 10n, oldestBlock: 500n, schedule: { interval: 1n, first: 0n }, ...over }
}

const enc = (a: SignedAttestation) => encodeAttestation(a)

let good: SignedAttestation
beforeAll(async () => {
  good = await sign(body(), OP[0]!)
})

describe('validateAttestation', () => {
  it('accepts a valid attestation and returns it decoded', async () => {
    const res = await validateAttestation(enc(good), ctx())
    expect(res.action).toBe('accept')
    if (res.action !== 'accept') return
    expect(res.value.signer).toBe(addr(OP[0]!))
    expect(checkpointKey(res.value.body)).toBe(checkpointKey(good.body))
    expect(contentKey(res.value.body)).toBe(contentKey(good.body))
  })

  it('compares the configHash case-insensitively', async () => {
    const res = await validateAttestation(enc(await sign(body({ configHash: `0x${'ab'.repeat(32)}` }), OP[0]!)), ctx({ configHash: `0x${'AB'.repeat(32)}` }))
    expect(res.action).toBe('accept')
  })

  it('rejects malformed CBOR, oversized and unknown-field messages', async () => {
    expect(await validateAttestation(Uint8Array.of(0xa1, 0x61), ctx())).toMatchObject({ action: 'reject', code: 'MALFORMED' })
    expect(await validateAttestation(new Uint8Array(2000), ctx())).toMatchObject({ action: 'reject', code: 'OVERSIZED' })
    expect(await validateAttestation(dagCbor.encode({ ...wireMap(enc(good)), x: 1 }), ctx())).toMatchObject({ action: 'reject', code: 'UNKNOWN_FIELD' })
    expect(await validateAttestation(dagCbor.encode({ ...wireMap(enc(good)), v: 2 }), ctx())).toMatchObject({ action: 'reject', code: 'BAD_VERSION' })
  })

  it('rejects a bad signature, a high-s signature and an unknown signer', async () => {
    const claimsOther = { ...good, signer: addr(OP[1]!) } // known signer, signature by OP[0]
    expect(await validateAttestation(enc(claimsOther), ctx())).toMatchObject({ action: 'reject', code: 'BAD_SIGNATURE' })
    expect(await validateAttestation(enc({ ...good, signature: highS(good.signature) }), ctx())).toMatchObject({ action: 'reject', code: 'HIGH_S' })
    expect(await validateAttestation(enc(await sign(body(), OUTSIDER)), ctx())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('rejects another chain, adapter or config', async () => {
    expect(await validateAttestation(enc(await sign(body({ chainId: 1n }), OP[0]!)), ctx())).toMatchObject({ action: 'reject', code: 'WRONG_CHAIN' })
    expect(await validateAttestation(enc(await sign(body({ adapterId: 'erc20-balances' }), OP[0]!)), ctx())).toMatchObject({ action: 'reject', code: 'WRONG_ADAPTER' })
    expect(await validateAttestation(enc(await sign(body({ configHash: `0x${'23'.repeat(32)}` }), OP[0]!)), ctx())).toMatchObject({ action: 'reject', code: 'WRONG_ADAPTER' })
  })

  it('ignores blocks too far ahead or too old, at exact boundaries', async () => {
    const at = async (n: bigint) => (await validateAttestation(enc(await sign(body({ blockNumber: n }), OP[0]!)), ctx())).action
    const code = async (n: bigint) => {
      const r = await validateAttestation(enc(await sign(body({ blockNumber: n }), OP[0]!)), ctx())
      return r.action === 'accept' ? 'accept' : r.code
    }
    expect(await at(1010n)).toBe('accept') // head + maxAhead
    expect(await code(1011n)).toBe('TOO_FAR_AHEAD')
    expect(await at(500n)).toBe('accept') // oldest
    expect(await code(499n)).toBe('TOO_OLD')
    expect((await validateAttestation(enc(await sign(body({ blockNumber: 1011n }), OP[0]!)), ctx())).action).toBe('ignore')
    expect((await validateAttestation(enc(await sign(body({ blockNumber: 0n }), OP[0]!)), ctx())).action).toBe('ignore')
  })

  it('ignores a duplicate the seen callback recognises, without penalty', async () => {
    const seenKeys = new Set<string>()
    const key = (a: SignedAttestation) => `${a.signer}|${checkpointKey(a.body)}|${contentKey(a.body)}`
    const c = ctx({ seen: (a) => seenKeys.has(key(a)) })
    const first = await validateAttestation(enc(good), c)
    expect(first.action).toBe('accept')
    if (first.action === 'accept') seenKeys.add(key(first.value))
    expect(await validateAttestation(enc(good), c)).toMatchObject({ action: 'ignore', code: 'DUPLICATE' })
    // a different operator's attestation of the same content is not a duplicate
    expect((await validateAttestation(enc(await sign(body(), OP[1]!)), c)).action).toBe('accept')
  })

  it('rejects (not ignores) an unknown signer even if seen says duplicate', async () => {
    const res = await validateAttestation(enc(await sign(body(), OUTSIDER)), ctx({ seen: () => true }))
    expect(res).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('validates 200 attestations (4 operators × 50 blocks), then ignores them all as duplicates', async () => {
    const bodies = Array.from({ length: 50 }, (_, i) => body({ blockNumber: 951n + BigInt(i), stateRoot: `0x${(i + 1).toString(16).padStart(64, '0')}` as Hex }))
    const msgs = await Promise.all(bodies.flatMap((b) => OP.map(async (op) => enc(await sign(b, op)))))
    expect(msgs).toHaveLength(200)
    const seen = new Set<string>()
    const c = ctx({ seen: (a) => seen.has(`${a.signer}|${checkpointKey(a.body)}|${contentKey(a.body)}`) })
    const results = await Promise.all(msgs.map((m) => validateAttestation(m, c)))
    expect(results.every((r) => r.action === 'accept')).toBe(true)
    for (const r of results) if (r.action === 'accept') seen.add(`${r.value.signer}|${checkpointKey(r.value.body)}|${contentKey(r.value.body)}`)
    expect(seen.size).toBe(200)
    const again = await Promise.all(msgs.map((m) => validateAttestation(m, c)))
    expect(again.every((r) => r.action === 'ignore' && r.code === 'DUPLICATE')).toBe(true)
  })
})

describe('validateCertificate', () => {
  let atts: SignedAttestation[]
  beforeAll(async () => {
    atts = await Promise.all(OP.map((a) => sign(body(), a)))
  })
  const certBytes = (list: SignedAttestation[]) => encodeCertificate(certificateFrom(list)).bytes

  it('accepts a 3-of-4 certificate', async () => {
    const res = await validateCertificate(certBytes(atts.slice(0, 3)), ctx())
    expect(res.action).toBe('accept')
    if (res.action === 'accept') expect(res.value.signatures.map((s) => s.signer)).toEqual(OP.slice(0, 3).map(addr).sort())
  })

  it('rejects below threshold, malformed, another chain and an unknown signer', async () => {
    expect(await validateCertificate(certBytes(atts.slice(0, 2)), ctx())).toMatchObject({ action: 'reject', code: 'BELOW_THRESHOLD' })
    expect(await validateCertificate(Uint8Array.of(0x82, 0x01), ctx())).toMatchObject({ action: 'reject', code: 'MALFORMED' })
    expect(await validateCertificate(certBytes(atts.slice(0, 3)), ctx({ chainId: 1n }))).toMatchObject({ action: 'reject', code: 'WRONG_CHAIN' })
    expect(await validateCertificate(certBytes(atts.slice(0, 3)), ctx({ adapterId: 'other' }))).toMatchObject({ action: 'reject', code: 'WRONG_ADAPTER' })
    const withOutsider = certBytes([...atts.slice(0, 3), await sign(body(), OUTSIDER)])
    expect(await validateCertificate(withOutsider, ctx())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('rejects a certificate whose body was changed after signing', async () => {
    const m = dagCbor.decode(certBytes(atts.slice(0, 3))) as Record<string, unknown>
    const tampered = dagCbor.encode({ ...m, stateRoot: new Uint8Array(32).fill(0x44) })
    expect(await validateCertificate(tampered, ctx())).toMatchObject({ action: 'reject', code: 'BAD_SIGNATURE' })
  })

  // Issue 10 item 4: certificates get the attestations' age bound on gossip (old ones come by catch-up,
  // which asks from the retention floor). Fails on the old validator, which accepted the old one.
  it('ignores a certificate too far ahead or older than the retention window', async () => {
    const bytes = certBytes(atts.slice(0, 3))
    expect(await validateCertificate(bytes, ctx({ finalizedHead: 900n, maxAheadBlocks: 99n }))).toMatchObject({ action: 'ignore', code: 'TOO_FAR_AHEAD' })
    expect(await validateCertificate(bytes, ctx({ finalizedHead: 5000n, oldestBlock: 4000n }))).toMatchObject({ action: 'ignore', code: 'TOO_OLD' })
  })
})

describe('validateEvidence', () => {
  let other: SignedAttestation // OP[0] over another snapshot at the same checkpoint
  beforeAll(async () => {
    other = await sign(body({ snapshotCid: SNAPSHOT_B }), OP[0]!)
  })

  it('accepts a valid equivocation', async () => {
    const res = await validateEvidence(encodeEvidence({ a: good, b: other }), ctx())
    expect(res.action).toBe('accept')
    if (res.action === 'accept') expect(res.value.a.signer).toBe(addr(OP[0]!))
  })

  // Issue 10 item 2: evidence only within the validity window (like attestations). Fails on the old
  // validator, which accepted evidence for any block (a signer could equivocate at 10,000 old blocks).
  it('ignores evidence older than the window or too far ahead, like attestations', async () => {
    expect(await validateEvidence(encodeEvidence({ a: good, b: other }), ctx({ oldestBlock: 2000n, finalizedHead: 3000n }))).toMatchObject({ action: 'ignore', code: 'TOO_OLD' })
    expect(await validateEvidence(encodeEvidence({ a: good, b: other }), ctx({ finalizedHead: 0n, maxAheadBlocks: 0n }))).toMatchObject({ action: 'ignore', code: 'TOO_FAR_AHEAD' })
  })

  // Issue 10 item 2: at most one item per (signer, checkpoint): the node's store answers seenEvidence.
  // Fails on the old validator (no such rule: every distinct pair was accepted and re-gossiped).
  it('ignores a second item against the same (signer, checkpoint) as DUPLICATE', async () => {
    const third = await sign(body({ snapshotCid: SNAPSHOT_B, stateRoot: `0x${'77'.repeat(32)}` }), OP[0]!)
    const held = (e: { a: SignedAttestation }) => e.a.signer === addr(OP[0]!) && e.a.body.blockNumber === good.body.blockNumber
    expect(await validateEvidence(encodeEvidence({ a: good, b: third }), ctx({ seenEvidence: held }))).toMatchObject({ action: 'ignore', code: 'DUPLICATE' })
    // a forged second item still costs its sender: the signatures are checked first
    const forged = { ...third, signature: other.signature }
    expect(await validateEvidence(encodeEvidence({ a: good, b: forged }), ctx({ seenEvidence: held }))).toMatchObject({ action: 'reject', code: 'BAD_SIGNATURE' })
  })

  it('rejects evidence by an unknown signer, the same content twice, another adapter, or garbage', async () => {
    const x = await sign(body(), OUTSIDER)
    const y = await sign(body({ snapshotCid: SNAPSHOT_B }), OUTSIDER)
    expect(await validateEvidence(encodeEvidence({ a: x, b: y }), ctx())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
    expect(await validateEvidence(encodeEvidence({ a: good, b: good }), ctx())).toMatchObject({ action: 'reject', code: 'MISMATCH' })
    expect(await validateEvidence(encodeEvidence({ a: good, b: other }), ctx({ configHash: `0x${'99'.repeat(32)}` }))).toMatchObject({ action: 'reject', code: 'WRONG_ADAPTER' })
    expect(await validateEvidence(encodeEvidence({ a: good, b: other }), ctx({ chainId: 5n }))).toMatchObject({ action: 'reject', code: 'WRONG_CHAIN' })
    expect(await validateEvidence(Uint8Array.of(0xff, 0x00), ctx())).toMatchObject({ action: 'reject', code: 'MALFORMED' })
  })

  it('rejects evidence with a forged half', async () => {
    const forged = { ...other, signer: addr(OP[0]!) as Address, signature: (await sign(other.body, OP[1]!)).signature }
    expect(await validateEvidence(encodeEvidence({ a: good, b: forged }), ctx())).toMatchObject({ action: 'reject', code: 'BAD_SIGNATURE' })
  })
})

describe('operator set at the attested block (operatorsAt)', () => {
  // OP[3] leaves the set at block 1000 (an on-chain registry's governance): blocks < 1000 use the old set
  const before = fourOperators()
  const after = makeOperatorSet(new Map(OP.slice(0, 3).map((a) => [addr(a), 1n])), 2n)
  const at = (b: bigint) => (b < 1000n ? before : after)
  const history = (over: Partial<ValidatorContext> = {}): ValidatorContext => ctx({ operators: after, operatorsAt: async (b) => at(b), finalizedHead: 2000n, oldestBlock: 0n, ...over })

  it('checks an attestation against the set at its block, not the newest', async () => {
    expect((await validateAttestation(enc(await sign(body({ blockNumber: 999n }), OP[3]!)), history())).action).toBe('accept')
    expect(await validateAttestation(enc(await sign(body({ blockNumber: 1000n }), OP[3]!)), history())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
    // without operatorsAt the newest set counts for every block
    expect(await validateAttestation(enc(await sign(body({ blockNumber: 999n }), OP[3]!)), history({ operatorsAt: undefined }))).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('checks a certificate against the set at its block: weight and threshold of that set', async () => {
    const old = encodeCertificate(certificateFrom(await Promise.all([OP[1]!, OP[2]!, OP[3]!].map((a) => sign(body({ blockNumber: 998n }), a))))).bytes
    expect((await validateCertificate(old, history())).action).toBe('accept')
    // two of the new three reach its threshold 2, but fall short of the old set's 3
    const two = (n: bigint) => Promise.all([OP[0]!, OP[1]!].map((a) => sign(body({ blockNumber: n }), a)))
    expect((await validateCertificate(encodeCertificate(certificateFrom(await two(1004n))).bytes, history())).action).toBe('accept')
    expect(await validateCertificate(encodeCertificate(certificateFrom(await two(996n))).bytes, history())).toMatchObject({ action: 'reject', code: 'BELOW_THRESHOLD' })
    const late = encodeCertificate(certificateFrom(await Promise.all([OP[1]!, OP[2]!, OP[3]!].map((a) => sign(body({ blockNumber: 1004n }), a))))).bytes
    expect(await validateCertificate(late, history())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('checks evidence against the set at its block', async () => {
    const pair = async (n: bigint) => encodeEvidence({ a: await sign(body({ blockNumber: n }), OP[3]!), b: await sign(body({ blockNumber: n, snapshotCid: SNAPSHOT_B }), OP[3]!) })
    expect((await validateEvidence(await pair(900n), history())).action).toBe('accept')
    expect(await validateEvidence(await pair(1100n), history())).toMatchObject({ action: 'reject', code: 'UNKNOWN_SIGNER' })
  })

  it('asks for the set only once the scope checks passed', async () => {
    const asked: bigint[] = []
    const c = history({ operatorsAt: (b) => (asked.push(b), at(b)), oldestBlock: 950n })
    expect(await validateAttestation(enc(await sign(body({ blockNumber: 900n }), OP[0]!)), c)).toMatchObject({ action: 'ignore', code: 'TOO_OLD' })
    expect(await validateAttestation(enc(await sign(body({ blockNumber: 900n }), OP[0]!)), { ...c, chainId: 1n })).toMatchObject({ action: 'reject', code: 'WRONG_CHAIN' })
    expect(asked).toEqual([])
  })
})

describe('topicName', () => {
  it('versions and scopes each topic', () => {
    expect(topicName('attestation', CHAIN_ID, ADAPTER_ID)).toBe('/ark/1/31337/perp-reference/attestation/dag-cbor')
    const names = new Set<string>()
    for (const kind of ['attestation', 'certificate', 'evidence', 'alert'] as const) for (const chain of [1n, CHAIN_ID]) for (const adapter of ['a', 'b']) names.add(topicName(kind, chain, adapter))
    expect(names.size).toBe(16)
  })
})
