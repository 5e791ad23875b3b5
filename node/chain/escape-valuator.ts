import { encodeFunctionData, parseAbi, type Hex } from 'viem'
import { verifiedValueArgs } from '../../snapshot/valuation/call-args.ts'
import type { EscapeInputs } from '../../snapshot/valuation/escape-inputs.ts'

/**
 * EscapeValuator (protocol/contracts/lib/EscapeValuation.sol): the on-chain twin of
 * snapshot/valuation. `verifiedValue` proves every input leaf against the stateRoot and returns
 * the valuation; test/valuation/escape-valuation.test.ts checks this ABI against the compiled one.
 */
export const ESCAPE_VALUATOR_ABI = parseAbi([
  'struct Account { address account; bytes32 recordHash; address[] assets; uint256[] amounts; uint64[] perpMarkets; int256[] perpSizes; uint256[] perpEntryPrices; int256[] perpFundingIndexes; uint64[] optionMarkets; bool[] optionIsCall; uint256[] optionStrikes; uint64[] optionExpiries; int256[] optionSizes; }',
  'struct Asset { address asset; uint16 haircutBps; uint8 decimals; address feed; int256 price; uint80 roundId; uint64 updatedAt; uint8 priceDecimals; }',
  'struct Market { uint64 id; address feed; int256 price; uint80 roundId; uint64 updatedAt; uint8 priceDecimals; uint256 longOpenInterest; uint256 shortOpenInterest; int256 fundingIndex; int256 fundingRate; uint64 lastFundingTime; uint256 initialMarginRatio; uint256 maintenanceMarginRatio; uint256 liquidationFee; }',
  'struct BlockInfo { uint64 chainId; uint64 number; bytes32 hash; uint64 timestamp; }',
  'struct Proofs { bytes32[] account; bytes32[][] assets; bytes32[][] markets; bytes32[] blockInfo; }',
  'struct Result { int256 collateralValue; int256 unrealizedPnl; int256 fundingOwed; int256 equity; int256 fees; int256 optionsValue; int256 total; uint256 value; }',
  'function verifiedValue(bytes32 stateRoot, Account a, Asset[] assets, Market[] markets, BlockInfo blk, Proofs proofs) pure returns (Result)',
])

export const VERIFIED_VALUE_SIGNATURE = 'verifiedValue(bytes32,Account,Asset[],Market[],BlockInfo,Proofs) on EscapeValuator'

/** Calldata of EscapeValuator.verifiedValue for these (checked) escape inputs. */
export function verifiedValueCalldata(e: EscapeInputs): Hex {
  return encodeFunctionData({ abi: ESCAPE_VALUATOR_ABI, functionName: 'verifiedValue', args: verifiedValueArgs(e) as never })
}
