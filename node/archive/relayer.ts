import type { Logger } from 'pino'
import { BaseError, ContractFunctionRevertedError, type Account, type Hex } from 'viem'
import type { Certificate } from '../../protocol/certificate.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { redact } from '../../snapshot/chain/errors.ts'
import { sleep } from '../../snapshot/chain/rpc.ts'
import { ARK_REGISTRY_ABI, attestationTuple, registryAdapterKey } from '../chain/registry.ts'
import { walletClients, type WalletClients } from '../chain/wallet.ts'
import { scrubUrls } from '../watchdog/errors.ts'

/** What became of one certificate: sent and mined, found recorded (by another relayer), refused, or failed. */
export type RelayResult = 'submitted' | 'already-recorded' | 'conflicting' | 'refused' | 'failed' | 'dropped'

export interface RelayerMetrics {
  result(r: RelayResult): void
  /** seconds from holding the certificate to seeing its root recorded on chain */
  lag(seconds: number): void
  pending(n: number): void
}

export interface RelayerInit {
  account: Account
  registry: Address
  chainId: bigint
  /** the endpoint transactions go to (credentials never logged) */
  rpcUrl: string
  /** wait this long before checking and sending: 0 for the designated relayer, staggered for the others */
  delayMs: number
  log: Logger
  signal: AbortSignal
  metrics?: RelayerMetrics
  /** certificates waiting at most; the oldest is dropped beyond it */
  maxPending?: number
  /** attempts per certificate for failures a retry can fix (RPC down, nonce races) */
  attempts?: number
  backoffMs?: number
  receiptTimeoutMs?: number
  /** tests: the clients (default viem over rpcUrl) */
  clients?: WalletClients
}

export class RelayerError extends ArkError {
  override readonly name = 'RelayerError'
}

interface Pending {
  cert: Certificate
  heldAt: number
}

/**
 * Anchoring relayer (issue 14, optional): submits each certificate the node holds to ArkRegistry.
 * Several operators may run one: each waits its configured delay, then reads the registry and sends
 * only if the root is not recorded yet (dedup), so a designated relayer with delay 0 and backups with
 * staggered delays cost one transaction per certificate while the designated one is up. Certificates
 * are handled one at a time (one nonce sequence), newest kept when the queue is full.
 */
export class AnchorRelayer {
  private readonly init: RelayerInit
  private readonly clients: WalletClients
  /** waiting certificates; the one being relayed is out of the queue */
  private readonly queue: Pending[] = []
  /** checkpoints handled (bounded: the queue's bound times two, oldest forgotten) */
  private readonly seen = new Set<string>()
  private running: Promise<void> | undefined
  readonly maxPending: number

  constructor(init: RelayerInit) {
    this.init = init
    this.maxPending = init.maxPending ?? 64
    this.clients = init.clients ?? walletClients(init.account, init.chainId, init.rpcUrl)
  }

  get address(): Address {
    return this.init.account.address.toLowerCase() as Address
  }

