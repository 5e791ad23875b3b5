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

/** Input that cannot be represented canonically: rejected, never coerced. */
export class InvalidInputError extends ArkError {
  override readonly name = 'InvalidInputError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('INVALID_INPUT', message, options)
  }
}

/** A stored or received block that breaks the format rules. */
export class MalformedBlockError extends ArkError {
  override readonly name = 'MalformedBlockError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('MALFORMED_BLOCK', message, options)
  }
}

export class BlockNotFoundError extends ArkError {
  override readonly name = 'BlockNotFoundError'
  constructor(cid: string, options: ArkErrorOptions = {}) {
    super('BLOCK_NOT_FOUND', `block ${cid} is missing from the store; fetch the complete snapshot DAG (every block reachable from the root) and try again`, { retryable: true, ...options })
  }
}

export class BlockHashMismatchError extends ArkError {
  override readonly name = 'BlockHashMismatchError'
  constructor(cid: string, options: ArkErrorOptions = {}) {
    super('BLOCK_HASH_MISMATCH', `block bytes do not hash to their CID ${cid}; the source is corrupt or lying, fetch it from another source`, options)
  }
}

export class UnsupportedVersionError extends ArkError {
  override readonly name = 'UnsupportedVersionError'
  constructor(what: string, got: unknown, supported: readonly unknown[]) {
    super('UNSUPPORTED_VERSION', `${what} version ${String(got)} is not supported (this build reads ${supported.join(', ')}); upgrade Ark or use a snapshot written by a supported version`)
  }
}

export const isArkError = (e: unknown): e is ArkError => e instanceof ArkError
