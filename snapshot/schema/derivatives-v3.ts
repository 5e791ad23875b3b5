import type { LeafHashFromBytes } from '../merkle/standard-tree.ts'
import type { AccountRecord } from './derivatives.ts'
import { ASSET_FIELDS_V2, derivativesSchemaV2, MARKET_FIELDS_V2, pricedMarketCodec, type CollateralAssetV2, type Field, type MarketStateV2 } from './derivatives-v2.ts'
import type { MarketCodec, RecordSchema } from './types.ts'

/**
 * The reference derivatives schema, version 3 (SPEC §1.4): version 2 with each
 * collateral asset's ERC-20 `symbol()` at the block, so a snapshot alone can
 * show amounts as "1_250.5 USDC" (decimals were already there). Records, leaf
 * and stateRoot are version 1's.
 */

export interface CollateralAssetV3 extends CollateralAssetV2 {
  /** the token's symbol() at the block: 1–32 printable ASCII characters, or "" when it gave none that fits */
  symbol: string
}
export interface DerivativesMarketsV3 {
  assets: CollateralAssetV3[]
  markets: MarketStateV2[]
}

const ASSET_FIELDS_V3: Readonly<Record<keyof CollateralAssetV3, Field>> = { ...ASSET_FIELDS_V2, symbol: 'symbol' }

export const derivativesMarketsV3: MarketCodec<DerivativesMarketsV3> = pricedMarketCodec<DerivativesMarketsV3>(ASSET_FIELDS_V3, MARKET_FIELDS_V2)

/** Schema `ark.derivatives.account` version 3: version 1's records and leaf, v2's market state plus asset symbols. */
export const derivativesSchemaV3: RecordSchema<AccountRecord, DerivativesMarketsV3> & LeafHashFromBytes = {
  ...derivativesSchemaV2,
  version: 3,
  markets: derivativesMarketsV3,
}
