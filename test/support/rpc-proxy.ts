import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A JSON-RPC proxy in front of a real node (anvil) that injects faults:
 * the real chain stays the source of truth; only the transport misbehaves.
 */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'http'; status: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'truncate' }
  | { kind: 'garbage' }
  | { kind: 'rpc-error'; code: number; message: string }
  | { kind: 'rewrite'; fn: (result: unknown) => unknown }

export interface ProxyRequest {
  method: string
  params: unknown[]
  /** 0-based count of requests seen by the proxy */
  n: number
}

export interface RpcProxy {
  url: string
  /** methods seen, in order */
  seen: string[]
  setFault(fn: (req: ProxyRequest) => Fault): void
  close(): Promise<void>
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startRpcProxy(upstream: string): Promise<RpcProxy> {
  let faultFn: (req: ProxyRequest) => Fault = () => ({ kind: 'pass' })
  const seen: string[] = []
  let n = 0
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await body(req)
    const call = JSON.parse(text) as { id: unknown; method: string; params: unknown[] }
    const fault = faultFn({ method: call.method, params: call.params, n: n++ })
    seen.push(call.method)
    if (fault.kind === 'http') {
      res.writeHead(fault.status).end('unavailable')
      return
    }
    if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms))
    if (fault.kind === 'rpc-error') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: call.id, error: { code: fault.code, message: fault.message } }))
      return
    }
    const up = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })
    let out = await up.text()
    if (fault.kind === 'truncate') out = out.slice(0, Math.max(1, Math.floor(out.length / 2)))
    if (fault.kind === 'garbage') out = '<html>502 Bad Gateway</html>'
    if (fault.kind === 'rewrite') {
      const j = JSON.parse(out) as { result?: unknown }
      j.result = fault.fn(j.result)
      out = JSON.stringify(j)
    }
    if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(out)
  }
  // a malformed request or an upstream failure ends that one exchange, never the test process
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.destroy(err as Error))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    setFault(fn) {
      faultFn = fn
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
