/**
 * The hand-written hot paths produce exactly what the generic libraries do:
 * the account record encoder equals @ipld/dag-cbor over the IPLD form, the
 * strict decoder accepts exactly the byte strings the decode-and-re-encode
 * reference accepts, the bytes-to-leaf-hash path equals abi.encode of the
 * leaf values, and keccak, the Merkle tree, the key sort, CIDs and tree node
 * parsing equal their reference implementations. Nothing here may change a
 * byte of any snapshot; these tests pin that down for random inputs.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createHash } from 'node:crypto'
import { abiEncode } from '../../snapshot/abi/encode.ts'
import { cidOf, decodeBlock } from '../../snapshot/codec/block.ts'
import { CborWriter } from '../../snapshot/codec/cbor-write.ts'
import { addressToBytes, bytesToHex, compareBytes, equalBytes, parseAddress } from '../../snapshot/codec/hex.ts'
import { checkInt, INT256, intFromIpld, intToIpld, UINT256, UINT64 } from '../../snapshot/codec/int.ts'
import { doubleKeccak256Into, keccak256, keccak256Pair } from '../../snapshot/codec/keccak.ts'
import { sortKeys } from '../../snapshot/codec/sort.ts'
import { MalformedBlockError } from '../../snapshot/errors.ts'
import { buildStandardTree, sortHashes, standardLeafHash } from '../../snapshot/merkle/standard-tree.ts'
import { isCanonicalAccount } from '../../snapshot/schema/derivatives-check.ts'
import { decodeAccount, derivativesSchema, encodeAccount, type AccountRecord, type OptionPosition } from '../../snapshot/schema/derivatives.ts'
import { cidKey } from '../../snapshot/store.ts'
import { decodeNode, encodeBranch, type ChildRef } from '../../snapshot/tree/node.ts'
import { arbInt256, arbKey, arbRecord, fcOpts } from './support.ts'

// ------------------------------------------------------------ reference codec

const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)
const cmpOption = (a: OptionPosition, b: OptionPosition): number =>
  cmpBig(a.market, b.market) || Number(a.isCall) - Number(b.isCall) || cmpBig(a.strike, b.strike) || cmpBig(a.expiry, b.expiry)

/** The record's IPLD form exactly as the previous (dag-cbor based) encoder built it. */
function ipldOf(r: AccountRecord): unknown {
  const coll = r.collateral.map((c) => ({ asset: addressToBytes(c.asset), amount: checkInt(c.amount, UINT256, 'a') })).sort((a, b) => compareBytes(a.asset, b.asset))
  const perps = [...r.perps].sort((a, b) => cmpBig(a.market, b.market))
  const opts = [...r.options].sort(cmpOption)
  return [
    coll.map((c) => [c.asset, intToIpld(c.amount)]),
    perps.map((p) => [intToIpld(p.market), intToIpld(p.size), intToIpld(p.entryPrice), intToIpld(p.fundingIndex)]),
    opts.map((o) => [intToIpld(o.market), o.isCall, intToIpld(o.strike), intToIpld(o.expiry), intToIpld(o.size)]),
  ]
}

