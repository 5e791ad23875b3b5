/**
 * The fixed state behind test/vectors/snapshot-v1.json and the function that
 * computes every vector from it. Pure (no test framework), so the vectors
 * file was generated once by running computeVectors() and committing the
 * output. NEVER regenerate snapshot-v1.json to make a test pass: the vectors
 * pin spec version 1's consensus encoding. A new spec version adds a new file.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import { intToIpld } from '../../snapshot/codec/int.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { findLeaf, treeProof } from '../../snapshot/merkle/standard-tree.ts'
import { derivativesSchema, type AccountRecord, type DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { leafHashOf } from '../../snapshot/state/leaves.ts'
import type { SnapshotMeta } from '../../snapshot/state/root.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { readNode } from '../../snapshot/tree/read.ts'
import { boundaryHash } from '../../snapshot/tree/params.ts'

export const GOLDEN_META: SnapshotMeta = {
  block: { chainId: 31337n, number: 100n, hash: `0x${'11'.repeat(32)}`, timestamp: 1700000000n },
  adapter: { id: 'test', version: '1', configHash: `0x${'22'.repeat(32)}` },
}

const USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48' // mixed case on purpose
const WBTC = '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599'

export const GOLDEN_MARKETS: DerivativesMarkets = {
  assets: [
    { asset: USDC, haircutBps: 10000n, decimals: 6n },
    { asset: WBTC, haircutBps: 8500n, decimals: 8n },
  ],
  markets: [
    {
      id: 2n,
      price: 3_000_00000000n,
      roundId: (1n << 64n) + 5n,
      updatedAt: 1699999990n,
      priceDecimals: 8n,
      longOpenInterest: 10n ** 21n,
      shortOpenInterest: 9n * 10n ** 20n,
      fundingIndex: -(10n ** 18n),
      fundingRate: -1234n,
      initialMarginRatio: 10n ** 17n,
      maintenanceMarginRatio: 5n * 10n ** 16n,
      liquidationFee: 10n ** 16n,
    },
    {
      id: 1n,
      price: 60_000_00000000n,
      roundId: 42n,
      updatedAt: 1699999999n,
      priceDecimals: 8n,
      longOpenInterest: 5n * 10n ** 18n,
      shortOpenInterest: 4n * 10n ** 18n,
      fundingIndex: 123456789n,
      fundingRate: 777n,
      initialMarginRatio: 10n ** 17n,
      maintenanceMarginRatio: 5n * 10n ** 16n,
      liquidationFee: 10n ** 16n,
    },
  ],
}

/**
 * Five accounts, listed out of key order on purpose. The keys' last bytes are
 * chosen so the tree has three leaves ([0x10..], [0x20.., 0x30..], [0x40.., 0x50..])
 * under branch nodes, pinning both node formats.
 */
export const GOLDEN_ACCOUNTS: { key: string; record: AccountRecord }[] = [
  {
    // collateral in two assets (given unsorted), one amount of 2^70
    key: '0x3000000000000000000000000000000000000001',
    record: { collateral: [{ asset: WBTC, amount: 1n << 70n }, { asset: USDC, amount: 1_000_000_000n }], perps: [], options: [] },
  },
  {
    // a short perp
    key: '0x1000000000000000000000000000000000000005',
    record: { collateral: [{ asset: USDC, amount: 5_000_000_000n }], perps: [{ market: 1n, size: -3n * 10n ** 18n, entryPrice: 60_000n * 10n ** 8n, fundingIndex: 123456789n }], options: [] },
  },
  {
    // a written call option
    key: '0x5000000000000000000000000000000000000000',
    record: { collateral: [{ asset: USDC, amount: 250_000_000n }], perps: [], options: [{ market: 2n, isCall: true, strike: 3_500n * 10n ** 8n, expiry: 1700600000n, size: -2n * 10n ** 18n }] },
  },
  {
    // only collateral
    key: '0x2000000000000000000000000000000000000000',
    record: { collateral: [{ asset: WBTC, amount: 1n }], perps: [], options: [] },
  },
  {
    // long perp with a funding index below -2^64, a bought put, and a 2^255-1 strike
    key: '0x4000000000000000000000000000000000000000',
    record: {
      collateral: [],
      perps: [{ market: 2n, size: 7n, entryPrice: 3_000n * 10n ** 8n, fundingIndex: -(1n << 64n) - 1n }],
      options: [{ market: 1n, isCall: false, strike: (1n << 255n) - 1n, expiry: 1800000000n, size: 1n }],
    },
  },
]

