import type { CID } from 'multiformats/cid'
import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'
import type { Staging } from './staging.ts'

/** `cid`: the certificate with this CID (found by routing, an ArkRegistry CertificateSubmitted event, a citation) */
export type BlockQuery = { kind: 'number'; block: bigint } | { kind: 'latest' } | { kind: 'before'; block: bigint } | { kind: 'cid'; cid: CID }

/** What a source is asked to locate: the certificate answering `query` for (chainId, adapterId). */
export interface LocateRequest {
  query: BlockQuery
  chainId: bigint
  adapterId: string
}

/** A certificate block as a source returned it: untrusted until hash-checked and verified. */
export interface Located {
  cid: CID
  bytes: Uint8Array
}

export interface SourceContext {
  /** aborted when the fetch is cancelled, the source stalls or its time is up */
  signal: AbortSignal
  /** data arrived from the source: resets its stall timer */
  progress(): void
}

/**
 * An untrusted place to get certificates and blocks from: an archive node's
 * HTTP API / trustless gateway, or a libp2p peer (catch-up protocol and
 * bitswap). Whatever it returns is checked by the caller or on arrival.
 */
export interface FetchSource {
  readonly kind: 'gateway' | 'peer'
  /** the URL or multiaddr, as given */
  readonly name: string
  locate(req: LocateRequest, ctx: SourceContext): Promise<Located>
  /**
   * Make every block of the DAG under `root` present in `staging`, fetching
   * only the missing ones; each block is hash-checked before it is kept
   * (fetch relies on it: the snapshot is then verified without hashing them again).
   * Throws if the source cannot deliver them all.
   */
  fetchBlocks(root: CID, staging: Staging, ctx: SourceContext): Promise<void>
  /**
   * Make the one block `cid` present in `staging`, hash-checked before it is
   * kept (an incremental fetch asks only for blocks no earlier snapshot holds).
   */
  fetchBlock(cid: CID, staging: Staging, ctx: SourceContext): Promise<void>
  /**
   * Optional: make the blocks `cids` present in `staging` in as few requests
   * as the source allows, each hash-checked before it is kept; throws if any
   * stays missing. Without it (or when it says `false`: the source lacks the
   * batch endpoint) they are asked for one by one with fetchBlock.
   */
  fetchBlockBatch?(cids: CID[], staging: Staging, ctx: SourceContext): Promise<boolean>
  /** fetchBlock calls at once that this source takes (a gateway bounds connections per client) */
  readonly blockConcurrency: number
  close(): Promise<void>
}

/**
 * A source failed or misbehaved: unreachable, an HTTP error, an answer that
 * is not what was asked for, a body over its size limit. The fetch drops the
 * source and goes on with the next one.
 */
export class SourceError extends ArkError {
  override readonly name = 'SourceError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('IO', message, { retryable: true, ...options })
  }
}

/** A source sent nothing for too long, or ran out of its time. */
export class SourceStalledError extends ArkError {
  override readonly name = 'SourceStalledError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('IO', message, { retryable: true, ...options })
  }
}

/**
 * Progress-based stall detection for one source: `signal` aborts (with a
 * SourceStalledError) when `progress()` was not called for `stallMs`, or
 * when `timeoutMs` (if any) has passed in total, or when `parent` aborts.
 */
export class Watchdog implements SourceContext {
  readonly signal: AbortSignal
  private readonly controller = new AbortController()
  private last = performance.now()
  private readonly timer: NodeJS.Timeout
  private readonly total: NodeJS.Timeout | undefined
  private readonly onParent: () => void
  private readonly parent: AbortSignal | undefined

  constructor(options: { stallMs: number; timeoutMs?: number; parent?: AbortSignal }) {
    this.signal = this.controller.signal
    this.parent = options.parent
    this.onParent = () => this.controller.abort(options.parent!.reason)
    if (options.parent?.aborted === true) this.controller.abort(options.parent.reason)
    options.parent?.addEventListener('abort', this.onParent, { once: true })
    const stallMs = options.stallMs
    this.timer = setInterval(() => {
      if (performance.now() - this.last > stallMs) this.controller.abort(new SourceStalledError(`stalled: nothing received for ${(stallMs / 1000).toFixed(stallMs % 1000 === 0 ? 0 : 1)} s`))
    }, Math.max(50, Math.min(1000, stallMs / 4)))
    this.timer.unref()
    if (options.timeoutMs !== undefined) {
      this.total = setTimeout(() => this.controller.abort(new SourceStalledError(`gave up after ${Math.round(options.timeoutMs! / 1000)} s (the per-source time limit)`)), options.timeoutMs)
      this.total.unref()
    }
  }

  progress(): void {
    this.last = performance.now()
  }

  dispose(): void {
    clearInterval(this.timer)
    if (this.total !== undefined) clearTimeout(this.total)
    this.parent?.removeEventListener('abort', this.onParent)
  }
}
