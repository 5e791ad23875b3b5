import { InvalidInputError } from '../errors.ts'
import { checkInt, UINT64 } from '../codec/int.ts'
import type { Hex } from '../chain/source.ts'
import { ADDRESS_PATTERN as ADDRESS } from '../codec/address.ts'


/** Shared config validation: every error names the key and the fix. */
export function configObject(json: unknown, adapter: string, allowed: readonly string[]): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new InvalidInputError(`${adapter} config must be a JSON object with ${allowed.join(', ')}`)
  for (const k of Object.keys(json)) {
    if (!allowed.includes(k)) throw new InvalidInputError(`${adapter} config has unknown key ${JSON.stringify(k)}; allowed keys: ${allowed.join(', ')}`)
  }
  return json as Record<string, unknown>
}

export function configAddress(obj: Record<string, unknown>, key: string, adapter: string): Hex {
  const v = obj[key]
  if (v === undefined) throw new InvalidInputError(`${adapter} config is missing "${key}": set it to the contract's 0x-address`)
  if (typeof v !== 'string' || !ADDRESS.test(v)) throw new InvalidInputError(`${adapter} config "${key}" must be a 20-byte 0x-hex address, got ${JSON.stringify(v)}`)
  return v.toLowerCase() as Hex
}

export function configBlock(obj: Record<string, unknown>, key: string, adapter: string): bigint {
  const v = obj[key]
  if (v === undefined) throw new InvalidInputError(`${adapter} config is missing "${key}": set it to the block the contracts were deployed in`)
  try {
    return checkInt(v, UINT64, `${adapter} config "${key}"`)
  } catch (cause) {
    throw new InvalidInputError(`${adapter} config "${key}" must be a block number (non-negative integer), got ${JSON.stringify(v)}`, { cause })
  }
}
