import type { Address, Hex } from 'viem'
import { ArkError } from '../../../snapshot/ark-error.ts'
import type { Fn } from './contracts.ts'
import type { EventFold, Log } from './event-fold.ts'

export interface Tx {
  kind: Fn
  from: Address
  to: Address
  data: Hex
  gas: bigint
  onSuccess?: () => void
}

export interface Block {
  number: Hex
  timestamp: Hex
  gasLimit: Hex
  baseFeePerGas?: Hex
}

export type Rpc = <T>(method: string, params?: unknown[]) => Promise<T>

export class WorkloadBlockError extends ArkError {
  override readonly name = 'WorkloadBlockError'
}

/**
 * Mines the workload's blocks on anvil (automine off): sends a batch, mines one
 * block at an explicit timestamp, checks every transaction made it in (the
 * `first` ones ahead of the rest) and folds the block's logs.
 */
export class BlockMiner {
  txs = 0
  reverted = 0
  blocks = 0
  readonly revertedBy: Partial<Record<Fn, number>> = {}
  now: bigint
  blockGasLimit: bigint
  private baseFee: bigint
  private readonly baseFeeCap: bigint
  private canPinBaseFee = true
  private readonly rpc: Rpc
  private readonly fold: EventFold
  private readonly nonces: Map<string, bigint>
  private readonly signal: AbortSignal | undefined
  private readonly lap: (k: 'plan' | 'send' | 'mine' | 'read') => void

  constructor(init: { rpc: Rpc; fold: EventFold; nonces: Map<string, bigint>; latest: Block; now: bigint; signal: AbortSignal | undefined; lap: (k: 'plan' | 'send' | 'mine' | 'read') => void }) {
    this.rpc = init.rpc
    this.fold = init.fold
    this.nonces = init.nonces
    this.signal = init.signal
    this.lap = init.lap
    this.now = init.now
    this.blockGasLimit = BigInt(init.latest.gasLimit)
    this.baseFee = BigInt(init.latest.baseFeePerGas ?? '0x0')
    // Blocks above the gas target raise the base fee 12.5% each; over hundreds of full blocks that
    // would drain the traders' ETH, so the next block's base fee is pinned back to where it started.
    this.baseFeeCap = this.baseFee > 1_000_000_000n ? this.baseFee : 1_000_000_000n
  }

  /**
   * `first` transactions pay a higher fee so the node orders them ahead of the rest (anvil's default
   * fee ordering); that they did is checked, never assumed.
   */
  async mine(first: Tx[], rest: Tx[], timestamp: bigint): Promise<void> {
    const rpc = this.rpc
    this.signal?.throwIfAborted()
    this.lap('plan')
    if (this.baseFee > this.baseFeeCap && this.canPinBaseFee) {
      await rpc('anvil_setNextBlockBaseFeePerGas', [`0x${this.baseFeeCap.toString(16)}`]).then(
        () => {
          this.baseFee = this.baseFeeCap
        },
        () => {
          this.canPinBaseFee = false
        },
      )
    }
    const batch = [...first, ...rest]
    const fee = (tip: bigint): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } => ({
      maxFeePerGas: `0x${(this.baseFee * 2n + 1_000_000_000n + tip * 2n).toString(16)}`,
      maxPriorityFeePerGas: `0x${tip.toString(16)}`,
    })
    const [priority, normal] = [fee(1_000_000_000n), fee(0n)]
    const hashes = await Promise.all(
      batch.map((tx, i) => {
        const nonce = this.nonces.get(tx.from)!
        this.nonces.set(tx.from, nonce + 1n)
        return rpc<Hex>('eth_sendTransaction', [{ from: tx.from, to: tx.to, data: tx.data, gas: `0x${tx.gas.toString(16)}`, nonce: `0x${nonce.toString(16)}`, ...(i < first.length ? priority : normal) }])
      }),
    )
    this.lap('send')
    await rpc('evm_mine', [Number(timestamp)])
    this.lap('mine')
    const block = await rpc<Block & { hash: Hex; transactions: Hex[] }>('eth_getBlockByNumber', ['latest', false])
    const logs = await rpc<(Log & { transactionHash: Hex })[]>('eth_getLogs', [{ blockHash: block.hash }])
    if (BigInt(block.timestamp) !== timestamp) throw new WorkloadBlockError('IO', `mined block has timestamp ${BigInt(block.timestamp)}, wanted ${timestamp}`)
    const included = new Set(block.transactions)
    const leading = new Set(block.transactions.slice(0, first.length))
    const emitted = new Set(logs.map((l) => l.transactionHash))
    for (const [i, hash] of hashes.entries()) {
      if (!included.has(hash)) throw new WorkloadBlockError('IO', `transaction ${hash} was not included in block ${BigInt(block.number)}: lower txsPerBlock or raise the block gas limit`)
      if (i < first.length && !leading.has(hash)) throw new WorkloadBlockError('IO', `oracle update ${hash} was not ordered first in block ${BigInt(block.number)}: run anvil with --order fees (the default)`)
      // every function the generator calls emits at least one log on success, and a revert emits none
      if (emitted.has(hash)) batch[i]!.onSuccess?.()
      else {
        this.reverted++
        this.revertedBy[batch[i]!.kind] = (this.revertedBy[batch[i]!.kind] ?? 0) + 1
      }
    }
    this.lap('read')
    for (const log of logs) this.fold.apply(log)
    this.txs += batch.length
    this.blocks++
    this.now = timestamp
    this.blockGasLimit = BigInt(block.gasLimit)
    this.baseFee = BigInt(block.baseFeePerGas ?? '0x0')
  }
}
