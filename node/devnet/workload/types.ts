import type { Address } from 'viem'
import type { ReferenceDeployment } from '../deploy.ts'

export interface WorkloadOptions {
  rpcUrl: string
  deployment: ReferenceDeployment
  seed: number | bigint
  traders: number
  /** Trader actions (one transaction each, two for a wallet top-up). */
  steps: number
  signal?: AbortSignal
  /**
   * Upper bound on transactions per block, also capped by the block gas limit (450k gas per slot).
   * Fewer, fuller blocks are much faster on anvil (each block costs a state-root pass). Default 1000.
   */
  txsPerBlock?: number
  /** Seconds between rounds (one block each). Default 60. */
  blockInterval?: number
  /**
   * Timestamp of the first block the workload mines; default one second after the latest block. Pin
   * it (in the future) to make two runs on fresh chains identical down to the timestamps.
   */
  startTimestamp?: number | bigint
  /** JSON-RPC requests per HTTP batch. Default 500. */
  batchSize?: number
  /** Accounts the keeper re-evaluates per round (all when there are fewer). Default 2000. */
  keeperScan?: number
  onProgress?: (p: WorkloadProgress) => void
}

export interface WorkloadProgress {
  round: number
  steps: number
  txs: number
  events: number
  blocks: number
}

export interface WorkloadCounts {
  trades: number
  liquidations: number
  badDebts: number
  deposits: number
  withdrawals: number
  optionBuys: number
  optionWrites: number
  seriesListed: number
  seriesSettled: number
  optionSettlements: number
  priceUpdates: number
  fundingUpdates: number
  pauses: number
}

export interface WorkloadResult {
  traders: Address[]
  keeper: Address
  /** Logs emitted by the exchange and the options market during the run. */
  events: number
  txs: number
  reverted: number
  blocks: number
  /** Distinct accounts whose exchange or options state changed during the run. */
  accounts: number
  fromBlock: bigint
  toBlock: bigint
  counts: WorkloadCounts
  /** Where the wall time went (ms): key derivation, sending, mining, reading blocks and logs, the rest. */
  timings: { keys: number; send: number; mine: number; read: number; plan: number }
  /** Reverted transactions by function (margin checks and races the generator does not avoid). */
  revertedBy: Partial<Record<string, number>>
  elapsedMs: number
}

export const WORKLOAD_DEFAULTS = Object.freeze({
  txsPerBlock: 1000,
  blockInterval: 60,
  batchSize: 500,
  keeperScan: 2000,
})
