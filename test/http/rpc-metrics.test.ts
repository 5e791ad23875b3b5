import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeMetrics } from '../../node/archive/node-metrics.ts'
import { RpcEndpoint, type RpcRequestEvent } from '../../snapshot/chain/rpc.ts'

let server: Server
let port: number
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-rpc-metrics-'))
  // answers eth_chainId; anything else is a 500
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string }
      if (method !== 'eth_chainId') return res.writeHead(500).end()
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x7a69' }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
  await rm(dir, { recursive: true, force: true })
})

describe('RPC metrics', () => {
  it('per endpoint (scheme://host only: no credentials, no path with an API key) and outcome', async () => {
    const events: RpcRequestEvent[] = []
    const metrics = createNodeMetrics({ dataDir: dir, interval: 10n, bootstrapPeers: 0, log: pino({ level: 'silent' }) })
    const e = new RpcEndpoint(`http://operator:s3cret-pass@127.0.0.1:${port}/v3/APIKEY123`, {
      retries: 0,
      onRequest: (ev) => {
        events.push(ev)
        metrics.onRpcRequest(ev)
      },
    })
    expect(await e.request('eth_chainId', [])).toBe('0x7a69')
    await expect(e.request('eth_blockNumber', [])).rejects.toThrow(/HTTP 500/)
    const endpoint = `http://127.0.0.1:${port}`
    expect(events.map(({ endpoint: ep, method, outcome }) => ({ ep, method, outcome }))).toEqual([
      { ep: endpoint, method: 'eth_chainId', outcome: 'ok' },
      { ep: endpoint, method: 'eth_blockNumber', outcome: 'RPC_UNAVAILABLE' },
    ])
    const text = await metrics.registry.text()
    expect(text).toContain(`ark_rpc_requests_total{endpoint="${endpoint}",method="eth_chainId",outcome="ok"} 1\n`)
    expect(text).toContain(`ark_rpc_requests_total{endpoint="${endpoint}",method="eth_blockNumber",outcome="RPC_UNAVAILABLE"} 1\n`)
    expect(text).toMatch(new RegExp(`^ark_rpc_request_duration_seconds_count\\{endpoint="${endpoint}",method="eth_chainId"\\} 1$`, 'm'))
    for (const secret of ['operator', 's3cret', 'APIKEY', '/v3']) expect(text).not.toContain(secret)
  })
})
