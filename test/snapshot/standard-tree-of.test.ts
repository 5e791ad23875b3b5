/**
 * standardTreeOf (the stateRoot pipeline from leaf values: scratch ABI encoding, flat leaf
 * hashes, bucket sort, batched pair hashes) is byte-identical to OpenZeppelin's
 * StandardMerkleTree.of: the same root and the same whole tree array (its standard-v1 dump),
 * for random values of mixed types, repeated leaves and sizes from 1 up past a hash batch.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { standardLeafHashes, standardTreeOf } from '../../snapshot/merkle/standard-tree.ts'
import { fcOpts } from './support.ts'

const ENCODING = ['address', 'uint256', 'bool', 'bytes32', 'int64[]']
const hexOf = (n: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b))
const leaf = fc.tuple(hexOf(20), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.boolean(), hexOf(32), fc.array(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), { maxLength: 4 }))
const toOz = (v: [string, bigint, boolean, string, bigint[]]): unknown[] => [v[0], v[1].toString(), v[2], v[3], v[4].map(String)]

describe('standardTreeOf = StandardMerkleTree.of', () => {
  it('same root and same tree array for random leaves (repeats included)', () => {
    fc.assert(
      fc.property(fc.array(leaf, { minLength: 1, maxLength: 60 }), fc.nat(5), (values, dupes) => {
        const all = [...values, ...values.slice(0, dupes)]
        const ours = standardTreeOf(ENCODING, all)
        const oz = StandardMerkleTree.of(all.map(toOz), ENCODING)
        expect(ours.root).toBe(oz.root)
        const tree = oz.dump().tree
        expect(ours.tree.length).toBe(tree.length * 32)
        tree.forEach((h, i) => expect(bytesToHex(ours.tree.subarray(i * 32, i * 32 + 32))).toBe(h))
        all.forEach((v, i) => expect(bytesToHex(standardLeafHashes(ENCODING, [v]))).toBe(oz.leafHash(toOz(all[i]!))))
      }),
      fcOpts(40),
    )
  })

  it('past one hash batch (PAIR_BATCH = 4096 pairs) the root still matches', () => {
    const values = Array.from({ length: 4200 }, (_, i) => [bytesToHex(Uint8Array.from({ length: 20 }, (_, j) => (i * 31 + j * 7) & 0xff)), BigInt(i) * 1_000_000_007n, i % 3 === 0, bytesToHex(new Uint8Array(32).fill(i & 0xff)), [BigInt(-i)]] as [string, bigint, boolean, string, bigint[]])
    expect(standardTreeOf(ENCODING, values).root).toBe(StandardMerkleTree.of(values.map(toOz), ENCODING).root)
  })
})
