/**
 * Every error Ark raises on purpose is an ArkError: a stable `name`, a bounded
 * `code` callers can switch on, a message that says what to do, the `cause`,
 * and whether retrying the same operation can help.
 */
export const errorCodes = [
  'INVALID_INPUT',
  'NON_CANONICAL',
  'DUPLICATE_KEY',
  'UNSUPPORTED_VERSION',
  'BLOCK_HASH_MISMATCH',
  'BLOCK_NOT_FOUND',
  'BLOCK_TOO_LARGE',
  'MALFORMED_BLOCK',
  'MALFORMED_CAR',
  'ROOT_MISMATCH',
  'PROOF_INVALID',
  'KEY_NOT_FOUND',
  'USAGE',
  'IO',
] as const

export type ErrorCode = (typeof errorCodes)[number]

export interface ArkErrorOptions {
  cause?: unknown
  retryable?: boolean
  /** Extra structured context, safe to log (never secrets). */
  details?: Record<string, unknown>
}

export class ArkError extends Error {
  override readonly name: string = 'ArkError'
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: ArkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? false
    this.details = options.details
  }
}

export const isArkError = (e: unknown): e is ArkError => e instanceof ArkError
