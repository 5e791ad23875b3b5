import { decodeAbiParameters, encodeFunctionData, hexToString, parseAbi } from 'viem'
import { SYMBOL_PATTERN } from '../schema/derivatives-v2.ts'
import { RpcError } from './errors.ts'
import type { ChainSource, Hex } from './source.ts'

/**
 * An ERC-20's `symbol()` and `decimals()` at a pinned block, for the market
 * state of derivatives schema v3 (consensus data, SPEC §1.4) and for labelling
 * amounts of older snapshots (`--rpc`). A token is hostile input: whatever it
 * returns, every node must reach the same value, and a person's terminal must
 * never receive control characters. So a symbol is kept only when it is 1 to
 * 32 printable ASCII characters (ABI `string`, or a zero-padded `bytes32` as
 * old tokens return); a revert, an empty or undecodable answer, or anything
 * else gives "" (unknown). A failing RPC is not an answer: it is thrown.
 */

const erc20Abi = parseAbi(['function symbol() view returns (string)', 'function decimals() view returns (uint8)'])

/** The symbol rule on a call's return data (pure: the same bytes give the same symbol everywhere). */
export function symbolFromReturnData(raw: Hex): string {
  if (raw === '0x') return ''
  let s: string
  try {
    if (raw.length === 66) s = hexToString(raw).replace(/\0+$/, '')
    else if (raw.length > 2 + 64 * 3) return '' // more than offset, length and one word: over 32 bytes
    else [s] = decodeAbiParameters([{ type: 'string' }], raw) as [string]
  } catch {
    return ''
  }
  return s.length >= 1 && SYMBOL_PATTERN.test(s) ? s : ''
}

/** Only a revert is the token's answer; any other RPC failure is ours and propagates (retry later). */
function isRevert(err: unknown): boolean {
  return err instanceof RpcError && err.chainCode === 'RPC_ERROR' && (err.rpcCode === 3 || /revert/i.test(err.message))
}

async function callOrRevert(source: ChainSource, token: Hex, functionName: 'symbol' | 'decimals', blockHash: Hex, signal?: AbortSignal): Promise<Hex> {
  try {
    return await source.call(token, encodeFunctionData({ abi: erc20Abi, functionName }), blockHash, signal)
  } catch (err) {
    if (isRevert(err)) return '0x'
    throw err
  }
}

export async function tokenSymbol(source: ChainSource, token: Hex, blockHash: Hex, signal?: AbortSignal): Promise<string> {
  return symbolFromReturnData(await callOrRevert(source, token, 'symbol', blockHash, signal))
}

/** `decimals()` as uint8; undefined when the token does not answer with one. */
export async function tokenDecimals(source: ChainSource, token: Hex, blockHash: Hex, signal?: AbortSignal): Promise<bigint | undefined> {
  const raw = await callOrRevert(source, token, 'decimals', blockHash, signal)
  if (raw.length !== 66) return undefined
  const v = BigInt(raw)
  return v <= 255n ? v : undefined
}
