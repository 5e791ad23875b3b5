import { ChainSource, type Hex } from '../../../snapshot/chain/source.ts'
import { tokenDecimals, tokenSymbol } from '../../../snapshot/chain/token-info.ts'
import { isAddress } from '../../../snapshot/codec/address.ts'
import type { SnapshotRoot } from '../../../snapshot/state/root.ts'
import type { Options } from '../command.ts'
import type { AssetInfo } from './tables.ts'

export const LABEL_RPC_OPTION: Options = {
  rpc: { type: 'string', multiple: true, description: 'on a terminal: JSON-RPC URL of the snapshot\'s chain, to read decimals() and symbol() of tokens the snapshot does not label (schema v1/v2), pinned to the snapshot\'s block' },
}

/** A snapshot may list many assets; labels for more than this many are not worth as many RPC calls. */
const MAX_TOKENS = 64

/**
 * Fills in decimals and symbols the market state lacks (snapshots before
 * schema v3) from the tokens themselves, read at the snapshot's block hash
 * under the same rule as v3 (snapshot/chain/token-info.ts). Labels only: the
 * machine formats never use them. A failing RPC leaves the amounts raw, with
 * the reason in `warning`.
 */
export async function labelsFromChain(info: Map<string, AssetInfo>, keys: readonly string[], root: SnapshotRoot, values: Record<string, unknown>, signal: AbortSignal): Promise<string | undefined> {
  const rpc = (values.rpc as string[] | undefined) ?? []
  if (rpc.length === 0) return undefined
  const todo = [...new Set(keys.map((k) => k.toLowerCase()))]
    .map((k) => [k, info.get(k)?.address ?? k] as const)
    .filter(([k, addr]) => isAddress(addr) && (info.get(k)?.symbol === undefined || info.get(k)?.decimals === undefined))
    .slice(0, MAX_TOKENS)
  if (todo.length === 0) return undefined
  const source = new ChainSource({ rpcUrls: rpc, chainId: root.block.chainId, finality: { kind: 'confirmations', confirmations: 0 } })
  try {
    await source.checkChainId(signal)
    const block = root.block.hash as Hex
    for (const [k, addr] of todo) {
      const i: AssetInfo = { ...info.get(k), address: addr }
      i.symbol ??= (await tokenSymbol(source, addr as Hex, block, signal)) || undefined
      i.decimals ??= await tokenDecimals(source, addr as Hex, block, signal)
      if (i.symbol === undefined) delete i.symbol
      if (i.decimals === undefined) delete i.decimals
      info.set(k, i)
    }
    return undefined
  } catch (err) {
    return `note: --rpc: token labels not read (${(err as Error).message}); amounts without decimals stay raw\n`
  }
}
