/**
 * The stateRoot is an OpenZeppelin StandardMerkleTree root, proofs are the ones
 * OpenZeppelin computes, and abiEncode is Solidity's abi.encode (checked
 * against viem). These are what on-chain verifiers rely on.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { encodeAbiParameters, type AbiParameter } from 'viem'
import { abiEncode } from '../../snapshot/abi/encode.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { findLeaf, processProof, treeProof } from '../../snapshot/merkle/standard-tree.ts'
import { DERIVATIVES_LEAF_ENCODING, encodeAccount } from '../../snapshot/schema/derivatives.ts'
import { leafHashOf } from '../../snapshot/state/leaves.ts'
import { applyChanges } from '../../snapshot/state/build.ts'
import { arbAccounts, build, EMPTY_MARKETS, fcOpts, hex, META, schema, type Account } from './support.ts'

const LEAF_ENCODING = [...DERIVATIVES_LEAF_ENCODING]

/** The proof-leaf values in the form OpenZeppelin's tooling takes (hex strings, decimal strings). */
function ozValue(a: Account): [string, string, string[], string[]] {
  const bytes = encodeAccount(a.record, 'x').bytes
  const sorted = [...a.record.collateral].sort((x, y) => Buffer.compare(Buffer.from(x.asset.slice(2), 'hex'), Buffer.from(y.asset.slice(2), 'hex')))
  return [hex(a.key), hex(keccak256(bytes)), sorted.map((c) => c.asset.toLowerCase()), sorted.map((c) => c.amount.toString())]
}

describe('stateRoot = OpenZeppelin StandardMerkleTree', () => {
  it('root and every proof match @openzeppelin/merkle-tree', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(1, 80), async (accounts) => {
        const { snapshot } = await build(accounts)
        const values = accounts.map(ozValue)
        const oz = StandardMerkleTree.of(values, LEAF_ENCODING)
        expect(snapshot.root.stateRoot).toBe(oz.root)

        const merkle = (await snapshot.merkle())!
        const n = accounts.length
        for (let i = 0; i < accounts.length; i++) {
          const a = accounts[i]!
          const raw = (await snapshot.getRaw(a.key))!
          const leaf = leafHashOf(schema, a.key, schema.decode(raw, 'r'), raw)
          const at = findLeaf(merkle.sortedLeaves, leaf)
          expect(at).toBeGreaterThanOrEqual(0)
          const proof = treeProof(merkle.tree, n, at).map(hex)
          expect(proof).toEqual(oz.getProof(values[i]!))
          expect(StandardMerkleTree.verify(snapshot.root.stateRoot, LEAF_ENCODING, values[i]!, proof)).toBe(true)
          expect(hex(processProof(leaf, treeProof(merkle.tree, n, at)))).toBe(snapshot.root.stateRoot)
          // OpenZeppelin's leaf hash for the same values is ours
          expect(oz.leafHash(values[i]!)).toBe(hex(leaf))
        }
        // a proof does not verify a different record
        const other = ozValue(accounts[0]!)
        other[1] = hex(keccak256(Uint8Array.of(1)))
        expect(StandardMerkleTree.verify(snapshot.root.stateRoot, LEAF_ENCODING, other, oz.getProof(0))).toBe(false)
      }),
      fcOpts(30),
    )
  })

  it('an updated snapshot (applyChanges) keeps the OpenZeppelin root of its new set', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(2, 60), arbAccounts(1, 10), async (base, extra) => {
        const fresh = extra.filter((x) => !base.some((b) => Buffer.compare(b.key, x.key) === 0))
        const { snapshot } = await build(base)
        const changed = [{ key: base[0]!.key, record: null }, ...fresh.map((x) => ({ key: x.key, record: x.record }))]
        const next = (await applyChanges(snapshot, changed, { meta: META, markets: EMPTY_MARKETS })).snapshot
        const set = [...base.slice(1), ...fresh]
        expect(next.root.stateRoot).toBe(StandardMerkleTree.of(set.map(ozValue), LEAF_ENCODING).root)
      }),
      fcOpts(20),
    )
  })
})

// ------------------------------------------------------------------ abiEncode

type Gen = { type: string; value: fc.Arbitrary<unknown>; ours?: (v: unknown) => unknown }

const BITS = Array.from({ length: 32 }, (_, i) => 8 * (i + 1))

