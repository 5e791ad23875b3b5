import { decodeFunctionResult, encodeFunctionData, type Abi } from 'viem'
import { ChainError } from './errors.ts'
import type { ChainSource, Hex } from './source.ts'

/**
 * The one pinned view call: `functionName(args)` on `to` as of `blockHash` (EIP-1898, every RPC
 * cross-checked by ChainSource), decoded with viem. Empty return data means there is no contract
 * at that address at that block (or the config names the wrong one): a clear error, not a decode
 * failure deep inside viem.
 */
export async function pinnedCall<T>(source: ChainSource, to: Hex, abi: Abi, functionName: string, args: readonly unknown[], blockHash: Hex, signal?: AbortSignal, where?: string): Promise<T> {
  const raw = await source.call(to, encodeFunctionData({ abi, functionName, args } as never), blockHash, signal)
  if (raw === '0x') throw new ChainError('CONTRACT_MISSING', `${functionName}() on ${to} returned no data at block ${where ?? blockHash}; is the contract deployed there (by that block), and does the config name the right address?`)
  return decodeFunctionResult({ abi, functionName, data: raw } as never) as T
}
