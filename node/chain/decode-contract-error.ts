import { decodeErrorResult, type Abi, type Hex } from 'viem'

/** Name and arguments of a custom error of `abi` from revert data, or undefined if the data is not one of its errors. */
export function decodeContractError(abi: Abi, data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  try {
    const d = decodeErrorResult({ abi, data })
    return { errorName: d.errorName, args: d.args ?? [] }
  } catch {
    return undefined
  }
}
