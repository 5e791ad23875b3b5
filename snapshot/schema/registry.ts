import { ArkError } from '../ark-error.ts'
import { derivativesSchema } from './derivatives.ts'
import { derivativesSchemaV2 } from './derivatives-v2.ts'
import { derivativesSchemaV3 } from './derivatives-v3.ts'
import { derivativesSchemaV4 } from './derivatives-v4.ts'
import { erc20Schema } from './erc20.ts'
import type { RecordSchema } from './types.ts'

/** Registry key of a record schema: its id and version, the pair written in every snapshot root. */
export const schemaKey = (id: string, version: number): string => `${id}@${version}`

/**
 * Record schemas this build can read, by `schemaKey(id, version)`. Every
 * version stays readable: a new version is added, never swapped in.
 */
export const schemas: ReadonlyMap<string, RecordSchema<unknown, unknown>> = new Map(
  [derivativesSchema, derivativesSchemaV2, derivativesSchemaV3, derivativesSchemaV4, erc20Schema].map((s) => [schemaKey(s.id, s.version), s as RecordSchema<unknown, unknown>]),
)

/** The schema a snapshot root names (`root.schema.id`, `root.schema.version`). */
export function schemaById(id: string, version: number): RecordSchema<unknown, unknown> {
  const s = schemas.get(schemaKey(id, version))
  if (s === undefined) {
    throw new ArkError('UNSUPPORTED_VERSION', `record schema ${JSON.stringify(id)} version ${version} is unknown to this build (known: ${[...schemas.keys()].join(', ')}); upgrade Ark or install the adapter that wrote it`)
  }
  return s
}
