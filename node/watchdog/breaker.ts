import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { encodeFunctionData, type Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { Address } from '../../protocol/operator-set.ts'
import { writeFileAtomic } from '../fs/atomic.ts'
import { watchdogExchangeAbi } from './chain-reader.ts'
import { WatchdogOutputError } from './errors.ts'
import { walletClients } from '../chain/wallet.ts'

/** What the breaker did, persisted before and after sending (`{dataDir}/breaker.json`). */
export interface BreakerState {
  status: 'sending' | 'sent' | 'already-paused' | 'failed'
  conditionKey: string
  guardian: string
  exchange: string
  tx?: string
  error?: string
  at: string
}

/**
 * Circuit breaker: calls `pause()` on the exchange with the guardian key,
 * at most once per data dir. The intent is written (atomically) before the
 * transaction leaves, so a crash between the two never sends a second one
 * after a restart; an exchange that is already paused is recorded, not
 * paused again.
 */
export class CircuitBreaker {
  readonly exchange: Address
  private readonly account: PrivateKeyAccount
  private readonly rpcUrl: string
  private readonly chainId: bigint
  private readonly file: string
  private readonly log: Logger | undefined
  private readonly isPaused: () => Promise<boolean>
  state: BreakerState | undefined
  private tripping: Promise<BreakerState> | undefined

  constructor(init: { account: PrivateKeyAccount; exchange: Address; rpcUrl: string; chainId: bigint; stateFile: string; isPaused: () => Promise<boolean>; log?: Logger }) {
    this.account = init.account
    this.exchange = init.exchange
    this.rpcUrl = init.rpcUrl
    this.chainId = init.chainId
    this.file = init.stateFile
    this.isPaused = init.isPaused
    this.log = init.log
  }

  get guardian(): string {
    return this.account.address.toLowerCase()
  }

  async open(): Promise<void> {
    try {
      this.state = JSON.parse(await readFile(this.file, 'utf8')) as BreakerState
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  private async save(s: BreakerState): Promise<void> {
    this.state = s
    await writeFileAtomic(this.file, [JSON.stringify(s)])
  }

  /** Pause once; later calls return the recorded outcome. */
  trip(conditionKey: string): Promise<BreakerState> {
    if (this.state !== undefined) return Promise.resolve(this.state)
    this.tripping ??= this.tripNow(conditionKey)
    return this.tripping
  }

  private async tripNow(conditionKey: string): Promise<BreakerState> {
    const base = { conditionKey, guardian: this.guardian, exchange: this.exchange }
    if (await this.isPaused().catch(() => false)) {
      await this.save({ ...base, status: 'already-paused', at: new Date().toISOString() })
      this.log?.warn({ exchange: this.exchange }, 'circuit breaker: the exchange is already paused; not sending')
      return this.state!
    }
    await this.save({ ...base, status: 'sending', at: new Date().toISOString() })
    try {
      const { wallet } = walletClients(this.account, this.chainId, this.rpcUrl)
      const tx: Hex = await wallet.sendTransaction({ to: this.exchange, data: encodeFunctionData({ abi: watchdogExchangeAbi, functionName: 'pause' }), gas: 100_000n })
      await this.save({ ...base, status: 'sent', tx, at: new Date().toISOString() })
      this.log?.warn({ exchange: this.exchange, tx, conditionKey }, 'circuit breaker: pause() sent')
    } catch (cause) {
      // viem puts the endpoint URL (user:pass, keys in path or query) in its messages and fields: only a scrubbed summary goes on
      const err = new WatchdogOutputError('BREAKER_SEND_FAILED', `circuit breaker: sending pause() to ${this.exchange}`, this.rpcUrl, cause, 'Check the RPC endpoint and the guardian key (set on the exchange, funded); not retried automatically: remove breaker.json to re-arm.')
      // 'sending' stays on disk only if this save fails too: then a restart never re-sends
      await this.save({ ...base, status: 'failed', error: err.message.slice(0, 300), at: new Date().toISOString() })
      this.log?.error({ err, exchange: this.exchange }, 'circuit breaker: sending pause() failed; not retried automatically')
    }
    return this.state!
  }
}