/** The previous decoder: dag-cbor decode, shape and integer checks, then re-encode and compare. */
function referenceDecode(bytes: Uint8Array): AccountRecord {
  const v = dagCbor.decode(bytes) as unknown[][]
  if (!Array.isArray(v) || v.length !== 3 || !v.every(Array.isArray)) throw new MalformedBlockError('shape')
  const [c, p, o] = v as unknown[][][]
  const rec: AccountRecord = {
    collateral: c!.map((x) => {
      if (!Array.isArray(x) || x.length !== 2 || !(x[0] instanceof Uint8Array) || x[0].length !== 20) throw new MalformedBlockError('collateral')
      return { asset: bytesToHex(x[0]), amount: intFromIpld(x[1], UINT256, 'amount') }
    }),
    perps: p!.map((x) => {
      if (!Array.isArray(x) || x.length !== 4) throw new MalformedBlockError('perp')
      return { market: intFromIpld(x[0], UINT64, 'm'), size: intFromIpld(x[1], INT256, 's'), entryPrice: intFromIpld(x[2], UINT256, 'e'), fundingIndex: intFromIpld(x[3], INT256, 'f') }
    }),
    options: o!.map((x) => {
      if (!Array.isArray(x) || x.length !== 5 || typeof x[1] !== 'boolean') throw new MalformedBlockError('option')
      return { market: intFromIpld(x[0], UINT64, 'm'), isCall: x[1], strike: intFromIpld(x[2], UINT256, 's'), expiry: intFromIpld(x[3], UINT64, 'e'), size: intFromIpld(x[4], INT256, 'z') }
    }),
  }
  let again: Uint8Array
  try {
    again = dagCbor.encode(ipldOf(rec))
    encodeAccount(rec, 'r') // zero amounts, empty records, duplicates
  } catch (cause) {
    throw new MalformedBlockError('not canonical', { cause })
  }
  if (!equalBytes(again, bytes)) throw new MalformedBlockError('not canonical')
  return rec
}

/** Outcome of a decoder: the record, or that it threw (a MalformedBlockError, nothing else). */
function outcome(decode: (b: Uint8Array) => AccountRecord, bytes: Uint8Array): AccountRecord | 'rejected' {
  try {
    return decode(bytes)
  } catch (e) {
    if (!(e instanceof MalformedBlockError)) {
      // dag-cbor's own errors (the reference) count as a rejection too
      if (decode !== referenceDecode) throw e
    }
    return 'rejected'
  }
}

/** Inputs may be given as safe numbers or decimal strings as well as bigints. */
function loosen(r: AccountRecord, seed: number): AccountRecord {
  let i = seed
  const as = (v: bigint): bigint => {
    i++
    if (i % 3 === 0 && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v) as unknown as bigint
    if (i % 3 === 1) return v.toString() as unknown as bigint
    return v
  }
  return {
    collateral: r.collateral.map((c) => ({ asset: c.asset, amount: as(c.amount) })),
    perps: r.perps.map((p) => ({ market: as(p.market), size: as(p.size), entryPrice: as(p.entryPrice), fundingIndex: as(p.fundingIndex) })),
    options: r.options.map((o) => ({ market: as(o.market), isCall: o.isCall, strike: as(o.strike), expiry: as(o.expiry), size: as(o.size) })),
  }
}

