import { request, Agent } from 'node:http'
import fc from 'fast-check'
import { createHttpApi } from '../../../node/http/server.ts'
import { buildFixture, FakeView, type Fixture } from '../../http/support.ts'
import type { TargetFigures } from './fuzz-bytes.ts'

const segment = fc.oneof(
  fc.constantFrom('v1', 'status', 'checkpoints', 'latest', 'evidence', 'alerts', 'metrics', 'healthz', 'ipfs', 'admin', 'snapshot', '..', '.', '', '%00', '%ff', '%2F', '0', '-1', '18446744073709551616', '1e9', '0x10'),
  fc.string({ maxLength: 24 }).map(encodeURIComponent),
  fc.stringMatching(/^[0-9]{1,40}$/),
)
const query = fc.array(fc.tuple(fc.constantFrom('from', 'to', 'limit', 'format', 'dag-scope', 'entity-bytes', 'x'), fc.oneof(fc.stringMatching(/^-?[0-9]{0,30}$/), fc.string({ maxLength: 12 }).map(encodeURIComponent), fc.constantFrom('car', 'raw', 'all', 'entity', 'block', '0:*'))), { maxLength: 4 })
const accept = fc.constantFrom(undefined, 'application/json', 'application/vnd.ipld.car', 'application/vnd.ipld.raw', 'application/vnd.ipld.car; version=2', '*/*', 'text/html', 'application/vnd.ipld.car;dups=y;order=dfs')

/**
 * Every HTTP route with hostile paths, queries, methods and Accept headers against a real server over
 * a synthetic certified snapshot. A 5xx is a crash (the route threw on input it should have refused
 * with a 4xx); the server must still answer /healthz at the end.
 */
export function httpFixture(): Promise<Fixture> {
  return buildFixture(200)
}

export async function fuzzHttp(fx: Fixture, cases: number, seed: number): Promise<TargetFigures> {
  const api = createHttpApi({ view: new FakeView(fx.store, [fx.checkpoint]), port: 0 })
  const { url } = await api.start()
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const f: TargetFigures = { target: 'http-routes', cases: 0, refused: 0, crashes: 0, untyped: 0, maxCaseMs: 0 }
  const cids = [fx.certificateCid, fx.checkpoint.snapshotCid]
  const send = (method: string, path: string, headers: Record<string, string>): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(`${url}${path}`, { method, headers, agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
      req.end()
    })
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'), fc.array(segment, { maxLength: 5 }), fc.option(fc.constantFrom(...cids)), query, accept, async (method, segs, cid, q, acc) => {
        const parts = cid === null ? segs : ['ipfs', cid, ...segs]
        const path = `/${parts.join('/')}${q.length === 0 ? '' : `?${q.map(([k, v]) => `${k}=${v}`).join('&')}`}`
        const start = performance.now()
        try {
          const status = await send(method, path, acc === undefined ? {} : { accept: acc })
          // 501 (a DAG path or format not served) and 503 (busy) are deliberate refusals; 500 is a route that threw
          if (status === 500 || status > 503) {
            f.crashes++
            f.firstCrash ??= { input: `${method} ${path} accept=${acc}`, error: `HTTP ${status}` }
          } else if (status >= 400) f.refused++
        } catch (err) {
          f.crashes++
          f.firstCrash ??= { input: `${method} ${path}`, error: (err as Error).message }
        }
        f.maxCaseMs = Math.max(f.maxCaseMs, performance.now() - start)
        f.cases++
      }),
      { numRuns: cases, seed },
    )
    if ((await send('GET', '/healthz', {})) !== 200) f.crashes++
  } finally {
    agent.destroy()
    await api.stop()
  }
  f.maxCaseMs = Math.round(f.maxCaseMs * 10) / 10
  return f
}
