import { ArkError } from '../ark-error.ts'
import type { RecordSchema } from '../schema/types.ts'

/**
 * Which record schemas offer an escape valuation that a contract can recompute: those whose
 * stateRoot commits to the market state and whose account leaf carries the positions (schema
 * ark.derivatives.account v4). Others stay per-asset balances.
 */
const OFFERED = new Set(['ark.derivatives.account@4'])

export function valuationOffered(schema: Pick<RecordSchema, 'id' | 'version'>): boolean {
  return OFFERED.has(`${schema.id}@${schema.version}`)
}

export function requireValuation(schema: Pick<RecordSchema, 'id' | 'version'>): void {
  if (!valuationOffered(schema)) {
    throw new ArkError('INVALID_INPUT', `escape valuation is not offered by schema ${schema.id} v${schema.version}: its stateRoot does not commit to the market state, so a contract could not check the prices; claims from it are per-asset balances (drop --value), or snapshot the venue with a v4 adapter (perp-reference-v4)`)
  }
}