describe('account record codec', () => {
  it('encodeAccount writes the bytes dag-cbor writes for the IPLD form (values beyond 2^64 and negative included)', () => {
    fc.assert(
      fc.property(arbRecord, fc.nat(), (r, seed) => {
        const want = dagCbor.encode(ipldOf(r))
        expect(bytesToHex(encodeAccount(r, 'r').bytes)).toBe(bytesToHex(want))
        expect(bytesToHex(encodeAccount(loosen(r, seed), 'r').bytes)).toBe(bytesToHex(want))
      }),
      fcOpts(500),
    )
  })

  it('encoded bytes are independent copies that later encodes do not overwrite', () => {
    const records = fc.sample(arbRecord, { numRuns: 300, seed: 7 })
    const encoded = records.map((r) => encodeAccount(r, 'r').bytes)
    records.forEach((r, i) => expect(bytesToHex(encoded[i]!)).toBe(bytesToHex(dagCbor.encode(ipldOf(r)))))
  })

  it('decodeAccount inverts encodeAccount and agrees with the reference decoder', () => {
    fc.assert(
      fc.property(arbRecord, (r) => {
        const bytes = encodeAccount(r, 'r').bytes
        const got = decodeAccount(bytes, 'r')
        expect(got).toEqual(referenceDecode(bytes))
        expect(bytesToHex(encodeAccount(got, 'r').bytes)).toBe(bytesToHex(bytes))
      }),
      fcOpts(300),
    )
  })

  it('decodeAccount accepts exactly what the reference accepts, for corrupted records', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
    )
    fc.assert(
      fc.property(arbRecord, fc.array(mutation, { minLength: 1, maxLength: 3 }), (r, ms) => {
        let b = Uint8Array.from(encodeAccount(r, 'r').bytes)
        for (const m of ms) {
          const at = m.at % (b.length + 1)
          if (m.kind === 'flip' && at < b.length) b[at] = m.value
          else if (m.kind === 'cut') b = b.slice(0, at)
          else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), m.value, ...b.subarray(at)])
          else if (m.kind === 'delete' && at < b.length) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)])
        }
        expect(outcome((x) => decodeAccount(x, 'r'), b)).toEqual(outcome(referenceDecode, b))
      }),
      fcOpts(3000),
    )
  })

  it('hand-picked non-canonical forms are rejected as MALFORMED_BLOCK', () => {
    const a = addressToBytes(`0x${'a0'.repeat(20)}`)
    const cases: unknown[] = [
      [[[a, 1]], [], [], []],
      [[[a, 0]], [], []],
      [[[a, 1.5]], [], []],
      [[[a, -1]], [], []],
      [[[a, Uint8Array.of(0, 1)]], [], []],
      [[[a, Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)]], [], []],
      [[[a, Uint8Array.of(2, 1, 0, 0, 0, 0, 0, 0, 0, 0)]], [], []],
      [[], [[1, 1, 0, 0], [1, 2, 0, 0]], []],
      [[], [[2, 1, 0, 0], [1, 2, 0, 0]], []],
      [[], [], [[1, null, 1, 1, 1]]],
      [[], [], [[1, true, 1, 1, 1], [1, false, 1, 1, 1]]],
      [[], [], []],
      { collateral: [] },
    ]
    for (const v of cases) {
      const bytes = dagCbor.encode(v)
      expect(() => decodeAccount(bytes, 'r')).toThrow(MalformedBlockError)
      expect(() => referenceDecode(bytes)).toThrow()
    }
    // non-minimal head for an integer, and trailing bytes
    const good = encodeAccount({ collateral: [{ asset: bytesToHex(a), amount: 5n }], perps: [], options: [] }, 'r').bytes
    const nonMinimal = Uint8Array.from([...good.subarray(0, good.length - 1), 0x18, 5])
    expect(() => decodeAccount(nonMinimal, 'r')).toThrow(MalformedBlockError)
    expect(() => decodeAccount(Uint8Array.from([...good, 0]), 'r')).toThrow(MalformedBlockError)
  })
})

