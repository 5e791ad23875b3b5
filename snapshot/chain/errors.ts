import { ArkError, type ArkErrorOptions } from '../ark-error.ts'

/**
 * Chain-reading failures. `retryable` tells the scheduler whether the same
 * checkpoint may succeed later (a flaky provider) or needs an operator (a
 * provider that disagrees with the others, a wrong chain).
 */
export type ChainErrorCode = 'RPC_UNAVAILABLE' | 'RPC_BAD_RESPONSE' | 'RPC_ERROR' | 'CHAIN_DISAGREEMENT' | 'WRONG_CHAIN' | 'NOT_FINAL' | 'REORG' | 'CONTRACT_MISSING' | 'SPOT_CHECK_FAILED' | 'ABORTED'

export class ChainError extends ArkError {
  override readonly name: string = 'ChainError'
  readonly chainCode: ChainErrorCode
  constructor(chainCode: ChainErrorCode, message: string, options: ArkErrorOptions = {}) {
    super('IO', message, options)
    this.chainCode = chainCode
  }
}

export class RpcError extends ChainError {
  override readonly name = 'RpcError'
  /** JSON-RPC error code, when the provider sent one */
  readonly rpcCode: number | undefined
  readonly url: string
  constructor(chainCode: 'RPC_UNAVAILABLE' | 'RPC_BAD_RESPONSE' | 'RPC_ERROR', url: string, message: string, options: ArkErrorOptions & { rpcCode?: number } = {}) {
    super(chainCode, `${message} (endpoint ${redact(url)})`, options)
    this.rpcCode = options.rpcCode
    this.url = redact(url)
  }
}

export class ChainDisagreementError extends ChainError {
  override readonly name = 'ChainDisagreementError'
  constructor(message: string, details: Record<string, unknown>) {
    super('CHAIN_DISAGREEMENT', message, { details, retryable: true })
  }
}

export class SpotCheckError extends ChainError {
  override readonly name = 'SpotCheckError'
  constructor(message: string, details: Record<string, unknown>) {
    super('SPOT_CHECK_FAILED', message, { details })
  }
}

/**
 * The one URL redactor (issue 10 item 10): endpoint URLs often carry secrets,
 * as user:pass, an API key in the path (…/v2/KEY) or in the query (?key=…),
 * so only scheme, host and port ever reach a message, a log, a metric or an
 * API answer.
 */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}`
  } catch {
    return '<invalid url>'
  }
}

/** An http(s) URL as it is requested: credentials moved out of the URL into an Authorization header. */
export interface HttpTarget {
  /** the URL without userinfo (fetch() refuses URLs that carry credentials) */
  url: string
  /** Authorization: Basic when the URL had user:pass */
  headers: Record<string, string>
  /** redact(url): what messages show */
  shown: string
}

export function httpTarget(url: string): HttpTarget {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { url, headers: {}, shown: redact(url) }
  }
  if (u.username === '' && u.password === '') return { url, headers: {}, shown: redact(url) }
  const user = decodeURIComponent(u.username)
  const pass = decodeURIComponent(u.password)
  u.username = ''
  u.password = ''
  const plain = url.endsWith('/') || u.pathname !== '/' || u.search !== '' ? u.toString() : u.toString().replace(/\/$/, '')
  return { url: plain, headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` }, shown: redact(url) }
}
