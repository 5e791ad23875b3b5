/**
 * GOLDEN VECTORS for record schema ark.derivatives.account version 3 (v2's
 * market state plus each collateral asset's ERC-20 symbol, SPEC §1.4).
 *
 * test/vectors/snapshot-derivatives-v3.json was generated ONCE from the fixed
 * state in golden-derivatives-v3-fixture.ts and committed. Never edit or
 * regenerate it: if this test fails, the v3 consensus encoding changed and
 * nodes would disagree. Also here: the symbol rule (encode, strict decode, and
 * the pure reading of a token's return data that the adapter applies).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { encodeAbiParameters, stringToHex } from 'viem'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { symbolFromReturnData } from '../../snapshot/chain/token-info.ts'
import { derivativesMarketsV2, derivativesSchemaV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { derivativesMarketsV3, derivativesSchemaV3, type DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { computeDerivativesV3Vectors, GOLDEN_MARKETS_V3 } from './golden-derivatives-v3-fixture.ts'

const golden = JSON.parse(readFileSync(new URL('../vectors/snapshot-derivatives-v3.json', import.meta.url), 'utf8')) as {
  _comment: string
  specVersion: number
  schema: { id: string; version: number }
  snapshot: { rootCid: string; stateRoot: string; marketsCid: string; rootBlock: string; marketsBlock: string; treeBlocks: { cid: string; hex: string }[] }
  accounts: unknown[]
  emptyMarkets: unknown
}
const v2 = JSON.parse(readFileSync(new URL('../vectors/snapshot-derivatives-v2.json', import.meta.url), 'utf8')) as typeof golden

const marketsBytes = (): Uint8Array => hexToBytes(golden.snapshot.marketsBlock)
const decodeV3 = (bytes: Uint8Array): DerivativesMarketsV3 => derivativesMarketsV3.decode(dagCbor.decode(bytes), bytes)
const withSymbol = (s: unknown): DerivativesMarketsV3 => ({ ...GOLDEN_MARKETS_V3, assets: GOLDEN_MARKETS_V3.assets.map((a, i) => (i === 0 ? { ...a, symbol: s as string } : a)) })

describe('golden vectors: derivatives record schema v3', () => {
  it('the implementation reproduces every vector exactly; records, tree and stateRoot are v2\'s (and so v1\'s)', async () => {
    expect(golden._comment).toMatch(/never edit/i)
    expect(golden.schema).toMatchObject({ id: 'ark.derivatives.account', version: 3 })
    const { _comment, specVersion, ...expected } = golden
    void _comment
    expect(specVersion).toBe(1)
    expect(await computeDerivativesV3Vectors()).toEqual(expected)
    expect(golden.snapshot.stateRoot).toBe(v2.snapshot.stateRoot)
    expect(golden.accounts).toEqual(v2.accounts)
    expect(golden.snapshot.treeBlocks).toEqual(v2.snapshot.treeBlocks)
    expect(golden.emptyMarkets).toEqual(v2.emptyMarkets)
    expect(golden.snapshot.marketsCid).not.toBe(v2.snapshot.marketsCid)
  })

  it('the vector blocks form a v3 snapshot that verifies; the registry opens it by (id, version), v2 refuses it', async () => {
    const store = new MemoryBlockStore({ verifyOnPut: true })
    const put = (cid: string, hex: string) => store.put({ cid: CID.parse(cid), bytes: hexToBytes(hex) })
    put(golden.snapshot.rootCid, golden.snapshot.rootBlock)
    put(golden.snapshot.marketsCid, golden.snapshot.marketsBlock)
    for (const b of golden.snapshot.treeBlocks) put(b.cid, b.hex)
    const root = CID.parse(golden.snapshot.rootCid)
    const snap = await Snapshot.open(store, root, derivativesSchemaV3)
    await snap.verify()
    expect((await snap.markets()).assets.map((a) => a.symbol)).toEqual(['WBTC', '', 'Ark ~ exotic {32 printable} ch.!'])
    await expect(Snapshot.open(store, root, derivativesSchemaV2)).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' })
    expect(schemaById('ark.derivatives.account', 3)).toBe(derivativesSchemaV3)
    // each version's codec refuses the other's market entries
    expect(() => derivativesMarketsV2.decode(dagCbor.decode(marketsBytes()), marketsBytes())).toThrow(/must have exactly/)
    const v2Bytes = hexToBytes(v2.snapshot.marketsBlock)
    expect(() => derivativesMarketsV3.decode(dagCbor.decode(v2Bytes), v2Bytes)).toThrow(/must have exactly/)
  })
})

describe('derivatives schema v3: the symbol rule', () => {
  it('encode takes 0 to 32 printable ASCII characters and nothing else', () => {
    for (const ok of ['', 'X', ' ~ ', 'A'.repeat(32)]) expect(() => derivativesMarketsV3.encode(withSymbol(ok))).not.toThrow()
    for (const bad of ['A'.repeat(33), 'US\nDC', 'USD\u001b[31m', 'ÉTH', 'ETH\u0000', 7, null, undefined]) {
      expect(() => derivativesMarketsV3.encode(withSymbol(bad)), String(bad)).toThrow(/assets\[0\]\.symbol must be a string of at most 32 printable ASCII/)
    }
  })

  it('decode rejects a stored symbol that breaks the rule (escape sequences never reach a terminal)', () => {
    const good = dagCbor.decode(marketsBytes()) as { assets: Record<string, unknown>[]; markets: unknown[] }
    for (const bad of ['\u001b]0;pwned\u0007', 'A'.repeat(33), new Uint8Array([0x41]), 1]) {
      const bytes = dagCbor.encode({ ...good, assets: [{ ...good.assets[0], symbol: bad }, ...good.assets.slice(1)] })
      expect(() => decodeV3(bytes)).toThrow(/symbol is not a string of at most 32 printable ASCII/)
    }
    expect(Buffer.from(dagCbor.encode(derivativesMarketsV3.encode(decodeV3(marketsBytes())))).equals(Buffer.from(marketsBytes()))).toBe(true)
  })

  it('a token\'s return data gives the same symbol everywhere: string or bytes32 that fits, else ""', () => {
    const str = (s: string) => encodeAbiParameters([{ type: 'string' }], [s])
    expect(symbolFromReturnData(str('USDC'))).toBe('USDC')
    expect(symbolFromReturnData(str('A'.repeat(32)))).toBe('A'.repeat(32))
    expect(symbolFromReturnData(stringToHex('MKR', { size: 32 }))).toBe('MKR') // bytes32, as old tokens return
    expect(symbolFromReturnData('0x')).toBe('') // reverted, or no contract
    expect(symbolFromReturnData(str('A'.repeat(33)))).toBe('')
    expect(symbolFromReturnData(str('A'.repeat(5000)))).toBe('')
    expect(symbolFromReturnData(str('\u001b[2J'))).toBe('')
    expect(symbolFromReturnData(str('ΞTH'))).toBe('')
    expect(symbolFromReturnData(str(''))).toBe('')
    expect(symbolFromReturnData('0x1234')).toBe('')
    expect(symbolFromReturnData(`0x${'ff'.repeat(96)}`)).toBe('')
  })
})
