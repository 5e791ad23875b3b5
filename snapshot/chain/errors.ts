import { ArkError, type ArkErrorOptions } from '../errors.ts'

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

/** Endpoint URLs often embed API keys: keep only scheme, host and port in messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}`
  } catch {
    return '<invalid url>'
  }
}
