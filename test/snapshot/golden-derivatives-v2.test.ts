/**
 * GOLDEN VECTORS for record schema ark.derivatives.account version 2.
 *
 * test/vectors/snapshot-derivatives-v2.json was generated ONCE from the fixed
 * state in golden-derivatives-v2-fixture.ts and committed. Never edit or
 * regenerate it: if this test fails, the v2 consensus encoding changed and
 * nodes would disagree. v1 stays pinned by snapshot-v1.json (golden.test.ts).
 * Also here: v2's strict market-state decoding and the version handshake
 * between the root block and the registry.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidOf } from '../../snapshot/codec/block.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { derivativesMarketsV2, derivativesSchemaV2, type DerivativesMarketsV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { resolveRiskInputs } from '../../snapshot/risk/inputs.ts'
import { computeDerivativesV2Vectors, GOLDEN_MARKETS_V2, GOLDEN_META_V2 } from './golden-derivatives-v2-fixture.ts'
import { GOLDEN_ACCOUNTS } from './golden-fixture.ts'

const golden = JSON.parse(readFileSync(new URL('../vectors/snapshot-derivatives-v2.json', import.meta.url), 'utf8')) as {
  _comment: string
  specVersion: number
  schema: { id: string; version: number; leafEncoding: string[] }
  snapshot: { rootCid: string; stateRoot: string; accountsCid: string; marketsCid: string; accountCount: number; rootBlock: string; marketsBlock: string; treeBlocks: { cid: string; hex: string }[] }
  accounts: { key: string; record: string; leafHash: string }[]
  emptyMarkets: { cid: string; hex: string }
}
const v1 = JSON.parse(readFileSync(new URL('../vectors/snapshot-v1.json', import.meta.url), 'utf8')) as { snapshot: { stateRoot: string; accountsCid: string; treeBlocks: { cid: string; hex: string }[] }; accounts: unknown[] }

const marketsBytes = (): Uint8Array => hexToBytes(golden.snapshot.marketsBlock)
const decodeV2 = (bytes: Uint8Array): DerivativesMarketsV2 => derivativesMarketsV2.decode(dagCbor.decode(bytes), bytes)
const clone = (): DerivativesMarketsV2 => ({ assets: GOLDEN_MARKETS_V2.assets.map((a) => ({ ...a })), markets: GOLDEN_MARKETS_V2.markets.map((m) => ({ ...m })) })

describe('golden vectors: derivatives record schema v2', () => {
  it('the file is the v2 vector set', () => {
    expect(golden._comment).toMatch(/never edit/i)
    expect(golden.specVersion).toBe(1)
    expect(golden.schema).toEqual({ id: 'ark.derivatives.account', version: 2, leafEncoding: ['address', 'bytes32', 'address[]', 'uint256[]'] })
  })

  it('the implementation reproduces every vector exactly', async () => {
    const { _comment, specVersion, ...expected } = golden
    void _comment
    void specVersion
    expect(await computeDerivativesV2Vectors()).toEqual(expected)
  })

  it('records, leaves, account tree and stateRoot are version 1\'s: RecoveryVault proofs are unchanged', () => {
    expect(golden.snapshot.stateRoot).toBe(v1.snapshot.stateRoot)
    expect(golden.snapshot.accountsCid).toBe(v1.snapshot.accountsCid)
    expect(golden.accounts).toEqual(v1.accounts)
    expect(golden.snapshot.treeBlocks).toEqual(v1.snapshot.treeBlocks.map((b) => ({ cid: b.cid, hex: b.hex })))
    // an empty v2 market state has v1's bytes (SPEC §1.2); the root's schema version tells them apart
    expect(golden.emptyMarkets).toEqual({ cid: 'bafyreifsjdcazqpvh7nwwu2xjywhq5szbnklet3p457iqofb74tvd25xp4', hex: '0xa26661737365747380676d61726b65747380' })
  })

  it('the vector blocks alone form a v2 snapshot that verifies; the registry opens it by (id, version), v1 refuses it', async () => {
    const store = new MemoryBlockStore({ verifyOnPut: true })
    const put = (cid: string, hex: string) => store.put({ cid: CID.parse(cid), bytes: hexToBytes(hex) })
    put(golden.snapshot.rootCid, golden.snapshot.rootBlock)
    put(golden.snapshot.marketsCid, golden.snapshot.marketsBlock)
    for (const b of golden.snapshot.treeBlocks) put(b.cid, b.hex)
    const root = CID.parse(golden.snapshot.rootCid)
    const snap = await Snapshot.open(store, root, schemaById('ark.derivatives.account', 2))
    await snap.verify()
    expect(snap.root.schema.version).toBe(2)
    expect(await snap.markets()).toEqual(decodeV2(marketsBytes()))
    await expect(Snapshot.open(store, root, derivativesSchema)).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' })
    expect(schemaById('ark.derivatives.account', 1)).toBe(derivativesSchema)
    expect(() => schemaById('ark.derivatives.account', 99)).toThrow(/version 99 is unknown/) // v3, v4: their own golden tests
    // the v1 codec refuses v2 market entries (unknown fields)
    expect(() => derivativesSchema.markets.encode(GOLDEN_MARKETS_V2)).toThrow(/unknown field/)
  })

  it('the same state reached by other paths has the golden root CID', async () => {
    const sorted = [...GOLDEN_ACCOUNTS].sort((a, b) => a.key.localeCompare(b.key))
    const viaSorted = await buildSnapshot({ schema: derivativesSchemaV2, meta: GOLDEN_META_V2, markets: clone(), records: sorted, store: new MemoryBlockStore(), sorted: true })
    expect(viaSorted.snapshot.cid.toString()).toBe(golden.snapshot.rootCid)
    const partial = await buildSnapshot({ schema: derivativesSchemaV2, meta: GOLDEN_META_V2, markets: { assets: [], markets: [] }, records: GOLDEN_ACCOUNTS.slice(0, 2), store: new MemoryBlockStore() })
    const viaUpdate = await applyChanges(partial.snapshot, GOLDEN_ACCOUNTS.slice(2), { meta: GOLDEN_META_V2, markets: { assets: [...GOLDEN_MARKETS_V2.assets].reverse(), markets: [...GOLDEN_MARKETS_V2.markets].reverse() } })
    expect(viaUpdate.snapshot.cid.toString()).toBe(golden.snapshot.rootCid)
    expect(cidOf(marketsBytes()).toString()).toBe(golden.snapshot.marketsCid)
  })

  it('risk inputs come from the market state: par without a feed, a market\'s feed, or the feed\'s own answer; lastFundingTime per market', () => {
    const inputs = resolveRiskInputs(decodeV2(marketsBytes()))
    expect(Object.fromEntries(inputs.pricing)).toEqual({
      '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599': { kind: 'market', market: 1n },
      '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48': { kind: 'par' },
      '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee': { kind: 'fixed', price: 1n << 70n, decimals: 18n, feed: `0x${'33'.repeat(20)}` },
    })
    expect(inputs.fundingTimes).toEqual(new Map([[1n, 1700000000n], [2n, 1699999000n]]))
    expect([...inputs.sources.pricing.values(), ...inputs.sources.fundingTimes.values()].every((s) => s === 'snapshot')).toBe(true)
    // overrides win, asset by asset and market by market
    const o = resolveRiskInputs(decodeV2(marketsBytes()), { pricing: new Map([['0xEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE', { kind: 'par' }]]), fundingTimes: new Map([[2n, 5n]]) })
    expect(o.pricing.get('0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee')).toEqual({ kind: 'par' })
    expect(o.sources.pricing.get('0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee')).toBe('override')
    expect(o.fundingTimes.get(2n)).toBe(5n)
    expect(o.fundingTimes.get(1n)).toBe(1700000000n)
  })
})

describe('derivatives schema v2: strict market state', () => {
  it('encode rejects missing, unknown and out-of-range fields, and a par asset with a price', () => {
    const m = clone()
    delete (m.markets[0] as Partial<DerivativesMarketsV2['markets'][0]>).lastFundingTime
    expect(() => derivativesMarketsV2.encode(m)).toThrow(/markets\[0\]\.lastFundingTime must be an integer/)
    const u = clone()
    ;(u.assets[0] as unknown as Record<string, unknown>).oracle = '0x'
    expect(() => derivativesMarketsV2.encode(u)).toThrow(/assets\[0\] has unknown field "oracle"/)
    const p = clone()
    p.assets[1]!.price = 1n
    expect(() => derivativesMarketsV2.encode(p)).toThrow(/no feed \(valued at par\) but price 1/)
    const r = clone()
    r.assets[0]!.roundId = 1n << 80n
    expect(() => derivativesMarketsV2.encode(r)).toThrow(/out of range for uint80/)
    const f = clone()
    f.markets[0]!.feed = '0x1234'
    expect(() => derivativesMarketsV2.encode(f)).toThrow(/markets\[0\]\.feed must be 20 bytes/)
    const d = clone()
    d.markets[1]!.id = d.markets[0]!.id
    expect(() => derivativesMarketsV2.encode(d)).toThrow(/lists market 2 twice/)
    expect(() => derivativesMarketsV2.encode({ ...clone(), extra: [] } as unknown as DerivativesMarketsV2)).toThrow(/unknown field "extra"/)
  })

  it('decode accepts only the canonical block: unknown or missing fields, unsorted entries, a priced par asset and integral floats are rejected', () => {
    const good = dagCbor.decode(marketsBytes()) as { assets: Record<string, unknown>[]; markets: Record<string, unknown>[] }
    const bad = (v: unknown, why: RegExp): void => {
      const bytes = dagCbor.encode(v)
      expect(() => decodeV2(bytes)).toThrow(why)
    }
    bad({ ...good, extra: 1 }, /exactly \{assets, markets\}/)
    bad({ ...good, assets: [{ ...good.assets[0], oracle: 1 }, ...good.assets.slice(1)] }, /assets\[0\] must have exactly/)
    bad({ ...good, markets: [Object.fromEntries(Object.entries(good.markets[0]!).filter(([k]) => k !== 'lastFundingTime')), good.markets[1]] }, /markets\[0\] must have exactly/)
    bad({ ...good, markets: [...good.markets].reverse() }, /unsorted or duplicated/)
    bad({ ...good, assets: [good.assets[0], { ...good.assets[1], updatedAt: 7 }, good.assets[2]] }, /no feed \(valued at par\) but updatedAt 7/)
    bad({ ...good, markets: [{ ...good.markets[0], feed: new Uint8Array(19) }, good.markets[1]] }, /feed is not a 20-byte address/)
    bad({ ...good, markets: [{ ...good.markets[0], lastFundingTime: -1 }, good.markets[1]] }, /out of range/)
    // the canonical block decodes, and re-encodes to itself
    expect(Buffer.from(dagCbor.encode(derivativesMarketsV2.encode(decodeV2(marketsBytes())))).equals(marketsBytes())).toBe(true)
    // an integral float (`decimals: 8.0`) decodes to the same value under dag-cbor, but is not canonical
    const bytes = marketsBytes()
    const hex = Buffer.from(bytes).toString('hex')
    const at = hex.indexOf(`${Buffer.from('decimals').toString('hex')}08`)
    expect(at).toBeGreaterThan(0)
    const floated = hexToBytes(`0x${hex.slice(0, at + 16)}fb4020000000000000${hex.slice(at + 18)}`)
    expect(() => derivativesMarketsV2.decode(dagCbor.decode(floated), floated)).toThrow(/canonical/)
  })
})
