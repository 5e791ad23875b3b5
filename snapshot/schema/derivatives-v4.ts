import { addressToBytes, hexToBytes } from '../codec/hex.ts'
import { keccak256 } from '../codec/keccak.ts'
import type { BlockRef } from '../state/root.ts'
import type { AccountRecord } from './derivatives.ts'
import { derivativesSchemaV3, derivativesMarketsV3, type DerivativesMarketsV3 } from './derivatives-v3.ts'
import type { MarketLeaf, RecordSchema } from './types.ts'

/**
 * The reference derivatives schema, version 4 (SPEC §1.5): v3's records and
 * market-state block, but the stateRoot also commits to the market state so a
 * contract can check prices, funding indexes and margin rules:
 *
 *   stateRoot = hashPair(accountsRoot, marketsRoot)   (OpenZeppelin commutative keccak)
 *
 * accountsRoot is the §5 tree over the v4 account leaves below, marketsRoot the
 * same construction over tagged leaves (one per collateral asset, one per
 * market, one for the block). Every proof is a plain MerkleProof.verify proof
 * against stateRoot: an account proof ends with marketsRoot, a market proof
 * with accountsRoot. Tags (keccak256 of a name) make the first word of a
 * market leaf a hash, never an address word (12 zero bytes), so no leaf of one
 * kind reads as another.
 */

/** account, recordHash, collateral (assets, amounts), perps (markets, sizes, entry prices, funding indexes), options (markets, isCall, strikes, expiries, sizes) */
export const ACCOUNT_LEAF_V4 = ['address', 'bytes32', 'address[]', 'uint256[]', 'uint64[]', 'int256[]', 'uint256[]', 'int256[]', 'uint64[]', 'bool[]', 'uint256[]', 'uint64[]', 'int256[]'] as const
/** tag, asset, haircutBps, decimals, feed, price, roundId, updatedAt, priceDecimals (the symbol is display-only and not in the leaf) */
export const ASSET_LEAF_V4 = ['bytes32', 'address', 'uint16', 'uint8', 'address', 'int256', 'uint80', 'uint64', 'uint8'] as const
/** tag, id, feed, price, roundId, updatedAt, priceDecimals, longOpenInterest, shortOpenInterest, fundingIndex, fundingRate, lastFundingTime, initialMarginRatio, maintenanceMarginRatio, liquidationFee */
export const MARKET_LEAF_V4 = ['bytes32', 'uint64', 'address', 'int256', 'uint80', 'uint64', 'uint8', 'uint256', 'uint256', 'int256', 'int256', 'uint64', 'uint256', 'uint256', 'uint256'] as const
/** tag, chainId, number, hash, timestamp: the certified block's time, which funding accrues to */
export const BLOCK_LEAF_V4 = ['bytes32', 'uint64', 'uint64', 'bytes32', 'uint64'] as const

const tag = (name: string): Uint8Array => keccak256(new TextEncoder().encode(name))
export const ASSET_TAG_V4 = tag('ark.derivatives.v4.asset')
export const MARKET_TAG_V4 = tag('ark.derivatives.v4.market')
export const BLOCK_TAG_V4 = tag('ark.derivatives.v4.block')

export function accountLeafV4(key: Uint8Array, r: AccountRecord, recordHash: Uint8Array): unknown[] {
  return [
    key,
    recordHash,
    r.collateral.map((c) => addressToBytes(c.asset)),
    r.collateral.map((c) => c.amount),
    r.perps.map((p) => p.market),
    r.perps.map((p) => p.size),
    r.perps.map((p) => p.entryPrice),
    r.perps.map((p) => p.fundingIndex),
    r.options.map((o) => o.market),
    r.options.map((o) => o.isCall),
    r.options.map((o) => o.strike),
    r.options.map((o) => o.expiry),
    r.options.map((o) => o.size),
  ]
}

/** The market leaves of a decoded (canonical) v4 market state at `block`: assets, then markets, then the block. */
export function marketLeavesV4(m: DerivativesMarketsV3, block: BlockRef): MarketLeaf[] {
  return [
    ...m.assets.map((a) => ({ kind: 'asset', encoding: ASSET_LEAF_V4, values: [ASSET_TAG_V4, addressToBytes(a.asset), a.haircutBps, a.decimals, addressToBytes(a.feed), a.price, a.roundId, a.updatedAt, a.priceDecimals] })),
    ...m.markets.map((x) => ({
      kind: 'market',
      encoding: MARKET_LEAF_V4,
      values: [MARKET_TAG_V4, x.id, addressToBytes(x.feed), x.price, x.roundId, x.updatedAt, x.priceDecimals, x.longOpenInterest, x.shortOpenInterest, x.fundingIndex, x.fundingRate, x.lastFundingTime, x.initialMarginRatio, x.maintenanceMarginRatio, x.liquidationFee],
    })),
    { kind: 'block', encoding: BLOCK_LEAF_V4, values: [BLOCK_TAG_V4, block.chainId, block.number, hexToBytes(block.hash, 'block.hash', 32), block.timestamp] },
  ]
}

/** Schema `ark.derivatives.account` version 4: v3's records and market block; account leaf with positions; stateRoot over accounts and market state. */
// v1's bytes-to-leaf fast path reproduces v1's leaf, not this one: left out
const { leafHash: _v1Leaf, ...v3 } = derivativesSchemaV3
void _v1Leaf

export const derivativesSchemaV4: RecordSchema<AccountRecord, DerivativesMarketsV3> = {
  ...v3,
  version: 4,
  leafEncoding: ACCOUNT_LEAF_V4,
  // the leaf is taken from the canonical record (sorted lists), so decode what encode wrote
  encode: (record, what) => {
    const e = v3.encode(record, what)
    return { bytes: e.bytes, leaf: (key, recordHash) => accountLeafV4(key, v3.decode(e.bytes, what), recordHash) }
  },
  leaf: accountLeafV4,
  markets: derivativesMarketsV3,
  marketLeaves: marketLeavesV4,
}
