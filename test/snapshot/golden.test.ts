/**
 * GOLDEN VECTORS for snapshot spec version 1.
 *
 * test/vectors/snapshot-v1.json was generated ONCE from the fixed state in
 * golden-fixture.ts and committed. Vectors are never edited or regenerated:
 * if this test fails, the consensus encoding changed (CIDs, stateRoot, node or
 * record bytes, the boundary hash or the integer rule) and independent nodes
 * would disagree. A deliberate change is a new spec version, which adds a new
 * file (snapshot-v2.json) next to this one and keeps v1 readable.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { cidOf } from '../../snapshot/codec/block.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { INT256, intFromIpld } from '../../snapshot/codec/int.ts'
import { processProof } from '../../snapshot/merkle/standard-tree.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { computeVectors, GOLDEN_ACCOUNTS, GOLDEN_MARKETS, GOLDEN_META } from './golden-fixture.ts'

const FILE = new URL('../vectors/snapshot-v1.json', import.meta.url)

interface Vectors {
  _comment: string
  specVersion: number
  snapshot: {
    rootCid: string
    stateRoot: string
    accountsCid: string
    marketsCid: string
    accountCount: number
    rootBlock: string
    marketsBlock: string
    leafBlock: { cid: string; level: number; hex: string }
    treeBlocks: { cid: string; level: number; hex: string }[]
  }
  accounts: { key: string; record: string; leafHash: string }[]
  proof: { account: string; leafEncoding: string[]; leafValues: [string, string, string[], string[]]; leafHash: string; proof: string[] }
  boundaryHash: { key: string; level: number; hash: number }[]
  intRule: { value: string; dagCbor: string }[]
}

const golden = JSON.parse(readFileSync(FILE, 'utf8')) as Vectors

describe('golden vectors: snapshot spec v1', () => {
  it('the file is the v1 vector set', () => {
    expect(golden.specVersion).toBe(1)
    expect(golden._comment).toMatch(/never edit/i)
  })

  it('the implementation reproduces every vector exactly', async () => {
    const { _comment, specVersion, ...expected } = golden
    void _comment
    void specVersion
    expect(await computeVectors()).toEqual(expected)
  })

  it('the same state reached by other paths has the golden root CID', async () => {
    const sorted = [...GOLDEN_ACCOUNTS].sort((a, b) => a.key.localeCompare(b.key))
    const viaSorted = await buildSnapshot({ schema: derivativesSchema, meta: GOLDEN_META, markets: GOLDEN_MARKETS, records: sorted, store: new MemoryBlockStore(), sorted: true })
    expect(viaSorted.snapshot.cid.toString()).toBe(golden.snapshot.rootCid)
    const partial = await buildSnapshot({ schema: derivativesSchema, meta: GOLDEN_META, markets: GOLDEN_MARKETS, records: GOLDEN_ACCOUNTS.slice(0, 2), store: new MemoryBlockStore() })
    const viaUpdate = await applyChanges(partial.snapshot, GOLDEN_ACCOUNTS.slice(2), { meta: GOLDEN_META, markets: GOLDEN_MARKETS })
    expect(viaUpdate.snapshot.cid.toString()).toBe(golden.snapshot.rootCid)
  })

  it('the vector blocks alone form a complete snapshot that verifies', async () => {
    const store = new MemoryBlockStore({ verifyOnPut: true })
    const put = (cid: string, hex: string) => store.put({ cid: CID.parse(cid), bytes: hexToBytes(hex) })
    put(golden.snapshot.rootCid, golden.snapshot.rootBlock)
    put(golden.snapshot.marketsCid, golden.snapshot.marketsBlock)
    for (const b of golden.snapshot.treeBlocks) put(b.cid, b.hex)
    const snap = await Snapshot.open(store, CID.parse(golden.snapshot.rootCid), derivativesSchema)
    await snap.verify()
    expect(snap.root.stateRoot).toBe(golden.snapshot.stateRoot)
    expect(snap.root.accountCount).toBe(5)
    expect(store.size).toBe(2 + golden.snapshot.treeBlocks.length)
    const keys: string[] = []
    for await (const e of snap.rawEntries()) keys.push(Buffer.from(e.key).toString('hex'))
    expect(keys).toEqual(golden.accounts.map((a) => a.key.slice(2)))
  })

  it('node and block vectors are plain dag-cbor / CIDv1 sha2-256', () => {
    for (const b of [...golden.snapshot.treeBlocks, { cid: golden.snapshot.rootCid, hex: golden.snapshot.rootBlock }, { cid: golden.snapshot.marketsCid, hex: golden.snapshot.marketsBlock }]) {
      const bytes = hexToBytes(b.hex)
      expect(cidOf(bytes).toString()).toBe(b.cid)
      expect(Buffer.from(dagCbor.encode(dagCbor.decode(bytes))).toString('hex')).toBe(b.hex.slice(2))
    }
    const leaf = dagCbor.decode(hexToBytes(golden.snapshot.leafBlock.hex)) as [number, [Uint8Array, unknown][]]
    expect(leaf[0]).toBe(0)
    const root = dagCbor.decode(hexToBytes(golden.snapshot.rootBlock)) as Record<string, unknown>
    expect(root.version).toBe(1)
    expect(root.type).toBe('ark.snapshot')
  })

  it('the pinned proof verifies with OpenZeppelin against the golden stateRoot', () => {
    const p = golden.proof
    expect(StandardMerkleTree.verify(golden.snapshot.stateRoot, p.leafEncoding, p.leafValues, p.proof)).toBe(true)
    const folded = processProof(hexToBytes(p.leafHash), p.proof.map((x) => hexToBytes(x)))
    expect(`0x${Buffer.from(folded).toString('hex')}`).toBe(golden.snapshot.stateRoot)
    // 2^70 is in the leaf as a uint256
    expect(p.leafValues[3]).toContain((1n << 70n).toString())
  })

  it('integer-rule vectors decode back to their values', () => {
    for (const v of golden.intRule) expect(intFromIpld(dagCbor.decode(hexToBytes(v.dagCbor)), INT256, 'v')).toBe(BigInt(v.value))
  })
})
