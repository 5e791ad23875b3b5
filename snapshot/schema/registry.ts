import { ArkError } from '../errors.ts'
import { derivativesSchema } from './derivatives.ts'
import { erc20Schema } from './erc20.ts'
import type { RecordSchema } from './types.ts'

/** Record schemas this build can read, by the id written in snapshot roots. */
export const schemas: ReadonlyMap<string, RecordSchema<unknown, unknown>> = new Map([
  [derivativesSchema.id, derivativesSchema as RecordSchema<unknown, unknown>],
  [erc20Schema.id, erc20Schema as RecordSchema<unknown, unknown>],
])

export function schemaById(id: string): RecordSchema<unknown, unknown> {
  const s = schemas.get(id)
  if (s === undefined) throw new ArkError('UNSUPPORTED_VERSION', `record schema ${JSON.stringify(id)} is unknown to this build (known: ${[...schemas.keys()].join(', ')}); upgrade Ark or install the adapter that wrote it`)
  return s
}
