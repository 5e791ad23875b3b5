import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { deployReferenceProtocol, type ReferenceDeployment } from '../../node/devnet/deploy.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { perpReferenceAdapter, type PerpReferenceConfig } from '../../snapshot/adapters/perp-reference/adapter.ts'

/** A real anvil with the reference protocol deployed. */
export interface ChainFixture {
  anvil: AnvilInstance
  deployment: ReferenceDeployment
  config: PerpReferenceConfig
  rpc: <T>(method: string, params?: unknown[]) => Promise<T>
  source: (urls?: string[]) => ChainSource
  stop: () => Promise<void>
}

export async function startChain(): Promise<ChainFixture> {
  const anvil = await startAnvil({})
  try {
    const deployment = await deployReferenceProtocol({ rpcUrl: anvil.rpcUrl })
    const config = perpReferenceAdapter.parseConfig({ exchange: deployment.exchange, options: deployment.options, startBlock: Number(deployment.deployBlock) })
    const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
      // anvil may close an idle keep-alive socket just as it is reused ("other side closed"): retry that
      let res: Response | undefined
      for (let attempt = 0; res === undefined; attempt++) {
        try {
          res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
        } catch (err) {
          if (attempt >= 3) throw err
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      const j = (await res.json()) as { result?: T; error?: { message: string } }
      if (j.error !== undefined) throw new Error(`${method}: ${j.error.message}`)
      return j.result as T
    }
    // anvil's "finalized" lags 64 blocks; tests that are not about finality use confirmations 0.
    const source = (urls: string[] = [anvil.rpcUrl]): ChainSource => new ChainSource({ rpcUrls: urls, chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 }, rpc: { retries: 3, backoffMs: 20, timeoutMs: 2_000 } })
    return { anvil, deployment, config, rpc, source, stop: () => anvil.stop() }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}

export async function blockNumber(f: ChainFixture): Promise<bigint> {
  return BigInt(await f.rpc<string>('eth_blockNumber'))
}
