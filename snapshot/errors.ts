import { ArkError, type ArkErrorOptions } from './ark-error.ts'

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
