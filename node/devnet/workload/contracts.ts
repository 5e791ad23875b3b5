import { encodeFunctionData, toEventSelector, type Abi, type AbiEvent, type Address, type Hex } from 'viem'
import { TOPICS } from '../../../snapshot/adapters/perp-reference/abi.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { loadArtifact } from '../../contracts/compile.ts'

/** The reference protocol's contracts the workload calls, by artifact name. */
const CONTRACTS = ['PerpExchange', 'OptionsMarket', 'MockERC20', 'PriceFeed'] as const
type Contract = (typeof CONTRACTS)[number]

/** Every function the workload calls: the contract whose compiled ABI encodes it. */
export const FUNCTIONS = {
  mint: 'MockERC20',
  approve: 'MockERC20',
  updateAnswer: 'PriceFeed',
  latestRoundData: 'PriceFeed',
  decimals: 'PriceFeed',
  deposit: 'PerpExchange',
  depositFor: 'PerpExchange',
  withdraw: 'PerpExchange',
  trade: 'PerpExchange',
  liquidate: 'PerpExchange',
  updateFunding: 'PerpExchange',
  pause: 'PerpExchange',
  unpause: 'PerpExchange',
  listSeries: 'OptionsMarket',
  buy: 'OptionsMarket',
  write: 'OptionsMarket',
  settleSeries: 'OptionsMarket',
  settle: 'OptionsMarket',
} as const satisfies Record<string, Contract>
export type Fn = keyof typeof FUNCTIONS

/** Events the workload folds, by name; the contract that emits them. */
const EVENTS = {
  CollateralUpdated: 'PerpExchange',
  PositionUpdated: 'PerpExchange',
  MarketUpdated: 'PerpExchange',
  Liquidated: 'PerpExchange',
  BadDebt: 'PerpExchange',
  Paused: 'PerpExchange',
  Unpaused: 'PerpExchange',
  SeriesListed: 'OptionsMarket',
  OptionPositionUpdated: 'OptionsMarket',
  SeriesSettled: 'OptionsMarket',
} as const satisfies Record<string, Contract>
export type EventName = keyof typeof EVENTS

export type Arg = bigint | number | boolean | Address

export interface ProtocolAbi {
  /** calldata for `fn(args)`, encoded by viem from the compiled ABI */
  encode: (fn: Fn, args: readonly Arg[]) => Hex
  /** topic0 of each folded event */
  topics: Record<EventName, Hex>
}

export class WorkloadAbiError extends ArkError {
  override readonly name = 'WorkloadAbiError'
}

/**
 * The compiled reference protocol's ABIs (solc, cached): the workload encodes
 * its calls with them and takes its event topics from them, so a contract that
 * drifts fails here, at the start, not as a revert. The topics the snapshot
 * adapter reads must be the same ones.
 */
export async function loadProtocolAbi(): Promise<ProtocolAbi> {
  const abis = Object.fromEntries(await Promise.all(CONTRACTS.map(async (c) => [c, (await loadArtifact(c)).abi] as const))) as Record<Contract, Abi>
  for (const [fn, c] of Object.entries(FUNCTIONS)) {
    if (!abis[c].some((i) => i.type === 'function' && i.name === fn)) throw new WorkloadAbiError('INVALID_INPUT', `the compiled ${c} has no function ${fn}; the workload and deploy/reference-protocol/contracts disagree, update the workload`)
  }
  const topics = {} as Record<EventName, Hex>
  for (const [name, c] of Object.entries(EVENTS) as [EventName, Contract][]) {
    const ev = abis[c].find((i): i is AbiEvent => i.type === 'event' && i.name === name)
    if (ev === undefined) throw new WorkloadAbiError('INVALID_INPUT', `the compiled ${c} has no event ${name}; update the workload`)
    topics[name] = toEventSelector(ev)
  }
  for (const [name, topic] of Object.entries(TOPICS)) {
    if (topics[name as EventName] !== topic) throw new WorkloadAbiError('INVALID_INPUT', `event ${name} differs between the compiled contracts and the snapshot adapter (snapshot/adapters/perp-reference/abi.ts)`)
  }
  // uint64/uint256 arguments are given as numbers where they are small (market, series ids)
  const big = (a: Arg): unknown => (typeof a === 'number' ? BigInt(a) : a)
  return { encode: (fn, args) => encodeFunctionData({ abi: abis[FUNCTIONS[fn]], functionName: fn, args: args.map(big) } as never), topics }
}