  /** A certificate the node now holds (aggregated, gossiped or caught up). */
  onCertificate(cert: Certificate): void {
    const b = cert.body
    if (b.chainId !== this.init.chainId) return
    const key = `${b.adapterId}/${b.configHash}/${b.blockNumber}/${b.kind}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    if (this.seen.size > 2 * this.maxPending) this.seen.delete(this.seen.values().next().value!)
    this.queue.push({ cert, heldAt: performance.now() })
    while (this.queue.length > this.maxPending) {
      const old = this.queue.shift()!
      this.init.metrics?.result('dropped')
      this.init.log.warn({ block: old.cert.body.blockNumber.toString() }, 'relayer: queue full; an older certificate is not anchored by this node')
    }
    this.init.metrics?.pending(this.queue.length)
    this.running ??= this.drain().finally(() => (this.running = undefined))
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  private async drain(): Promise<void> {
    const { signal, log } = this.init
    while (this.queue.length > 0 && !signal.aborted) {
      const p = this.queue.shift()!
      this.init.metrics?.pending(this.queue.length)
      const wait = this.init.delayMs - (performance.now() - p.heldAt)
      try {
        if (wait > 0) await sleep(wait, signal)
        const r = await this.relay(p)
        this.init.metrics?.result(r)
      } catch (err) {
        if (signal.aborted) return
        this.init.metrics?.result('failed')
        log.error({ err, block: p.cert.body.blockNumber.toString() }, 'relayer: anchoring failed; the certificate stays unanchored by this node')
      }
    }
  }

  /** The root recorded for the certificate's (scope, kind, block), or undefined (the empty snapshot's root 0 counts as recorded). */
  private async recorded(cert: Certificate): Promise<Hex | undefined> {
    const b = cert.body
    const [root, recorded] = await this.clients.reader.readContract({ address: this.init.registry, abi: ARK_REGISTRY_ABI, functionName: 'recordOf', args: [registryAdapterKey(b.adapterId, b.configHash), b.kind, b.blockNumber] })
    return recorded ? (root.toLowerCase() as Hex) : undefined
  }

  private async relay(p: Pending): Promise<RelayResult> {
    const { log, signal } = this.init
    const b = p.cert.body
    const fields = { block: b.blockNumber.toString(), kind: b.kind, registry: this.init.registry }
    const attempts = this.init.attempts ?? 5
    let futureWaits = 0
    for (let attempt = 1; ; attempt++) {
      try {
        const before = await this.recorded(p.cert)
        if (before === b.stateRoot.toLowerCase()) {
          this.init.metrics?.lag((performance.now() - p.heldAt) / 1000)
          log.debug(fields, 'relayer: already recorded; not sending')
          return 'already-recorded'
        }
        if (before !== undefined) {
          log.error({ ...fields, recorded: before, certified: b.stateRoot }, 'relayer: the registry records another root for this checkpoint; not sending (investigate: a conflicting certificate was anchored)')
          return 'conflicting'
        }
        const args = [attestationTuple(b), p.cert.signatures.map((s) => s.signer), p.cert.signatures.map((s) => s.signature)] as const
        // simulating first turns a refusal (BelowThreshold, UnknownSigner, …) into a named error, not a mined revert
        const { request } = await this.clients.reader.simulateContract({ account: this.init.account, address: this.init.registry, abi: ARK_REGISTRY_ABI, functionName: 'submitCertificate', args })
        const hash = await this.clients.wallet.writeContract(request)
        log.info({ ...fields, tx: hash }, 'relayer: certificate sent to the registry')
        const receipt = await this.clients.reader.waitForTransactionReceipt({ hash, timeout: this.init.receiptTimeoutMs ?? 120_000, pollingInterval: 250 })
        if (receipt.status === 'success' || (await this.recorded(p.cert)) === b.stateRoot.toLowerCase()) {
          this.init.metrics?.lag((performance.now() - p.heldAt) / 1000)
          log.info({ ...fields, tx: hash, gasUsed: receipt.gasUsed.toString() }, 'relayer: certificate anchored')
          return 'submitted'
        }
        throw new RelayerError('IO', `the registry transaction ${hash} reverted`, { retryable: true })
      } catch (err) {
        if (signal.aborted) throw err
        const refusal = registryRefusal(err)
        // FutureBlock: the certificate is for the head block, which the registry checks only once it is
        // past: wait for the next block without spending an attempt (bounded: the chain may have stalled)
        if (refusal === 'FutureBlock' && futureWaits++ < 300) {
          attempt--
          await sleep(1_000, signal)
          continue
        }
        if (refusal !== undefined) {
          // a refusal is the registry's answer about this certificate: retrying sends the same refusal
          log.error({ ...fields, refusal }, `relayer: the registry refuses the certificate (${refusal}); not retried`)
          return 'refused'
        }
        const clean = this.describe(err)
        if (attempt >= attempts) throw new RelayerError('IO', `anchoring block ${b.blockNumber} through ${redact(this.init.rpcUrl)} failed ${attempts} times: ${clean}. Check the endpoint and that the relayer key ${this.address} is funded.`, { retryable: true })
        log.warn({ ...fields, attempt, error: clean }, 'relayer: attempt failed; retrying')
        await sleep((this.init.backoffMs ?? 1_000) * 2 ** (attempt - 1), signal)
      }
    }
  }

  /** A dependency's error as one scrubbed line (viem embeds the endpoint URL, which may hold credentials). */
  private describe(err: unknown): string {
    const e = err as { shortMessage?: unknown; message?: unknown }
    const text = typeof e?.shortMessage === 'string' ? e.shortMessage : typeof e?.message === 'string' ? e.message : String(err)
    return scrubUrls(text.split('\n')[0]!.slice(0, 200), this.init.rpcUrl)
  }
}

/** The registry's named error when a simulation reverts with one (decoded from the ABI), else undefined. */
function registryRefusal(err: unknown): string | undefined {
  if (!(err instanceof BaseError)) return undefined
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
  if (!(revert instanceof ContractFunctionRevertedError)) return undefined
  return revert.data?.errorName ?? revert.reason ?? 'reverted'
}
