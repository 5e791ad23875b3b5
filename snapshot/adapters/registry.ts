import { InvalidInputError } from '../errors.ts'
import { erc20BalancesAdapter } from './erc20-balances/adapter.ts'
import { perpReferenceAdapter } from './perp-reference/adapter.ts'
import { perpReferenceAdapterV4 } from './perp-reference/adapter-v4.ts'
import type { Adapter } from './types.ts'

export const adapters: ReadonlyMap<string, Adapter> = new Map<string, Adapter>([
  [perpReferenceAdapter.id, perpReferenceAdapter as unknown as Adapter],
  [perpReferenceAdapterV4.id, perpReferenceAdapterV4 as unknown as Adapter],
  [erc20BalancesAdapter.id, erc20BalancesAdapter as unknown as Adapter],
])

export function adapterById(id: string): Adapter {
  const a = adapters.get(id)
  if (a === undefined) throw new InvalidInputError(`unknown adapter ${JSON.stringify(id)}; available: ${[...adapters.keys()].join(', ')}`)
  return a
}
