import type { Hex } from '../../chain/source.ts'
import type { AccountRecord } from '../../schema/derivatives.ts'
import { derivativesSchemaV3, type DerivativesMarketsV3 } from '../../schema/derivatives-v3.ts'
import { configAddress, configBlock, configObject } from '../config.ts'
import type { Adapter } from '../types.ts'
import { PerpReferenceState } from './state.ts'

export interface PerpReferenceConfig {
  exchange: Hex
  /** OptionsMarket; omit for a deployment without options */
  options?: Hex
  startBlock: bigint
}

const ID = 'perp-reference'

export const perpReferenceAdapter: Adapter<PerpReferenceConfig, AccountRecord, DerivativesMarketsV3> = {
  id: ID,
  // 2.0.0: record schema v2 (the market state carries collateral pricing and lastFundingTime)
  // 3.0.0: record schema v3 (and each collateral asset's symbol)
  version: '3.0.0',
  description: 'Ark reference perpetuals + options venue (deploy/reference-protocol): collateral, perp positions, option positions, markets with their price feeds and funding times, collateral symbols and decimals',
  schema: derivativesSchemaV3,
  parseConfig(json) {
    const o = configObject(json, ID, ['exchange', 'options', 'startBlock'])
    const c: PerpReferenceConfig = { exchange: configAddress(o, 'exchange', ID), startBlock: configBlock(o, 'startBlock', ID) }
    if (o.options !== undefined) c.options = configAddress(o, 'options', ID)
    return c
  },
  configJSON: (c) => ({ exchange: c.exchange, ...(c.options === undefined ? {} : { options: c.options }), startBlock: Number(c.startBlock) }),
  startBlock: (c) => c.startBlock,
  contracts: (c) => (c.options === undefined ? [c.exchange] : [c.exchange, c.options]),
  createState: (c) => new PerpReferenceState(c),
}
