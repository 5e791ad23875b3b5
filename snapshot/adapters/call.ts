import type { Abi } from 'viem'
import { pinnedCall as pinnedSourceCall } from '../chain/pinned-call.ts'
import type { Hex } from '../chain/source.ts'
import type { DeriveContext } from './types.ts'

/** A view call pinned to the derivation's block hash, decoded with viem. */
export function pinnedCall<T>(ctx: DeriveContext, address: Hex, abi: Abi, functionName: string, args: readonly unknown[] = []): Promise<T> {
  return pinnedSourceCall<T>(ctx.source, address, abi, functionName, args, ctx.block.hash, ctx.signal, ctx.block.number.toString())
}

/** Decode the i-th 32-byte word of log data as unsigned / signed. */
export function word(data: Hex, i: number): bigint {
  return BigInt(`0x${data.slice(2 + 64 * i, 2 + 64 * (i + 1)) || '0'}`)
}

export function signedWord(data: Hex, i: number): bigint {
  const v = word(data, i)
  return v >= 1n << 255n ? v - (1n << 256n) : v
}

export function topicAddress(topic: Hex): Hex {
  return `0x${topic.slice(26)}` as Hex
}