describe('allocation-free record check (verification fast path)', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
  )
  const accepts = (b: Uint8Array): boolean => outcome((x) => decodeAccount(x, 'r'), b) !== 'rejected'

  it('says true only for bytes decodeAccount accepts, for valid and corrupted records', () => {
    let sure = 0
    let valid = 0
    fc.assert(
      fc.property(arbRecord, fc.array(mutation, { maxLength: 3 }), (r, ms) => {
        let b = Uint8Array.from(encodeAccount(r, 'r').bytes)
        for (const m of ms) {
          const at = m.at % (b.length + 1)
          if (m.kind === 'flip' && at < b.length) b[at] = m.value
          else if (m.kind === 'cut') b = b.slice(0, at)
          else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), m.value, ...b.subarray(at)])
          else if (m.kind === 'delete' && at < b.length) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)])
        }
        const fast = isCanonicalAccount(b)
        if (fast) expect(accepts(b)).toBe(true)
        if (ms.length === 0) {
          valid++
          if (fast) sure++
        }
      }),
      fcOpts(5000),
    )
    // it is a fast path, not a fallback for everything: most valid records take it
    expect(sure).toBeGreaterThan(valid / 2)
  })

  it('says false for hand-picked non-canonical forms, and true for boundary values the decoder accepts', () => {
    const a = addressToBytes(`0x${'a0'.repeat(20)}`)
    const b2 = addressToBytes(`0x${'b0'.repeat(20)}`)
    const bad: unknown[] = [
      [[[a, 1]], [], [], []],
      [[[a, 0]], [], []],
      [[[a, -1]], [], []],
      [[[a, Uint8Array.of(0, 1)]], [], []],
      [[[a, Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)]], [], []],
      [[[a, Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 0)]], [], []],
      [[[b2, 1], [a, 1]], [], []],
      [[[a, 1], [a, 2]], [], []],
      [[], [[1, 1, 0, 0], [1, 2, 0, 0]], []],
      [[], [[2, 1, 0, 0], [1, 2, 0, 0]], []],
      [[], [[1, 0, 0, 0]], []],
      [[], [], [[1, null, 1, 1, 1]]],
      [[], [], [[1, true, 1, 1, 1], [1, false, 1, 1, 1]]],
      [[], [], [[1, false, 2, 1, 1], [1, false, 1, 1, 1]]],
      [[], [], [[1, false, 1, 1, 1], [1, false, 1, 1, 1]]],
      [[], [], []],
    ]
    for (const v of bad) {
      const bytes = dagCbor.encode(v)
      expect(isCanonicalAccount(bytes)).toBe(false)
      expect(accepts(bytes)).toBe(false)
    }
    const max255 = (1n << 255n) - 1n
    const good: AccountRecord[] = [
      { collateral: [{ asset: bytesToHex(a), amount: (1n << 256n) - 1n }, { asset: bytesToHex(b2), amount: 1n << 64n }], perps: [], options: [] },
      { collateral: [], perps: [{ market: (1n << 64n) - 1n, size: -max255, entryPrice: 0n, fundingIndex: max255 }, { market: 1n, size: -(1n << 64n) - 1n, entryPrice: 1n << 200n, fundingIndex: -1n }], options: [] },
      { collateral: [], perps: [], options: [{ market: 1n, isCall: false, strike: 1n << 70n, expiry: 5n, size: 1n }, { market: 1n, isCall: false, strike: 1n << 71n, expiry: 0n, size: -7n }, { market: 1n, isCall: true, strike: 0n, expiry: 0n, size: 2n }] },
    ]
    for (const r of good) expect(isCanonicalAccount(encodeAccount(r, 'r').bytes)).toBe(true)
  })
})

describe('proof leaf from record bytes', () => {
  it('equals the generic path: abi.encode of leaf(key, decode(bytes), keccak256(bytes)), double-hashed', () => {
    fc.assert(
      fc.property(arbKey, arbRecord, (key, r) => {
        const bytes = encodeAccount(r, 'r').bytes
        const values = derivativesSchema.leaf(key, decodeAccount(bytes, 'r'), keccak256(bytes))
        const want = standardLeafHash(abiEncode(derivativesSchema.leafEncoding, values))
        const got = new Uint8Array(32)
        expect(derivativesSchema.leafHash.into(key, bytes, got, 0)).toBe(true)
        expect(bytesToHex(got)).toBe(bytesToHex(want))
      }),
      fcOpts(500),
    )
  })

  it('many collateral entries (a two-byte array head) agree too; beyond the scratch buffer it declines', () => {
    const key = new Uint8Array(20).fill(9)
    for (const [n, handled] of [[60, true], [70, false]] as const) {
      const collateral = Array.from({ length: n }, (_, i) => ({ asset: `0x${(i + 1).toString(16).padStart(40, '0')}`, amount: (1n << BigInt(i * 3)) + BigInt(i) }))
      const bytes = encodeAccount({ collateral, perps: [], options: [] }, 'r').bytes
      const want = standardLeafHash(abiEncode(derivativesSchema.leafEncoding, derivativesSchema.leaf(key, decodeAccount(bytes, 'r'), keccak256(bytes))))
      const got = new Uint8Array(32)
      expect(derivativesSchema.leafHash.into(key, bytes, got, 0)).toBe(handled)
      if (handled) expect(bytesToHex(got)).toBe(bytesToHex(want))
    }
  })
})

