import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A JSON-RPC proxy in front of a real anvil that demands HTTP Basic auth, as
 * paid RPC providers do. Its URL carries every kind of secret a provider URL
 * can hold: user:pass, an API key in the path and one in the query.
 */
export interface AuthRpcProxy {
  /** http://USER:PASS@127.0.0.1:port/v2/PATH_KEY?apikey=QUERY_KEY */
  url: string
  /** http://USER:PASS@127.0.0.1:port/v2/PATH_KEY: a gateway base URL (paths are appended to it) */
  base: string
  secrets: string[]
  /** requests refused for missing or wrong credentials */
  refused: number
  close(): Promise<void>
}

/** `upstream`: anvil's RPC URL (POSTs go there), or a gateway's base URL (GETs get the path after /v2/PATH_KEY). */
export async function startAuthRpcProxy(upstream: string): Promise<AuthRpcProxy> {
  const user = 'desk'
  const pass = 'pw-8f3a91c2e7'
  const pathKey = 'pathkey-5d7e0b14'
  const queryKey = 'querykey-a9c4f062'
  const expected = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
  const p: AuthRpcProxy = { url: '', base: '', secrets: [pass, pathKey, queryKey], refused: 0, close: async () => {} }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = String(req.url)
      if (req.headers.authorization !== expected || !path.startsWith(`/v2/${pathKey}`)) {
        p.refused++
        res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized')
        return
      }
      const rest = path.slice(`/v2/${pathKey}`.length)
      const post = req.method === 'POST'
      const target = post ? upstream : `${upstream}${rest}`
      fetch(target, { method: req.method ?? 'GET', headers: { 'content-type': 'application/json', accept: String(req.headers.accept ?? '*/*') }, ...(post ? { body: Buffer.concat(chunks) } : {}) })
        .then(async (up) => res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' }).end(Buffer.from(await up.arrayBuffer())))
        .catch(() => res.destroy())
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  p.base = `http://${user}:${pass}@127.0.0.1:${port}/v2/${pathKey}`
  p.url = `${p.base}?apikey=${queryKey}`
  p.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    })
  return p
}
