import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { concat, encodeAbiParameters, hashTypedData, keccak256, recoverTypedDataAddress, toBytes, type Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  attestationDigest,
  checkpointKey,
  checkSignature,
  contentKey,
  decodeAttestation,
  encodeAttestation,
  MAX_ATTESTATION_BYTES,
  verifyAttestation,
  type SignedAttestation,
} from '../../protocol/attestation.ts'
import { certificateFrom, certificateJSON } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { validateAttestation } from '../../protocol/gossip/validate.ts'
import {
  addr,
  body,
  bodyArb,
  cbor,
  expectReason,
  float64,
  fourOperators,
  highS,
  OP,
  OUTSIDER,
  pairsOf,
  plainBody,
  rawMap,
  sign,
  SNAPSHOT_B,
  wireMap,
  withV,
  CHAIN_ID,
  ADAPTER_ID,
  CONFIG_HASH,
} from './support.ts'

/** Re-encode a wire map with some fields changed (values are IPLD values). */
function tweak(bytes: Uint8Array, change: Record<string, unknown>, drop: string[] = []): Uint8Array {
  const m = wireMap(bytes)
  for (const k of drop) delete m[k]
  return dagCbor.encode({ ...m, ...change })
}

describe('attestation signing', () => {
  it('signs and verifies; the signer is stored lower-case', async () => {
    const a = await sign(body(), OP[0]!)
    expect(a.signer).toBe(addr(OP[0]!))
    expect(a.signer).not.toBe(OP[0]!.address) // checksummed input, lower-case output
    await expect(verifyAttestation(a)).resolves.toBeUndefined()
  })

  it('verifies signatures over random bodies and rejects them for any other body', async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, bodyArb, async (b1, b2) => {
        const a = await sign(b1, OP[1]!)
        await verifyAttestation(a)
        fc.pre(attestationDigest(b1) !== attestationDigest(b2))
        await expectReason(() => verifyAttestation({ ...a, body: b2 }), 'BAD_SIGNATURE')
      }),
      { numRuns: 25 },
    )
  })

  it('every field is covered by the signature', async () => {
    const a = await sign(body(), OP[0]!)
    const changes: Partial<ReturnType<typeof body>>[] = [
      { chainId: CHAIN_ID + 1n },
      { adapterId: `${ADAPTER_ID}x` },
      { configHash: `0x${'23'.repeat(32)}` },
      { blockNumber: 1001n },
      { blockHash: `0x${'12'.repeat(32)}` },
      { snapshotCid: SNAPSHOT_B },
      { stateRoot: `0x${'34'.repeat(32)}` },
      { specVersion: 2 },
      { kind: 1 },
    ]
    for (const c of changes) {
      expect(attestationDigest(body(c))).not.toBe(attestationDigest(body()))
      await expectReason(() => verifyAttestation({ ...a, body: body(c) }), 'BAD_SIGNATURE')
    }
  })

  it('the digest ignores hex case (the same typed data)', () => {
    const b = body({ blockHash: `0x${'ab'.repeat(32)}` })
    expect(attestationDigest({ ...b, blockHash: `0x${'AB'.repeat(32)}` })).toBe(attestationDigest(b))
  })

  it('the digest is the EIP-712 hash computed by hand (what a Solidity verifier computes)', () => {
    const b = body({ adapterId: 'erc20-balances', blockNumber: (1n << 64n) - 1n, kind: 1, specVersion: 0xffffffff })
    const typeHash = keccak256(
      toBytes('Attestation(uint256 chainId,string adapterId,bytes32 configHash,uint64 blockNumber,bytes32 blockHash,bytes snapshotCid,bytes32 stateRoot,uint32 specVersion,uint8 kind)'),
    )
    const structHash = keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint64' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint32' }, { type: 'uint8' }],
        [typeHash, b.chainId, keccak256(toBytes(b.adapterId)), b.configHash, b.blockNumber, b.blockHash, keccak256(b.snapshotCid.bytes), b.stateRoot, b.specVersion, b.kind],
      ),
    )
    const domainSeparator = keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint256' }],
        [keccak256(toBytes('EIP712Domain(string name,string version,uint256 chainId)')), keccak256(toBytes('Ark')), keccak256(toBytes('1')), b.chainId],
      ),
    )
    expect(attestationDigest(b)).toBe(keccak256(concat(['0x1901', domainSeparator, structHash])))
  })

  it('certificateJSON is self-describing: plain JSON → viem hashTypedData / recoverTypedDataAddress give the digest and every signer', async () => {
    const b = body()
    const atts = await Promise.all(OP.slice(0, 3).map((a) => sign(b, a)))
    const json = JSON.parse(JSON.stringify(certificateJSON(certificateFrom(atts)))) as {
      domain: Record<string, unknown>
      types: Record<string, { name: string; type: string }[]>
      primaryType: string
      message: Record<string, unknown>
      signatures: { signer: string; signature: Hex }[]
    }
    const typed = { domain: json.domain, types: json.types, primaryType: json.primaryType, message: json.message } as never
    expect(hashTypedData(typed)).toBe(attestationDigest(b))
    expect(json.signatures).toHaveLength(3)
    for (const s of json.signatures) {
      const recovered = await recoverTypedDataAddress({ ...(typed as object), signature: s.signature } as never)
      expect(recovered.toLowerCase()).toBe(s.signer)
    }
    expect(json.signatures.map((s) => s.signer).sort()).toEqual(OP.slice(0, 3).map(addr).sort())
  })

  it('rejects a high-s twin of a valid signature with HIGH_S', async () => {
    const a = await sign(body(), OP[0]!)
    const twin = highS(a.signature)
    expect(twin).not.toBe(a.signature)
    await expectReason(() => verifyAttestation({ ...a, signature: twin }), 'HIGH_S')
    // and over the wire
    const res = await validateAttestation(encodeAttestation({ ...a, signature: twin }), ctx())
    expect(res).toMatchObject({ action: 'reject', code: 'HIGH_S' })
  })

  it('rejects a signature by another key with BAD_SIGNATURE', async () => {
    const a = await sign(body(), OP[0]!)
    const other = await sign(body(), OP[1]!)
    await expectReason(() => verifyAttestation({ ...a, signature: other.signature }), 'BAD_SIGNATURE')
    await expectReason(() => verifyAttestation({ ...a, signer: addr(OUTSIDER) }), 'BAD_SIGNATURE')
  })

  it('rejects malformed signatures with BAD_SIGNATURE', async () => {
    const a = await sign(body(), OP[0]!)
    const digest = attestationDigest(a.body)
    await expectReason(() => checkSignature(digest, a.signature.slice(0, 130) as Hex, a.signer), 'BAD_SIGNATURE') // 64 bytes
    await expectReason(() => checkSignature(digest, `${a.signature}00`, a.signer), 'BAD_SIGNATURE') // 66 bytes
    await expectReason(() => checkSignature(digest, withV(a.signature, 29), a.signer), 'BAD_SIGNATURE')
    await expectReason(() => checkSignature(digest, `0x${'00'.repeat(64)}1b`, a.signer), 'BAD_SIGNATURE') // r = s = 0
    await expectReason(() => checkSignature(digest, `0x${'zz'.repeat(65)}`, a.signer), 'BAD_SIGNATURE')
  })

  it('accepts exactly one encoding of each signature (v = 0/1 twins of 27/28 are malleable)', async () => {
    // BUG: checkSignature accepts v in {0, 1, 27, 28}, so every valid signature has a second
    // valid byte encoding (v - 27). Like the high-s twin, that lets anyone re-encode a peer's
    // attestation/certificate into different bytes (new gossip message id, new certificate CID).
    const a = await sign(body(), OP[0]!)
    const v = Number.parseInt(a.signature.slice(130), 16)
    expect([27, 28]).toContain(v)
    const twin = { ...a, signature: withV(a.signature, v - 27) }
    const res = await validateAttestation(encodeAttestation(twin), ctx())
    expect(res.action).toBe('reject')
  })
})