describe('integers, hex, keccak', () => {
  it('CborWriter.int writes dag-cbor of the integer rule', () => {
    const w = new CborWriter()
    fc.assert(
      fc.property(fc.oneof(arbInt256, fc.bigInt({ min: -(1n << 300n), max: 1n << 300n })), (v) => {
        w.begin()
        w.int(v)
        expect(bytesToHex(w.finish())).toBe(bytesToHex(dagCbor.encode(intToIpld(v))))
      }),
      fcOpts(2000),
    )
  })

  it('parseAddress accepts exactly what addressToBytes accepts', () => {
    const arb = fc.oneof(
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b)),
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b).toUpperCase()),
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${bytesToHex(b).slice(2).toUpperCase()}`),
      fc.string({ minLength: 40, maxLength: 44 }),
      fc.string({ minLength: 40, maxLength: 40 }).map((s) => `0x${s}`),
    )
    fc.assert(
      fc.property(arb, (s) => {
        let want: string | undefined
        try {
          want = bytesToHex(addressToBytes(s))
        } catch {
          want = undefined
        }
        const got = parseAddress(s)
        expect(got === undefined ? undefined : bytesToHex(got)).toBe(want)
      }),
      fcOpts(2000),
    )
  })

  it('bytesToHex is lower-case hex of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(bytesToHex(b)).toBe(`0x${Buffer.from(b).toString('hex')}`)
      }),
    )
  })

  it('keccak256 equals @noble/hashes for every length around the 136-byte rate', () => {
    for (let len = 0; len <= 700; len++) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 131 + len * 7) & 0xff)
      expect(bytesToHex(keccak256(data))).toBe(bytesToHex(keccak_256(data)))
    }
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => i & 0xff)
    expect(bytesToHex(keccak256(big))).toBe(bytesToHex(keccak_256(big)))
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ maxLength: 400 }), (a, b) => {
        expect(bytesToHex(keccak256Pair(a, b))).toBe(bytesToHex(keccak_256(Uint8Array.from([...a, ...b]))))
        const out = new Uint8Array(40)
        doubleKeccak256Into(a, out, 3)
        expect(bytesToHex(out.subarray(3, 35))).toBe(bytesToHex(keccak_256(keccak_256(a))))
      }),
    )
  })
})

describe('Merkle tree, sorting, CIDs, tree nodes', () => {
  /** OpenZeppelin's array tree, written out naively. */
  function referenceTree(leaves: Uint8Array[]): Uint8Array[] {
    const sorted = [...leaves].sort((a, b) => Buffer.compare(a, b))
    const n = sorted.length
    const tree: Uint8Array[] = new Array(2 * n - 1)
    sorted.forEach((h, i) => (tree[2 * n - 2 - i] = h))
    for (let i = n - 2; i >= 0; i--) {
      const [a, b] = [tree[2 * i + 1]!, tree[2 * i + 2]!]
      tree[i] = keccak_256(Buffer.compare(a, b) <= 0 ? Uint8Array.from([...a, ...b]) : Uint8Array.from([...b, ...a]))
    }
    return tree
  }

  it('buildStandardTree(sortHashes(...)) equals the naive tree, across batch boundaries and with equal leaves', () => {
    for (const n of [1, 2, 3, 4, 5, 7, 100, 4097, 8193, 12_000]) {
      const leaves = Array.from({ length: n }, (_, i) => keccak_256(Uint8Array.of(i & 0xff, i >> 8, n & 0xff)))
      if (n > 4) leaves[3] = leaves[1]! // equal children must hash too
      const flat = new Uint8Array(32 * n)
      leaves.forEach((h, i) => flat.set(h, 32 * i))
      const tree = buildStandardTree(sortHashes(flat))
      const want = referenceTree(leaves)
      expect(tree.length).toBe(32 * want.length)
      want.forEach((h, i) => expect(bytesToHex(tree.subarray(32 * i, 32 * i + 32))).toBe(bytesToHex(h)))
    }
  })

  it('sortHashes sorts bytewise, also when many hashes share a prefix (crowded buckets, equal hashes)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 400 }), fc.integer({ min: 0, max: 32 }), (raw, shared) => {
        const items = raw.map((b, i) => Uint8Array.from(i % 7 === 0 && i > 0 ? raw[i - 1]! : b).fill(0x99, 0, shared))
        const flat = new Uint8Array(32 * items.length)
        items.forEach((b, i) => flat.set(b, 32 * i))
        const got = sortHashes(flat)
        const want = [...items].sort((x, y) => Buffer.compare(x, y))
        want.forEach((h, i) => expect(bytesToHex(got.subarray(32 * i, 32 * i + 32))).toBe(bytesToHex(h)))
      }),
      fcOpts(300),
    )
  })

  it('sortKeys sorts fixed-width items bytewise, stable on ties, with crowded prefixes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.uint8Array({ minLength: 40, maxLength: 40 }), { maxLength: 300 }),
        fc.integer({ min: 0, max: 40 }),
        (width, raw, shared) => {
          // many items share a prefix (buckets over 32 take the comparison-sort path); every 5th repeats its predecessor
          const items = raw.map((b, i) => Uint8Array.from((i % 5 === 4 ? raw[i - 1]! : b).subarray(0, width)).fill(0x42, 0, Math.min(shared, width)))
          const flat = new Uint8Array(width * items.length)
          items.forEach((b, i) => flat.set(b, width * i))
          const { order, sorted } = sortKeys(flat, width)
          const want = items.map((_, i) => i).sort((x, y) => Buffer.compare(items[x]!, items[y]!) || x - y)
          expect([...order]).toEqual(want)
          want.forEach((i, j) => expect(bytesToHex(sorted.subarray(width * j, width * j + width))).toBe(bytesToHex(items[i]!)))
        },
      ),
      fcOpts(300),
    )
  })

  it('cidOf and cidKey equal multiformats', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const want = CID.createV1(0x71, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
        const cid = cidOf(bytes)
        expect(cid.equals(want)).toBe(true)
        expect(cid.toString()).toBe(want.toString())
        expect(cidKey(cid)).toBe(want.toString())
        expect(bytesToHex(cid.bytes)).toBe(bytesToHex(want.bytes))
      }),
      fcOpts(300),
    )
    const v0 = CID.createV0(Digest.create(0x12, new Uint8Array(32).fill(1)))
    expect(cidKey(v0)).toBe(v0.toString())
  })

  it('branch nodes parse (fast path) exactly like the generic dag-cbor decode', () => {
    const arbChildren = fc.uniqueArray(fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 32 - 1 })), {
      minLength: 1,
      maxLength: 40,
      selector: ([k]) => bytesToHex(k),
    })
    fc.assert(
      fc.property(arbChildren, fc.integer({ min: 1, max: 64 }), (rows, level) => {
        const children: ChildRef[] = rows
          .sort((a, b) => Buffer.compare(a[0], b[0]))
          .map(([firstKey, body, count]) => ({ firstKey, cid: cidOf(body), count, level: level - 1 }))
        const block = encodeBranch(level, children)
        expect(bytesToHex(block.bytes)).toBe(bytesToHex(dagCbor.encode([level, children.map((c) => [c.firstKey, c.cid, c.count])])))
        const node = decodeNode(block.cid, block.bytes, 20) as { level: number; children: ChildRef[] }
        const generic = decodeBlock(block.cid, block.bytes) as [number, [Uint8Array, CID, number][]]
        expect(node.level).toBe(level)
        expect(node.children.map((c) => [bytesToHex(c.firstKey), c.cid.toString(), c.count, c.level])).toEqual(
          generic[1].map(([k, cid, count]) => [bytesToHex(k), cid.toString(), count, level - 1]),
        )
        node.children.forEach((c, i) => expect(c.cid.equals(children[i]!.cid)).toBe(true))
      }),
      fcOpts(200),
    )
  })
})