function baseTypes(): fc.Arbitrary<Gen> {
  return fc.oneof(
    fc.constant<Gen>({ type: 'address', value: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hex) }),
    fc.constant<Gen>({ type: 'bool', value: fc.boolean() }),
    fc.integer({ min: 1, max: 32 }).map((n): Gen => ({ type: `bytes${n}`, value: fc.uint8Array({ minLength: n, maxLength: n }).map(hex) })),
    fc.constantFrom(...BITS).map((b): Gen => {
      const max = (1n << BigInt(b)) - 1n
      return { type: `uint${b}`, value: fc.oneof(fc.bigInt({ min: 0n, max }), fc.constantFrom(0n, max, max >> 1n)) }
    }),
    fc.constantFrom(...BITS).map((b): Gen => {
      const min = -(1n << BigInt(b - 1))
      const max = (1n << BigInt(b - 1)) - 1n
      return { type: `int${b}`, value: fc.oneof(fc.bigInt({ min, max }), fc.constantFrom(min, max, -1n, 0n)) }
    }),
  )
}

const arbParam: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 3, arbitrary: baseTypes() },
  { weight: 1, arbitrary: baseTypes().map((g): Gen => ({ type: `${g.type}[]`, value: fc.array(g.value, { maxLength: 6 }) })) },
)

const arbParams = fc.array(arbParam, { minLength: 1, maxLength: 6 }).chain((gens) => fc.tuple(fc.constant(gens.map((g) => g.type)), fc.tuple(...gens.map((g) => g.value))))

/** The alternative input forms abiEncode accepts for the same value. */
function altForm(type: string, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => altForm(type.slice(0, -2), x))
  if (typeof v === 'bigint') return Math.abs(Number(v)) <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString()
  if (type === 'address' || type.startsWith('bytes')) return Buffer.from((v as string).slice(2), 'hex')
  return v
}

describe('abiEncode = viem encodeAbiParameters', () => {
  it('random parameter lists of every supported type', () => {
    fc.assert(
      fc.property(arbParams, fc.boolean(), ([types, values], alt) => {
        const params: AbiParameter[] = types.map((type) => ({ type }))
        const want = encodeAbiParameters(params, values as unknown[])
        const input = alt ? values.map((v, i) => altForm(types[i]!, v)) : values
        expect(hex(abiEncode(types, input))).toBe(want)
      }),
      fcOpts(300),
    )
  })

  it('the derivatives leaf encoding, with mixed-case addresses', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.bigInt({ min: 1n, max: (1n << 256n) - 1n })), { maxLength: 5 }),
        (acct, h, coll) => {
          const values = [hex(acct), hex(h), coll.map(([a]) => hex(a)), coll.map(([, x]) => x)] as const
          const want = encodeAbiParameters(
            LEAF_ENCODING.map((type) => ({ type })),
            values as unknown as unknown[],
          )
          const upper = [`0x${hex(acct).slice(2).toUpperCase()}`, h, coll.map(([a]) => a), coll.map(([, x]) => x.toString())]
          expect(hex(abiEncode(LEAF_ENCODING, upper))).toBe(want)
        },
      ),
      fcOpts(100),
    )
  })

  it('rejects values the type cannot hold instead of truncating them', () => {
    expect(() => abiEncode(['uint8'], [256n])).toThrow(/out of range/)
    expect(() => abiEncode(['int8'], [-129n])).toThrow(/out of range/)
    expect(() => abiEncode(['uint256'], [-1n])).toThrow(/out of range/)
    expect(() => abiEncode(['bytes4'], ['0x0102'])).toThrow(/4 bytes/)
    expect(() => abiEncode(['address'], [`0x${'00'.repeat(19)}`])).toThrow(/20 bytes/)
    expect(() => abiEncode(['bool'], [1])).toThrow(/boolean/)
    expect(() => abiEncode(['string'], ['x'])).toThrow(/not supported/)
    expect(() => abiEncode(['uint7'], [1n])).toThrow(/not supported/)
    expect(() => abiEncode(['bytes33'], ['0x00'])).toThrow(/not supported/)
    expect(() => abiEncode(['uint256[]'], [1n])).toThrow(/must be an array/)
    expect(() => abiEncode(['uint256', 'bool'], [1n])).toThrow(/needs 2 values/)
  })
})