function ctx() {
  return { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: 1000n, maxAheadBlocks: 10n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } }
}

describe('attestation wire encoding', () => {
  const anyAttestation = fc.record({
    body: bodyArb,
    signer: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    signature: fc.uint8Array({ minLength: 65, maxLength: 65 }),
  }).map(({ body: b, signer, signature }): SignedAttestation => ({ body: b, signer: `0x${Buffer.from(signer).toString('hex')}`, signature: `0x${Buffer.from(signature).toString('hex')}` }))

  it('encode → decode is the identity, and decoded values re-encode to the same bytes', () => {
    fc.assert(
      fc.property(anyAttestation, (a) => {
        const bytes = encodeAttestation(a)
        expect(bytes.length).toBeLessThanOrEqual(MAX_ATTESTATION_BYTES)
        const d = decodeAttestation(bytes)
        expect(plainBody(d.body)).toEqual(plainBody(a.body))
        expect(d.body.snapshotCid.equals(a.body.snapshotCid)).toBe(true)
        expect(d.signer).toBe(a.signer)
        expect(d.signature).toBe(a.signature)
        expect(typeof d.body.chainId).toBe('bigint')
        expect(typeof d.body.blockNumber).toBe('bigint')
        expect(Buffer.compare(encodeAttestation(d), bytes)).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('round-trips the extremes: 64-character adapterId, chainId/blockNumber 2^64-1 and 0, specVersion 2^32-1', () => {
    for (const over of [
      { adapterId: 'a'.repeat(64), chainId: (1n << 64n) - 1n, blockNumber: (1n << 64n) - 1n, specVersion: 0xffffffff, kind: 1 },
      { adapterId: 'a', chainId: 0n, blockNumber: 0n, specVersion: 0, kind: 0 },
      { blockNumber: BigInt(Number.MAX_SAFE_INTEGER) + 1n }, // decodes as bigint, not a lossy number
    ]) {
      const a: SignedAttestation = { body: body(over), signer: addr(OP[0]!), signature: `0x${'01'.repeat(65)}` }
      const bytes = encodeAttestation(a)
      const d = decodeAttestation(bytes)
      expect(plainBody(d.body)).toEqual(plainBody(a.body))
      expect(Buffer.compare(encodeAttestation(d), bytes)).toBe(0)
    }
  })

  it('a signed attestation survives the wire and still verifies', async () => {
    const a = await sign(body(), OP[2]!)
    const d = decodeAttestation(encodeAttestation(a))
    await verifyAttestation(d)
    expect(checkpointKey(d.body)).toBe(checkpointKey(a.body))
    expect(contentKey(d.body)).toBe(contentKey(a.body))
  })

  it('checks the size before decoding: 1025 bytes → OVERSIZED, even if garbage; 1024 garbage bytes → MALFORMED', async () => {
    await expectReason(() => decodeAttestation(new Uint8Array(MAX_ATTESTATION_BYTES + 1).fill(0xff)), 'OVERSIZED')
    await expectReason(() => decodeAttestation(new Uint8Array(MAX_ATTESTATION_BYTES).fill(0xff)), 'MALFORMED')
    // well-formed CBOR with every field, just too long
    const a = await sign(body(), OP[0]!)
    const big = tweak(encodeAttestation(a), { adapterId: 'x'.repeat(1000) })
    expect(big.length).toBeGreaterThan(MAX_ATTESTATION_BYTES)
    await expectReason(() => decodeAttestation(big), 'OVERSIZED')
    // padded with a trailing byte to exactly 1025
    const bytes = encodeAttestation(a)
    const padded = Buffer.concat([bytes, new Uint8Array(MAX_ATTESTATION_BYTES + 1 - bytes.length)])
    await expectReason(() => decodeAttestation(padded), 'OVERSIZED')
  })

  it('rejects an extra or a missing field with UNKNOWN_FIELD', async () => {
    const bytes = encodeAttestation(await sign(body(), OP[0]!))
    await expectReason(() => decodeAttestation(tweak(bytes, { extra: 1 })), 'UNKNOWN_FIELD')
    await expectReason(() => decodeAttestation(tweak(bytes, {}, ['kind'])), 'UNKNOWN_FIELD')
    await expectReason(() => decodeAttestation(tweak(bytes, { snapshotCid: wireMap(bytes).snapshot }, ['snapshot'])), 'UNKNOWN_FIELD')
  })

  it('rejects another wire version with BAD_VERSION and another type with MALFORMED', async () => {
    const bytes = encodeAttestation(await sign(body(), OP[0]!))
    await expectReason(() => decodeAttestation(tweak(bytes, { v: 2 })), 'BAD_VERSION')
    await expectReason(() => decodeAttestation(tweak(bytes, { v: 0 })), 'BAD_VERSION')
    await expectReason(() => decodeAttestation(tweak(bytes, { type: 'ark.certificate' })), 'MALFORMED')
  })

  it('rejects non-canonical encodings of a valid attestation', async () => {
    const bytes = encodeAttestation(await sign(body(), OP[0]!))
    const pairs = pairsOf(bytes)
    // sanity: the raw builder reproduces the canonical bytes
    expect(Buffer.compare(rawMap(pairs), bytes)).toBe(0)
    decodeAttestation(rawMap(pairs))

    const cases: [string, Uint8Array][] = [
      ['trailing byte', Buffer.concat([bytes, Uint8Array.of(0)])],
      ['unsorted keys', rawMap([...pairs].reverse())],
      ['float for v', rawMap(pairs.map(([k, v]) => [k, k === 'v' ? float64(1) : v]))],
      ['float for kind', rawMap(pairs.map(([k, v]) => [k, k === 'kind' ? float64(0) : v]))],
      ['float for blockNumber', rawMap(pairs.map(([k, v]) => [k, k === 'blockNumber' ? float64(1000) : v]))],
      ['non-minimal integer', rawMap(pairs.map(([k, v]) => [k, k === 'specVersion' ? Uint8Array.of(0x18, 0x01) : v]))],
      ['truncated', bytes.subarray(0, bytes.length - 1)],
      ['empty', new Uint8Array(0)],
    ]
    for (const [what, b] of cases) {
      expect(Buffer.compare(b, bytes), what).not.toBe(0)
      const err = await expectReason(() => decodeAttestation(b), 'MALFORMED')
      expect(err).toBeInstanceOf(ProtocolError)
    }
  })

  it('rejects out-of-range and mistyped fields with MALFORMED', async () => {
    const bytes = encodeAttestation(await sign(body(), OP[0]!))
    const m = wireMap(bytes)
    const bad: Record<string, unknown>[] = [
      { adapterId: '' },
      { adapterId: 'a'.repeat(65) },
      { adapterId: 7 },
      { configHash: new Uint8Array(31) },
      { blockHash: new Uint8Array(33) },
      { stateRoot: 'ab'.repeat(32) },
      { blockNumber: -1 },
      { blockNumber: 'x' },
      { blockNumber: 1.5 },
      { chainId: -5 },
      { specVersion: 0x100000000 },
      { kind: 3 }, // kinds 0, 1, 2 exist (2: restitution, PROTOCOL "Restitution (kind 2)")
      { kind: -1 },
      { snapshot: (m.snapshot as { bytes: Uint8Array }).bytes }, // bytes, not a CID link
      { signer: new Uint8Array(21) },
      { signature: new Uint8Array(64) },
    ]
    for (const change of bad) {
      await expectReason(() => decodeAttestation(tweak(bytes, change)), 'MALFORMED')
    }
    await expectReason(() => decodeAttestation(cbor(['ark.attestation'])), 'MALFORMED')
    await expectReason(() => decodeAttestation(cbor(null)), 'MALFORMED')
    await expectReason(() => decodeAttestation(cbor('ark.attestation')), 'MALFORMED')
  })
})
