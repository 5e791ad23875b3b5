/**
 * The fixed state behind test/vectors/snapshot-derivatives-v2.json (record
 * schema ark.derivatives.account version 2) and the function that computes
 * every vector from it. The accounts are v1's golden accounts (v2 records are
 * v1 records); the market state adds each asset's pricing and each market's
 * feed and lastFundingTime. Generated once by running computeDerivativesV2Vectors()
 * and committing the output. NEVER regenerate the file to make a test pass.
 */
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { derivativesSchemaV2, type DerivativesMarketsV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { leafHashOf } from '../../snapshot/state/leaves.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { RecordSchema } from '../../snapshot/schema/types.ts'
import type { SnapshotMeta } from '../../snapshot/state/root.ts'
import { GOLDEN_ACCOUNTS, GOLDEN_MARKETS, GOLDEN_META } from './golden-fixture.ts'

const USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48' // mixed case on purpose, as in v1
const WBTC = '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599'
/** a third asset valued by a feed no market uses, with a big-form answer and a wide round id */
const EXOTIC = `0x${'ee'.repeat(20)}`
const BTC_FEED = `0x${'55'.repeat(20)}`
const ETH_FEED = `0x${'44'.repeat(20)}`
const EXOTIC_FEED = `0x${'33'.repeat(20)}`
const ZERO = `0x${'00'.repeat(20)}`

const [m2, m1] = GOLDEN_MARKETS.markets

export const GOLDEN_MARKETS_V2: DerivativesMarketsV2 = {
  assets: [
    { asset: WBTC, haircutBps: 8500n, decimals: 8n, feed: BTC_FEED, price: m1!.price, roundId: m1!.roundId, updatedAt: m1!.updatedAt, priceDecimals: m1!.priceDecimals },
    { asset: USDC, haircutBps: 10000n, decimals: 6n, feed: ZERO, price: 0n, roundId: 0n, updatedAt: 0n, priceDecimals: 0n },
    { asset: EXOTIC, haircutBps: 1n, decimals: 18n, feed: EXOTIC_FEED, price: 1n << 70n, roundId: (1n << 80n) - 1n, updatedAt: 1699999000n, priceDecimals: 18n },
  ],
  markets: [
    { ...m2!, feed: ETH_FEED, lastFundingTime: 1699999000n },
    { ...m1!, feed: BTC_FEED, lastFundingTime: 1700000000n },
  ],
}

export const GOLDEN_META_V2 = { ...GOLDEN_META, adapter: { ...GOLDEN_META.adapter, version: '2' } }

export function computeDerivativesV2Vectors(): Promise<Record<string, unknown>> {
  return computeMarketVectors(derivativesSchemaV2, GOLDEN_MARKETS_V2, GOLDEN_META_V2)
}

/** Every vector of v1's golden accounts under `schema` with this market state (v2, and v3 in golden-derivatives-v3.test.ts). */
export async function computeMarketVectors<M>(schema: RecordSchema<AccountRecord, M>, markets: M, meta: SnapshotMeta): Promise<Record<string, unknown>> {
  const store = new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema, meta, markets, records: GOLDEN_ACCOUNTS, store })
  const accounts: { key: string; record: string; leafHash: string }[] = []
  for await (const e of snapshot.rawEntries()) {
    const rec = schema.decode(e.value, 'golden')
    accounts.push({ key: bytesToHex(e.key), record: bytesToHex(e.value), leafHash: bytesToHex(leafHashOf(schema, e.key, rec, e.value)) })
  }
  const treeBlocks: { cid: string; hex: string }[] = []
  for await (const cid of snapshot.blockCids()) {
    if (cid.equals(snapshot.cid) || cid.equals(snapshot.root.markets)) continue
    treeBlocks.push({ cid: cid.toString(), hex: bytesToHex(store.get(cid)) })
  }
  const empty = encodeBlock(schema.markets.encode({ assets: [], markets: [] } as M))
  return {
    schema: { id: schema.id, version: schema.version, leafEncoding: [...schema.leafEncoding] },
    snapshot: {
      rootCid: snapshot.cid.toString(),
      stateRoot: snapshot.root.stateRoot,
      accountsCid: snapshot.root.accounts?.toString() ?? null,
      marketsCid: snapshot.root.markets.toString(),
      accountCount: snapshot.root.accountCount,
      rootBlock: bytesToHex(store.get(snapshot.cid)),
      marketsBlock: bytesToHex(store.get(snapshot.root.markets)),
      treeBlocks,
    },
    accounts,
    marketsJson: schema.markets.toJSON(await snapshot.markets()),
    emptyMarkets: { cid: empty.cid.toString(), hex: bytesToHex(empty.bytes) },
  }
}
