/**
 * GOLDEN VECTORS for record schema ark.derivatives.account version 4 (SPEC §1.5:
 * the stateRoot commits to the account leaves, which carry the positions, AND to
 * the market state as tagged leaves). test/vectors/snapshot-derivatives-v4.json
 * was generated ONCE from golden-derivatives-v4-fixture.ts and committed; never
 * edit or regenerate it. Also: every account and market proof is a plain
 * OpenZeppelin proof against stateRoot (checked with @openzeppelin/merkle-tree),
 * and a property test that root and proofs do not depend on insertion order or
 * build path.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { CID } from 'multiformats/cid'
import { encodeAbiParameters, keccak256 as viemKeccak, parseAbiParameters, toHex } from 'viem'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import { marketLeafProof } from '../../snapshot/merkle/composed-root.ts'
import { abiValueToJSON } from '../../snapshot/proof/format.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { derivativesSchemaV3, type DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { ASSET_TAG_V4, BLOCK_TAG_V4, derivativesSchemaV4, MARKET_TAG_V4 } from '../../snapshot/schema/derivatives-v4.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { computeDerivativesV4Vectors, GOLDEN_META_V4 } from './golden-derivatives-v4-fixture.ts'
import { GOLDEN_MARKETS_V3 } from './golden-derivatives-v3-fixture.ts'
import { arbAccounts, fcOpts, prng, shuffle, type Account } from './support.ts'

interface Vectors {
  _comment: string
  specVersion: number
  schema: { id: string; version: number; leafEncoding: string[] }
  snapshot: { rootCid: string; stateRoot: string; marketsCid: string; rootBlock: string; marketsBlock: string; treeBlocks: { cid: string; hex: string }[] }
  accounts: { key: string; record: string; leafHash: string }[]
  composition: { accountsRoot: string; marketsRoot: string }
  marketLeaves: { kind: string; encoding: string[]; value: unknown[]; leafHash: string; proof: string[] }[]
  accountProofs: { value: unknown[]; proof: string[] }[]
}
const golden = JSON.parse(readFileSync(new URL('../vectors/snapshot-derivatives-v4.json', import.meta.url), 'utf8')) as Vectors
const v3 = JSON.parse(readFileSync(new URL('../vectors/snapshot-derivatives-v3.json', import.meta.url), 'utf8')) as Vectors

const ozVerify = (root: string, encoding: string[], value: unknown[], proof: string[]): boolean => StandardMerkleTree.verify(root, encoding, value as unknown[], proof)

describe('golden vectors: derivatives record schema v4', () => {
  it('the implementation reproduces every vector exactly; records, tree blocks and market block are v3\'s, the stateRoot is not', async () => {
    expect(golden._comment).toMatch(/never edit/i)
    expect(golden.schema).toMatchObject({ id: 'ark.derivatives.account', version: 4 })
    const { _comment, specVersion, ...expected } = golden
    void _comment
    expect(specVersion).toBe(1)
    expect(await computeDerivativesV4Vectors()).toEqual(expected)
    expect(golden.snapshot.treeBlocks).toEqual(v3.snapshot.treeBlocks)
    expect(golden.snapshot.marketsBlock).toBe(v3.snapshot.marketsBlock)
    expect(golden.accounts.map((a) => a.record)).toEqual(v3.accounts.map((a) => a.record))
    expect(golden.snapshot.stateRoot).not.toBe(v3.snapshot.stateRoot)
  })

  it('stateRoot = hashPair(accountsRoot, marketsRoot), the commutative keccak of OpenZeppelin', () => {
    const [a, b] = [golden.composition.accountsRoot, golden.composition.marketsRoot].sort() as [`0x${string}`, `0x${string}`]
    expect(viemKeccak(`0x${a.slice(2)}${b.slice(2)}`)).toBe(golden.snapshot.stateRoot)
  })

  it('every account proof and every market proof verifies with @openzeppelin/merkle-tree against stateRoot; leaves are as documented', () => {
    const root = golden.snapshot.stateRoot
    expect(golden.accountProofs).toHaveLength(5)
    for (const p of golden.accountProofs) {
      expect(ozVerify(root, golden.schema.leafEncoding, p.value, p.proof)).toBe(true)
      expect(p.proof.at(-1)).toBe(golden.composition.marketsRoot)
    }
    expect(golden.marketLeaves.map((l) => l.kind)).toEqual(['asset', 'asset', 'asset', 'market', 'market', 'block'])
    for (const l of golden.marketLeaves) {
      expect(ozVerify(root, l.encoding, l.value, l.proof)).toBe(true)
      expect(l.proof.at(-1)).toBe(golden.composition.accountsRoot)
      // leaf = keccak256(bytes.concat(keccak256(abi.encode(values)))), computed independently with viem
      const enc = encodeAbiParameters(parseAbiParameters(l.encoding.join(',')), l.value.map((v, i) => (/int/.test(l.encoding[i]!) ? BigInt(v as string) : v)))
      expect(viemKeccak(viemKeccak(enc))).toBe(l.leafHash)
    }
    const tags = golden.marketLeaves.map((l) => l.value[0])
    expect(tags).toEqual([...Array(3).fill(bytesToHex(ASSET_TAG_V4)), ...Array(2).fill(bytesToHex(MARKET_TAG_V4)), bytesToHex(BLOCK_TAG_V4)])
    expect(bytesToHex(ASSET_TAG_V4)).toBe(viemKeccak(toHex('ark.derivatives.v4.asset')))
    expect(golden.marketLeaves.at(-1)!.value).toEqual([bytesToHex(BLOCK_TAG_V4), '31337', '100', `0x${'11'.repeat(32)}`, '1700000000'])
  })

  it('a tampered value, proof or root does not verify (OpenZeppelin and Ark verifiers agree)', () => {
    const root = golden.snapshot.stateRoot
    const l = golden.marketLeaves[3]!
    const price = [...l.value]
    price[3] = (BigInt(price[3] as string) + 1n).toString()
    expect(ozVerify(root, l.encoding, price, l.proof)).toBe(false)
    const p = golden.accountProofs[1]!
    const size = [...p.value]
    size[5] = (size[5] as string[]).map((x) => (BigInt(x) * 2n).toString())
    expect(ozVerify(root, golden.schema.leafEncoding, size, p.proof)).toBe(false)
    expect(ozVerify(root, golden.schema.leafEncoding, p.value, p.proof.slice(0, -1))).toBe(false)
    expect(ozVerify(root, golden.schema.leafEncoding, p.value, [...p.proof.slice(0, -1), golden.composition.accountsRoot])).toBe(false)
    expect(ozVerify(golden.composition.accountsRoot, golden.schema.leafEncoding, p.value, p.proof.slice(0, -1))).toBe(true) // the account tree alone is §5's
  })

  it('the vector blocks form a v4 snapshot that verifies; the registry opens it, v3 refuses it; proofs come out with marketsRoot last', async () => {
    const store = new MemoryBlockStore({ verifyOnPut: true })
    const put = (cid: string, hex: string) => store.put({ cid: CID.parse(cid), bytes: hexToBytes(hex) })
    put(golden.snapshot.rootCid, golden.snapshot.rootBlock)
    put(golden.snapshot.marketsCid, golden.snapshot.marketsBlock)
    for (const b of golden.snapshot.treeBlocks) put(b.cid, b.hex)
    const root = CID.parse(golden.snapshot.rootCid)
    const snap = await Snapshot.open(store, root, derivativesSchemaV4)
    await snap.verify()
    expect(schemaById('ark.derivatives.account', 4)).toBe(derivativesSchemaV4)
    await expect(Snapshot.open(store, root, derivativesSchemaV3)).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' })
    const p = await proveAccount(snap, hexToBytes(golden.accounts[0]!.key))
    verifyAccountProof(p, { schema: derivativesSchemaV4 as never, expectedRoot: golden.snapshot.stateRoot })
  })

  it('a v4 snapshot whose market state differs in one price has another stateRoot (the market state is committed)', async () => {
    const moved: DerivativesMarketsV3 = { ...GOLDEN_MARKETS_V3, markets: GOLDEN_MARKETS_V3.markets.map((m, i) => (i === 0 ? { ...m, price: m.price + 1n } : m)) }
    const a = await buildSnapshot({ schema: derivativesSchemaV4, meta: GOLDEN_META_V4, markets: moved, records: [{ key: golden.accounts[0]!.key, record: derivativesSchemaV4.decode(hexToBytes(golden.accounts[0]!.record), 'x') }], store: new MemoryBlockStore() })
    const b = await buildSnapshot({ schema: derivativesSchemaV4, meta: GOLDEN_META_V4, markets: GOLDEN_MARKETS_V3, records: [{ key: golden.accounts[0]!.key, record: derivativesSchemaV4.decode(hexToBytes(golden.accounts[0]!.record), 'x') }], store: new MemoryBlockStore() })
    expect((await a.snapshot.merkle())!.root).toBe((await b.snapshot.merkle())!.root)
    expect(a.snapshot.root.stateRoot).not.toBe(b.snapshot.root.stateRoot)
  })
})

describe('derivatives schema v4: property', () => {
  it('root and proofs are independent of insertion order and build path; every account and market proof verifies as OpenZeppelin\'s', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(0, 60), fc.integer(), async (accounts: Account[], seed) => {
        const rand = prng(seed)
        const build = (records: Account[]) => buildSnapshot({ schema: derivativesSchemaV4, meta: GOLDEN_META_V4, markets: GOLDEN_MARKETS_V3, records, store: new MemoryBlockStore() })
        const ref = (await build(accounts)).snapshot
        const other = (await build(shuffle(accounts, rand))).snapshot
        expect(other.cid.toString()).toBe(ref.cid.toString())
        expect(other.root.stateRoot).toBe(ref.root.stateRoot)
        let inc = (await build(accounts.slice(0, accounts.length >> 1))).snapshot
        inc = (await applyChanges(inc, shuffle(accounts.slice(accounts.length >> 1), rand), { meta: GOLDEN_META_V4, markets: GOLDEN_MARKETS_V3 })).snapshot
        expect(inc.root.stateRoot).toBe(ref.root.stateRoot)
        for (const a of shuffle(accounts, rand).slice(0, 8)) {
          const p1 = await proveAccount(ref, a.key)
          const p2 = await proveAccount(inc, a.key)
          expect(p2.proof).toEqual(p1.proof)
          expect(ozVerify(ref.root.stateRoot, p1.leafEncoding, p1.value, p1.proof)).toBe(true)
        }
        const mt = (await ref.marketsTree())!
        const accountsRoot = (await ref.merkle())?.root ?? null
        mt.leaves.forEach((l, i) => {
          expect(ozVerify(ref.root.stateRoot, [...l.encoding], l.values.map(abiValueToJSON) as unknown[], marketLeafProof(mt, i, accountsRoot).map(bytesToHex))).toBe(true)
        })
        await ref.verify()
      }),
      fcOpts(15),
    )
  })
})
