import { ArkError, type ArkErrorOptions } from '../ark-error.ts'

/** A CAR (file or stream) whose framing or blocks cannot be trusted: re-download or re-export it. */
export class MalformedCarError extends ArkError {
  override readonly name = 'MalformedCarError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('MALFORMED_CAR', message, options)
  }
}
