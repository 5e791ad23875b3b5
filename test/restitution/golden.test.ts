/**
 * GOLDEN VECTORS for restitution tables v1 (test/vectors/restitution-v1.json,
 * generated once from fixture.ts; never edit or regenerate it). Also: the
 * Merkle root equals @openzeppelin/merkle-tree's over (account, asset, amount)
 * — the leaf the Distributor contract checks — and the stored blocks verify,
 * while any tampering is caught.
 */
import { readFileSync } from 'node:fs'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { blockLinks } from '../../snapshot/codec/links.ts'
import { Restitution } from '../../snapshot/restitution/open.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { computeRestitutionVectors } from './fixture.ts'

const golden = JSON.parse(readFileSync(new URL('../vectors/restitution-v1.json', import.meta.url), 'utf8')) as {
  _comment: string
  version: number
  rootCid: string
  merkleRoot: string
  blocks: { cid: string; hex: string }[]
  leaves: { account: string; asset: string; amount: string; leafHash: string }[]
}

function storeOf(blocks: { cid: string; hex: string }[]): MemoryBlockStore {
  const store = new MemoryBlockStore({ verifyOnPut: true })
  for (const b of blocks) store.put({ cid: CID.parse(b.cid), bytes: hexToBytes(b.hex) })
  return store
}

describe('golden vectors: restitution table v1', () => {
  it('the implementation reproduces every vector exactly', async () => {
    expect(golden._comment).toMatch(/never edit/i)
    const { _comment, version, ...expected } = golden
    void _comment
    expect(version).toBe(1)
    expect(await computeRestitutionVectors()).toEqual(expected)
  })

  it('the Merkle root is OpenZeppelin StandardMerkleTree over (address, address, uint256), totals included', () => {
    const oz = StandardMerkleTree.of(golden.leaves.map((l) => [l.account, l.asset, l.amount]), ['address', 'address', 'uint256'])
    expect(oz.root).toBe(golden.merkleRoot)
    for (const l of golden.leaves) expect(oz.leafHash([l.account, l.asset, l.amount])).toBe(l.leafHash)
    // the reserved total leaves come first (account 0) and equal the sums of the rows
    const totals = golden.leaves.filter((l) => /^0x0{40}$/.test(l.account))
    for (const t of totals) {
      const sum = golden.leaves.filter((l) => l.asset === t.asset && l !== t && !totals.includes(l)).reduce((s, l) => s + BigInt(l.amount), 0n)
      expect(BigInt(t.amount)).toBe(sum)
    }
  })

  it('the vector blocks verify; a forged amount, total or root is caught', async () => {
    const table = await Restitution.open(storeOf(golden.blocks), CID.parse(golden.rootCid))
    await table.verify()
    expect(table.root.entryCount).toBe(3)
    expect(table.root.exclusions.count).toBe(2)
    // the root links the exclusion list and the entry tree only: the two snapshots are named by CID bytes, so a
    // table's DAG (fetch, CAR, retention) never pulls them along
    const links = blockLinks(table.cid, hexToBytes(golden.blocks[0]!.hex)).map(String).sort()
    expect(links).toEqual([table.root.exclusions.list.toString(), table.root.entries!.toString()].sort())

    // forge: a row's amount raised, tree and root re-linked consistently except for the Merkle root
    const rootBytes = hexToBytes(golden.blocks[0]!.hex)
    const rootValue = dagCbor.decode(rootBytes) as Record<string, unknown>
    const forgedRoot = encodeBlock({ ...rootValue, root: new Uint8Array(32).fill(1) })
    const store = storeOf(golden.blocks)
    store.put(forgedRoot)
    await expect((await Restitution.open(store, forgedRoot.cid)).verify()).rejects.toThrow(/Merkle root recomputed/)

    const totals = rootValue.totals as [Uint8Array, unknown][]
    const forgedTotals = encodeBlock({ ...rootValue, totals: [totals[0], [totals[1]![0], 800_000_001]] })
    store.put(forgedTotals)
    await expect((await Restitution.open(store, forgedTotals.cid)).verify()).rejects.toThrow(/total leaf 1/)

    const forgedCount = encodeBlock({ ...rootValue, entryCount: 4 })
    store.put(forgedCount)
    await expect((await Restitution.open(store, forgedCount.cid)).verify()).rejects.toThrow(/says 4 rows/)

    const forgedEx = encodeBlock({ ...rootValue, exclusions: { ...(rootValue.exclusions as object), count: 1 } })
    store.put(forgedEx)
    await expect((await Restitution.open(store, forgedEx.cid)).verify()).rejects.toThrow(/exclusion list/)

    expect(() => storeOf(golden.blocks).put({ cid: CID.parse(golden.rootCid), bytes: forgedRoot.bytes })).toThrow()
    const wrongType = encodeBlock({ ...rootValue, type: 'ark.snapshot' })
    store.put(wrongType)
    await expect(Restitution.open(store, wrongType.cid)).rejects.toThrow(/not "ark.restitution"/)
  })
})
