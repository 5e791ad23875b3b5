import type { EscapeInputs } from './escape-inputs.ts'

/**
 * Arguments of EscapeValuator.verifiedValue / EscapeValuation.verifiedValue (protocol/contracts/lib/
 * EscapeValuation.sol) from escape inputs, as viem encodes tuples: structs as objects with their
 * Solidity field names, integers as bigint. Pure; the inputs are assumed checked (verifyEscapeInputs).
 */
const B = (v: unknown): bigint => BigInt(v as string)
const list = (v: unknown): unknown[] => v as unknown[]

export function accountStruct(v: readonly unknown[]): Record<string, unknown> {
  return {
    account: v[0],
    recordHash: v[1],
    assets: list(v[2]),
    amounts: list(v[3]).map(B),
    perpMarkets: list(v[4]).map(B),
    perpSizes: list(v[5]).map(B),
    perpEntryPrices: list(v[6]).map(B),
    perpFundingIndexes: list(v[7]).map(B),
    optionMarkets: list(v[8]).map(B),
    optionIsCall: list(v[9]),
    optionStrikes: list(v[10]).map(B),
    optionExpiries: list(v[11]).map(B),
    optionSizes: list(v[12]).map(B),
  }
}

export function assetStruct(v: readonly unknown[]): Record<string, unknown> {
  return { asset: v[1], haircutBps: Number(v[2]), decimals: Number(v[3]), feed: v[4], price: B(v[5]), roundId: B(v[6]), updatedAt: B(v[7]), priceDecimals: Number(v[8]) }
}

export function marketStruct(v: readonly unknown[]): Record<string, unknown> {
  return {
    id: B(v[1]), feed: v[2], price: B(v[3]), roundId: B(v[4]), updatedAt: B(v[5]), priceDecimals: Number(v[6]), longOpenInterest: B(v[7]), shortOpenInterest: B(v[8]),
    fundingIndex: B(v[9]), fundingRate: B(v[10]), lastFundingTime: B(v[11]), initialMarginRatio: B(v[12]), maintenanceMarginRatio: B(v[13]), liquidationFee: B(v[14]),
  }
}

export function blockStruct(v: readonly unknown[]): Record<string, unknown> {
  return { chainId: B(v[1]), number: B(v[2]), hash: v[3], timestamp: B(v[4]) }
}

/** [stateRoot, account, assets, markets, blk, proofs] */
export function verifiedValueArgs(e: EscapeInputs): unknown[] {
  return [
    e.stateRoot,
    accountStruct(e.account.value),
    e.assets.map((l) => assetStruct(l.value)),
    e.markets.map((l) => marketStruct(l.value)),
    blockStruct(e.block.value),
    { account: e.account.proof, assets: e.assets.map((l) => l.proof), markets: e.markets.map((l) => l.proof), blockInfo: e.block.proof },
  ]
}
