/**
 * A node reading through several RPC endpoints, one of whose heads lags behind (found by the chaos
 * rpc-faults scenario): the finalized head must be one every endpoint has. Before the fix it was the
 * first endpoint's head, so the header read that needs every endpoint failed "does not exist yet" for
 * as long as the other one lagged, and the node certified nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { startLaggingRpc, type LaggingRpc } from '../chaos/chain/lagging-rpc.ts'

let anvil: AnvilInstance
let lagging: LaggingRpc

const rpc = async (method: string, params: unknown[] = []): Promise<unknown> => {
  const r = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return ((await r.json()) as { result: unknown }).result
}

beforeAll(async () => {
  anvil = await startAnvil()
  await rpc('anvil_mine', ['0x14'])
  lagging = await startLaggingRpc(anvil.rpcUrl, () => 3)
}, 60_000)

afterAll(async () => {
  await lagging?.close()
  await anvil?.stop()
})

describe('chain source with a lagging endpoint among several', () => {
  it('takes the lowest head, whichever endpoint is first, and agrees on its header', async () => {
    const head = BigInt((await rpc('eth_blockNumber')) as string)
    for (const urls of [
      [anvil.rpcUrl, lagging.url],
      [lagging.url, anvil.rpcUrl],
    ]) {
      const src = new ChainSource({ rpcUrls: urls, chainId: 31337n, finality: { kind: 'confirmations', confirmations: 1 }, rpc: { retries: 0, timeoutMs: 2_000 } })
      const h = await src.finalizedHead()
      expect(h.number).toBe(head - 3n - 1n)
      expect((await src.checkpointHeader(h.number)).hash).toBe(h.hash)
    }
    expect(lagging.answered).toBeGreaterThan(0)
  })
})
