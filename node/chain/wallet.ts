import { createPublicClient, createWalletClient, defineChain, http, type PublicClient, type WalletClient, type Account, type Chain, type Transport } from 'viem'
import { httpTarget } from '../../snapshot/chain/errors.ts'

/** user:pass in the RPC URL travels as an Authorization header (fetch refuses URLs with credentials). */
export function rpcTransport(rpcUrl: string, timeoutMs = 30_000): ReturnType<typeof http> {
  const t = httpTarget(rpcUrl)
  return http(t.url, { retryCount: 0, timeout: timeoutMs, fetchOptions: { headers: t.headers } })
}

export interface WalletClients {
  wallet: WalletClient<Transport, Chain, Account>
  reader: PublicClient<Transport, Chain>
}

/**
 * A viem wallet and reader for one key on one endpoint, for the node's own transactions (the
 * watchdog's breaker, the anchoring relayer). viem puts the URL in its errors: callers report
 * failures through scrubUrls (node/watchdog/errors.ts), never viem's message as is.
 */
export function walletClients(account: Account, chainId: bigint, rpcUrl: string): WalletClients {
  const chain = defineChain({ id: Number(chainId), name: `chain-${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } })
  const transport = rpcTransport(rpcUrl)
  return { wallet: createWalletClient({ account, chain, transport }), reader: createPublicClient({ chain, transport }) }
}
