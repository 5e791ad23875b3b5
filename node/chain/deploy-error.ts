import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'

/** A deployment transaction reverted or was not mined in time (the chain said no, or is not producing blocks). */
export class DeployError extends ArkError {
  override readonly name = 'DeployError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('IO', message, options)
  }
}
