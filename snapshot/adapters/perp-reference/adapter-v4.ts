import type { AccountRecord } from '../../schema/derivatives.ts'
import type { DerivativesMarketsV3 } from '../../schema/derivatives-v3.ts'
import { derivativesSchemaV4 } from '../../schema/derivatives-v4.ts'
import type { Adapter } from '../types.ts'
import { perpReferenceAdapter, type PerpReferenceConfig } from './adapter.ts'

/**
 * The reference venue under record schema v4 (SPEC §1.5): the same derivation and configuration
 * as `perp-reference`, but the stateRoot commits to the market state and the account leaf
 * carries the positions, so a contract can value an account (escape valuation). Opt-in under its
 * own adapter id: the v1 leaf that today's RecoveryVault pays from is not v4's, so `perp-reference`
 * keeps writing v3 until the vaults take v4 leaves.
 */
export const perpReferenceAdapterV4: Adapter<PerpReferenceConfig, AccountRecord, DerivativesMarketsV3> = {
  ...perpReferenceAdapter,
  id: 'perp-reference-v4',
  // 4.0.0: record schema v4 (market state in the stateRoot, positions in the account leaf)
  version: '4.0.0',
  description: `${perpReferenceAdapter.description}; record schema v4: market state committed in the stateRoot, positions in the account leaf`,
  schema: derivativesSchemaV4,
}
