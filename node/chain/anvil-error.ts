import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'

/** anvil could not be found, started or reached; `retryable` when another port or a later try can help. */
export class AnvilError extends ArkError {
  override readonly name: string = 'AnvilError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('IO', message, options)
  }
}

/** The port probed for anvil was taken before anvil bound it: start again on a fresh one. */
export class AnvilPortInUseError extends AnvilError {
  override readonly name = 'AnvilPortInUseError'
  constructor(message: string) {
    super(`${message}; another process took the port — retry on a fresh one`, { retryable: true })
  }
}