/** The account whose proof is pinned. */
export const PROVEN_ACCOUNT = '0x3000000000000000000000000000000000000001'

export const BOUNDARY_KEYS = ['0x0000000000000000000000000000000000000000', '0x1000000000000000000000000000000000000001', '0xffffffffffffffffffffffffffffffffffffffff']

export const INT_RULE_VALUES: bigint[] = [0n, (1n << 64n) - 1n, 1n << 64n, -(1n << 64n), -(1n << 64n) - 1n, (1n << 255n) - 1n]

export async function computeVectors(): Promise<Record<string, unknown>> {
  const store = new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: GOLDEN_META, markets: GOLDEN_MARKETS, records: GOLDEN_ACCOUNTS, store })

  const treeBlocks: { cid: string; level: number; hex: string }[] = []
  for await (const cid of snapshot.blockCids()) {
    const s = cid.toString()
    if (cid.equals(snapshot.cid) || cid.equals(snapshot.root.markets)) continue
    const node = await readNode(snapshot.reader, cid)
    treeBlocks.push({ cid: s, level: node.level, hex: bytesToHex(store.get(cid)) })
  }
  const leaf = treeBlocks.find((b) => b.level === 0)!

  const accounts: { key: string; record: string; leafHash: string }[] = []
  for await (const e of snapshot.rawEntries()) {
    const rec = derivativesSchema.decode(e.value, 'golden')
    accounts.push({ key: bytesToHex(e.key), record: bytesToHex(e.value), leafHash: bytesToHex(leafHashOf(derivativesSchema, e.key, rec, e.value)) })
  }

  const merkle = (await snapshot.merkle())!
  const key = hexToBytes(PROVEN_ACCOUNT)
  const raw = (await snapshot.getRaw(key))!
  const record = derivativesSchema.decode(raw, 'golden')
  const leafHash = leafHashOf(derivativesSchema, key, record, raw)
  const index = findLeaf(merkle.sortedLeaves, leafHash)
  const proof = {
    account: PROVEN_ACCOUNT,
    leafEncoding: [...derivativesSchema.leafEncoding],
    // the leaf values as OpenZeppelin's StandardMerkleTree takes them
    leafValues: [PROVEN_ACCOUNT, bytesToHex(keccak256(raw)), record.collateral.map((c) => c.asset.toLowerCase()), record.collateral.map((c) => c.amount.toString())],
    leafHash: bytesToHex(leafHash),
    proof: treeProof(merkle.tree, snapshot.root.accountCount, index).map(bytesToHex),
  }

  return {
    snapshot: {
      rootCid: snapshot.cid.toString(),
      stateRoot: snapshot.root.stateRoot,
      accountsCid: snapshot.root.accounts?.toString() ?? null,
      marketsCid: snapshot.root.markets.toString(),
      accountCount: snapshot.root.accountCount,
      rootBlock: bytesToHex(store.get(snapshot.cid)),
      marketsBlock: bytesToHex(store.get(snapshot.root.markets)),
      leafBlock: leaf,
      treeBlocks,
    },
    accounts,
    proof,
    boundaryHash: BOUNDARY_KEYS.flatMap((k) => [0, 1, 2].map((level) => ({ key: k, level, hash: boundaryHash(level, hexToBytes(k)) }))),
    intRule: INT_RULE_VALUES.map((v) => ({ value: v.toString(), dagCbor: bytesToHex(dagCbor.encode(intToIpld(v))) })),
  }
}
