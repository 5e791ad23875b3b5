import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A JSON-RPC endpoint in front of the real anvil whose head lags `lag()` blocks behind it, the way a
 * provider's node that fell behind answers: `latest`/`finalized` are an older block, and a block past
 * its head does not exist yet (null). Everything else passes through unchanged. `answered` counts the
 * lagged answers (faults injected).
 */
export interface LaggingRpc {
  url: string
  answered: number
  close(): Promise<void>
}

export async function startLaggingRpc(upstream: string, lag: () => number): Promise<LaggingRpc> {
  const up = async (method: string, params: unknown[]): Promise<unknown> => {
    const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    return ((await r.json()) as { result?: unknown }).result
  }
  const out = { url: '', answered: 0, close: async () => {} }
  const handle = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const call = JSON.parse(text) as { id: unknown; method: string; params: unknown[] }
    const k = lag()
    if (k > 0 && (call.method === 'eth_blockNumber' || call.method === 'eth_getBlockByNumber')) {
      const head = BigInt((await up('eth_blockNumber', [])) as string) - BigInt(k)
      const tag = call.params[0]
      let result: unknown
      if (call.method === 'eth_blockNumber') result = `0x${head.toString(16)}`
      else if (tag === 'latest' || tag === 'finalized' || tag === 'safe') result = await up('eth_getBlockByNumber', [`0x${head.toString(16)}`, call.params[1]])
      else if (typeof tag === 'string' && tag.startsWith('0x') && BigInt(tag) > head) result = null
      if (result !== undefined) {
        out.answered++
        return JSON.stringify({ jsonrpc: '2.0', id: call.id, result })
      }
    }
    const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })
    return r.text()
  }
  const server: Server = createServer((req, res) => {
    handle(req).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
      (err: unknown) => res.destroy(err as Error),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  out.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  out.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return out
}
