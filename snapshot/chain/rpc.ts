import { ChainError, httpTarget, RpcError, type HttpTarget } from './errors.ts'

export interface RpcOptions {
  /** per-request timeout */
  timeoutMs: number
  /** attempts per request for retryable failures (network, 5xx, 429, malformed JSON) */
  retries: number
  /** first backoff delay; doubles each attempt, with jitter */
  backoffMs: number
  maxBackoffMs: number
  /** called once per HTTP request (each retry too): for latency and error metrics; `endpoint` is redacted to scheme://host[:port] */
  onRequest?: (e: RpcRequestEvent) => void
}

/** One JSON-RPC request as metrics see it: no URL path, no credentials, bounded outcome codes. */
export interface RpcRequestEvent {
  endpoint: string
  method: string
  seconds: number
  /** 'ok' or the RpcError chain code (RPC_UNAVAILABLE, RPC_BAD_RESPONSE, RPC_ERROR, ABORTED) */
  outcome: string
}

export const RPC_DEFAULTS: Readonly<RpcOptions> = Object.freeze({ timeoutMs: 10_000, retries: 4, backoffMs: 200, maxBackoffMs: 5_000 })

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(abortError(signal))
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(t)
      reject(abortError(signal!))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function abortError(signal: AbortSignal): ChainError {
  return new ChainError('ABORTED', 'chain read aborted', { cause: signal.reason })
}

let nextId = 1

/** JSON-RPC answers larger than this are refused while they stream (eth_getLogs ranges shrink on refusal). */
export const MAX_RPC_RESPONSE_BYTES = 64 * 1024 * 1024

/**
 * A response body read chunk by chunk, at most `max` bytes: `undefined` when
 * it is longer (the transfer is cancelled then, nothing past the cap is held).
 */
export async function readBodyCapped(res: Response, max: number): Promise<Uint8Array | undefined> {
  if (res.body === null) return new Uint8Array(0)
  const parts: Uint8Array[] = []
  let size = 0
  const reader = res.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.length
      if (size > max) return undefined
      parts.push(value)
    }
  } finally {
    await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)
}

/** JSON-RPC errors that mean "ask for less" rather than "try again". */
export function isRangeTooLarge(err: unknown): boolean {
  if (!(err instanceof RpcError) || err.chainCode !== 'RPC_ERROR') return false
  return err.rpcCode === -32005 || /range|too many|limit|exceed|too large|10000|block range/i.test(err.message)
}

/**
 * One JSON-RPC endpoint over fetch: a timeout and the caller's AbortSignal on
 * every request, retries with exponential backoff for failures that retrying
 * can fix, and errors that say which endpoint failed and how (URL redacted).
 */
export class RpcEndpoint {
  /** as configured (may hold secrets: show it only through redact) */
  readonly url: string
  private readonly target: HttpTarget
  private readonly options: RpcOptions
  /** requests sent, including retries (for benchmarks and metrics) */
  requests = 0

  constructor(url: string, options: Partial<RpcOptions> = {}) {
    this.url = url
    this.target = httpTarget(url)
    this.options = { ...RPC_DEFAULTS, ...options }
  }

  async request<T>(method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    let attempt = 0
    for (;;) {
      try {
        return await this.once<T>(method, params, signal)
      } catch (err) {
        if (signal?.aborted === true) throw abortError(signal)
        if (!(err instanceof RpcError) || !err.retryable || attempt >= this.options.retries) throw err
        const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** attempt)
        attempt++
        await sleep(base / 2 + Math.random() * (base / 2), signal)
      }
    }
  }

  private async once<T>(method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    const onRequest = this.options.onRequest
    if (onRequest === undefined) return this.send<T>(method, params, signal)
    const t0 = performance.now()
    let outcome = 'ok'
    try {
      return await this.send<T>(method, params, signal)
    } catch (err) {
      outcome = err instanceof ChainError ? err.chainCode : 'error'
      throw err
    } finally {
      onRequest({ endpoint: this.target.shown, method, seconds: (performance.now() - t0) / 1000, outcome })
    }
  }

  private async send<T>(method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    this.requests++
    const timeout = AbortSignal.timeout(this.options.timeoutMs)
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    let res: Response
    try {
      res = await fetch(this.target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.target.headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
        signal: combined,
      })
    } catch (cause) {
      if (signal?.aborted === true) throw abortError(signal)
      const timedOut = timeout.aborted
      throw new RpcError('RPC_UNAVAILABLE', this.url, timedOut ? `${method} timed out after ${this.options.timeoutMs} ms` : `${method} failed: ${(cause as Error).message}`, { cause, retryable: true })
    }
    let bytes: Uint8Array | undefined
    try {
      bytes = await readBodyCapped(res, MAX_RPC_RESPONSE_BYTES)
    } catch (cause) {
      throw new RpcError('RPC_UNAVAILABLE', this.url, `${method}: response body interrupted`, { cause, retryable: true })
    }
    if (bytes === undefined) throw new RpcError('RPC_ERROR', this.url, `${method}: response is over the ${MAX_RPC_RESPONSE_BYTES}-byte limit (too large a range?)`, { rpcCode: -32005 })
    const text = Buffer.from(bytes).toString('utf8')
    if (!res.ok) {
      throw new RpcError('RPC_UNAVAILABLE', this.url, `${method}: HTTP ${res.status}`, { retryable: res.status === 429 || res.status >= 500 })
    }
    let body: { result?: T; error?: { code?: number; message?: string } }
    try {
      body = JSON.parse(text) as typeof body
    } catch (cause) {
      throw new RpcError('RPC_BAD_RESPONSE', this.url, `${method}: response is not valid JSON (${text.length} bytes)`, { cause, retryable: true })
    }
    if (body === null || typeof body !== 'object') throw new RpcError('RPC_BAD_RESPONSE', this.url, `${method}: response is not a JSON-RPC object`, { retryable: true })
    if (body.error !== undefined && body.error !== null) {
      const code = typeof body.error.code === 'number' ? body.error.code : undefined
      const opts: { rpcCode?: number; retryable: boolean } = { retryable: code === -32603 || code === 429 }
      if (code !== undefined) opts.rpcCode = code
      throw new RpcError('RPC_ERROR', this.url, `${method}: ${String(body.error.message ?? 'error').slice(0, 300)}`, opts)
    }
    if (!('result' in body)) throw new RpcError('RPC_BAD_RESPONSE', this.url, `${method}: response has neither result nor error`, { retryable: true })
    return body.result as T
  }
}
