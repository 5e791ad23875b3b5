/**
 * The explorer's API and static files without a browser or a cluster: summaries, proofs and diffs
 * over real synthetic snapshots in a real block store, checked against the library (the same code
 * `ark snapshot prove` and `ark diff` run); bounds on parameters; the static allow-list (no path
 * escapes, vendor files only by name); opt-in CORS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { emptyRecoverySummary, recoveryDiff } from '../../snapshot/state/diff-summary.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { createHttpApi, type HttpApi } from '../../node/http/server.ts'
import { parseCorsOrigins } from '../../node/http/api-cors.ts'
import { explorerFile } from '../../node/http/explorer/serve.ts'
import { certifySnapshot, type Certified } from '../support/recovery-server.ts'
import { FakeView, rawRequest } from '../http/support.ts'

const OPTS = { accounts: 300, seed: 'ark-explorer-api' }
let a: Certified
let b: Certified
let api: HttpApi
let url: string
let cors: HttpApi
let corsUrl: string

beforeAll(async () => {
  const store = new MemoryBlockStore()
  const built = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(OPTS), markets: synthMarkets(OPTS), records: synthRecords(OPTS), store })
  a = await certifySnapshot(built.snapshot as Snapshot<unknown, unknown>, store)
  // the next checkpoint: the first 20 accounts got 1000 more of their first collateral asset, one account is gone
  const changed = [...synthRecords(OPTS)].slice(1).map((r, i) => (i < 20 && r.record.collateral.length > 0 ? { key: r.key, record: { ...r.record, collateral: r.record.collateral.map((c, j) => (j === 0 ? { ...c, amount: c.amount + 1000n } : c)) } as AccountRecord } : r))
  const next = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(OPTS, 1), markets: synthMarkets(OPTS, 1), records: changed, store })
  b = await certifySnapshot(next.snapshot as Snapshot<unknown, unknown>, store)
  store.put(a.certificateBlock)
  store.put(b.certificateBlock)
  const view = new FakeView(store, [a.checkpoint, b.checkpoint])
  api = createHttpApi({ view })
  url = (await api.start()).url
  cors = createHttpApi({ view, cors: ['http://localhost:8080'] })
  corsUrl = (await cors.start()).url
})

afterAll(async () => {
  await api?.stop()
  await cors?.stop()
})

const getJSON = async (path: string, base = url): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> => {
  const res = await fetch(`${base}${path}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers }
}

describe('explorer API', () => {
  it('summary: totals and largest holders over every account, the market state', async () => {
    const s = a.snapshot
    const totals = new Map<string, bigint>()
    const byAsset = new Map<string, bigint[]>()
    for await (const { record } of s.entries()) {
      for (const [asset, v] of derivativesSchema.balances!(record as AccountRecord)) {
        totals.set(asset, (totals.get(asset) ?? 0n) + v)
        if (v !== 0n) byAsset.set(asset, [...(byAsset.get(asset) ?? []), v])
      }
    }
    const r = await getJSON(`/v1/checkpoints/${a.checkpoint.block}/summary`)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toContain('immutable')
    expect(r.body.accountCount).toBe(s.root.accountCount)
    expect(r.body.stateRoot).toBe(s.root.stateRoot)
    expect(r.body.totals).toEqual(Object.fromEntries([...totals].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, v.toString()])))
    const largest = r.body.largest as Record<string, { amount: string }[]>
    for (const [asset, list] of Object.entries(largest)) {
      const want = byAsset.get(asset)!.sort((x, y) => (y > x ? 1 : y < x ? -1 : 0)).slice(0, 10).map(String)
      expect(list.map((h) => h.amount)).toEqual(want)
    }
    expect((r.body.markets as { markets: unknown[] }).markets.length).toBeGreaterThan(0)
  })

  it('account: the proof verifies against the certified stateRoot; absent accounts are 404', async () => {
    let key: Uint8Array | undefined
    for await (const e of b.snapshot.rawEntries()) {
      key = e.key
      break
    }
    const r = await getJSON(`/v1/checkpoints/${b.checkpoint.block}/accounts/${bytesToHex(key!)}`)
    expect(r.status).toBe(200)
    const proof = r.body.proof as Parameters<typeof verifyAccountProof>[0]
    expect(() => verifyAccountProof(proof, { schema: derivativesSchema as never, expectedRoot: b.checkpoint.stateRoot })).not.toThrow()
    expect((await getJSON(`/v1/checkpoints/${b.checkpoint.block}/accounts/0x${'00'.repeat(20)}`)).status).toBe(404)
    const bad = await getJSON(`/v1/checkpoints/${b.checkpoint.block}/accounts/0x1234`)
    expect([bad.status, (bad.body.error as { code: string }).code]).toEqual([400, 'INVALID_PARAMETER'])
    expect((await getJSON(`/v1/checkpoints/99/summary`)).status).toBe(404)
  })

  it('diff: the summary is the library recovery diff (what `ark diff` prints), movers bounded by top', async () => {
    const want = emptyRecoverySummary(a.snapshot, b.snapshot)
    for await (const _ of recoveryDiff(a.snapshot, b.snapshot, want));
    const r = await getJSON(`/v1/diff?from=${a.checkpoint.block}&to=${b.checkpoint.block}&top=3`)
    expect(r.status).toBe(200)
    expect(r.body.summary).toEqual(JSON.parse(JSON.stringify(want)))
    expect(want.changed).toBeGreaterThanOrEqual(20)
    expect(want.removed).toBe(1)
    for (const m of Object.values(r.body.movers as Record<string, { gained: unknown[]; lost: unknown[] }>)) {
      expect(m.gained.length).toBeLessThanOrEqual(3)
      expect(m.lost.length).toBeLessThanOrEqual(3)
    }
    for (const q of ['from=1', `from=${a.checkpoint.block}&to=${b.checkpoint.block}&top=51`, `from=${a.checkpoint.block}&to=${b.checkpoint.block}&x=1`, `from=1&from=2&to=3`]) {
      expect((await getJSON(`/v1/diff?${q}`)).status).toBe(400)
    }
  })

  it('totals: one point per held checkpoint, ascending', async () => {
    const r = await getJSON('/v1/totals?limit=5')
    expect((r.body.points as { block: string }[]).map((p) => p.block)).toEqual([a.checkpoint.block, b.checkpoint.block])
    expect(r.body.missing).toEqual([])
    expect((await getJSON('/v1/totals?limit=65')).status).toBe(400)
  })
})

describe('network endpoints', () => {
  it('divergences and the operator set, when the node reports them', async () => {
    expect((await getJSON('/v1/divergences')).body).toEqual({ divergences: [] })
    expect((await getJSON('/v1/operators')).status).toBe(404)
    const view = Object.assign(new FakeView(new MemoryBlockStore(), []), {
      divergences: () => [{ block: '8', ours: 'bafyours', certified: 'bafycert', accounts: ['0x' + '0a'.repeat(20)] }],
      operators: async () => ({ operators: [{ address: '0x' + '0b'.repeat(20), weight: '2' }], threshold: '2', totalWeight: '2' }),
    })
    const one = createHttpApi({ view })
    const base = (await one.start()).url
    try {
      expect((await getJSON('/v1/divergences', base)).body).toEqual({ divergences: [{ block: '8', ours: 'bafyours', certified: 'bafycert', accounts: ['0x' + '0a'.repeat(20)] }] })
      expect((await getJSON('/v1/operators', base)).body).toEqual({ operators: [{ address: '0x' + '0b'.repeat(20), weight: '2' }], threshold: '2', totalWeight: '2' })
      expect((await getJSON('/v1/operators?block=5', base)).status).toBe(400)
    } finally {
      await one.stop()
    }
  })
})

describe('explorer static files', () => {
  it('serves the page with a strict CSP and the vendor files by name only', async () => {
    const page = await fetch(`${url}/explorer/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/)
    expect(await page.text()).toContain('<main id="view"')
    const vendor = await fetch(`${url}/explorer/vendor/noble-curves/secp256k1.js`)
    expect([vendor.status, vendor.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8'])
    for (const p of ['/explorer/../package.json', '/explorer/vendor/noble-curves/../../../package.json', '/explorer/vendor/noble-hashes/argon2.js', '/explorer/serve.ts', '/explorer/%2e%2e/server.ts']) {
      expect((await rawRequest(`${url}${p}`)).status, p).toBe(404)
    }
    expect(explorerFile('/explorer/vendor/noble-hashes/sha3.js')).toMatch(/esm\/sha3\.js$/)
    expect((await rawRequest(`${url}/explorer`)).status).toBe(308)
  })
})

describe('CORS (opt-in)', () => {
  it('no CORS headers unless the origin is listed; preflight answered; admin never', async () => {
    const plain = await rawRequest(`${url}/v1/status`, { headers: { origin: 'http://localhost:8080' } })
    expect(plain.headers['access-control-allow-origin']).toBeUndefined()
    const listed = await rawRequest(`${corsUrl}/v1/status`, { headers: { origin: 'http://localhost:8080' } })
    expect(listed.headers['access-control-allow-origin']).toBe('http://localhost:8080')
    expect(listed.headers.vary).toBe('Origin')
    const other = await rawRequest(`${corsUrl}/v1/status`, { headers: { origin: 'http://evil.example' } })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
    const pre = await rawRequest(`${corsUrl}/v1/checkpoints`, { method: 'OPTIONS', headers: { origin: 'http://localhost:8080', 'access-control-request-method': 'GET' } })
    expect([pre.status, pre.headers['access-control-allow-methods']]).toEqual([204, 'GET, HEAD'])
    const admin = await rawRequest(`${corsUrl}/v1/admin/snapshot`, { method: 'POST', headers: { origin: 'http://localhost:8080' } })
    expect(admin.headers['access-control-allow-origin']).toBeUndefined()
    expect(() => parseCorsOrigins('http://ok:1, https://x.example/path')).toThrow(/not an origin/)
    expect([...parseCorsOrigins(' http://a:1 ,*')]).toEqual(['http://a:1', '*'])
  })
})
