import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'

/** Solidity sources that do not compile, or an artifact that is not there: fix the sources or the name. */
export class CompileError extends ArkError {
  override readonly name = 'CompileError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('INVALID_INPUT', message, options)
  }
}
