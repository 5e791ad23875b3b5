/**
 * The fixed state behind test/vectors/snapshot-derivatives-v3.json (record
 * schema ark.derivatives.account version 3): v2's golden market state with a
 * symbol per asset — an ordinary one, the 32-character maximum with spaces and
 * punctuation, and "" (the token gave none that fits). Generated once by
 * running computeDerivativesV3Vectors() and committing the output. NEVER
 * regenerate the file to make a test pass.
 */
import { derivativesSchemaV3, type DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { computeMarketVectors, GOLDEN_MARKETS_V2, GOLDEN_META_V2 } from './golden-derivatives-v2-fixture.ts'

const SYMBOLS = ['WBTC', '', 'Ark ~ exotic {32 printable} ch.!']

export const GOLDEN_MARKETS_V3: DerivativesMarketsV3 = {
  assets: GOLDEN_MARKETS_V2.assets.map((a, i) => ({ ...a, symbol: SYMBOLS[i]! })),
  markets: GOLDEN_MARKETS_V2.markets.map((m) => ({ ...m })),
}

export const GOLDEN_META_V3 = { ...GOLDEN_META_V2, adapter: { ...GOLDEN_META_V2.adapter, version: '3' } }

export function computeDerivativesV3Vectors(): Promise<Record<string, unknown>> {
  return computeMarketVectors(derivativesSchemaV3, GOLDEN_MARKETS_V3, GOLDEN_META_V3)
}
