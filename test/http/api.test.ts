import { createHash } from 'node:crypto'
import { mkdtemp, rm, stat, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CarBlockIterator, CarReader } from '@ipld/car'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { loadOrCreateAdminToken } from '../../node/http/admin-token.ts'
import { PromRegistry } from '../../node/http/metrics.ts'
import { createHttpApi, HTTP_DEFAULTS, httpService, type HttpApi } from '../../node/http/server.ts'
import { startAll, stopAll } from '../../node/p2p/service.ts'
import { buildFixture, FakeView, hiding, rawRequest, type Fixture } from './support.ts'

const RAW = 'application/vnd.ipld.raw'
const CAR = 'application/vnd.ipld.car'

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

/** Every response any test saw, to check that none carries CORS headers. */
const seenHeaders: Headers[] = []

async function get(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init)
  seenHeaders.push(res.headers)
  return res
}

async function readCar(bytes: Uint8Array): Promise<{ roots: CID[]; blocks: { cid: CID; bytes: Uint8Array }[] }> {
  const reader = await CarReader.fromBytes(bytes)
  const blocks: { cid: CID; bytes: Uint8Array }[] = []
  for await (const b of reader.blocks()) {
    // independent hash check of every block
    expect(b.cid.multihash.code).toBe(0x12)
    expect(Buffer.compare(sha256(b.bytes), b.cid.multihash.digest)).toBe(0)
    blocks.push({ cid: b.cid as unknown as CID, bytes: b.bytes })
  }
  return { roots: (await reader.getRoots()) as unknown as CID[], blocks }
}

let fx: Fixture
let view: FakeView
let api: HttpApi
let base: string
let snapshotCids: string[]
let registry: PromRegistry
let tmp: string
let token: string

beforeAll(async () => {
  fx = await buildFixture()
  snapshotCids = []
  for await (const c of fx.snapshot.blockCids()) snapshotCids.push(c.toString())
  view = new FakeView(fx.store, [fx.checkpoint])
  registry = new PromRegistry()
  view.metricsText = ''
  tmp = await mkdtemp(join(tmpdir(), 'ark-http-'))
  token = await loadOrCreateAdminToken(join(tmp, 'secrets', 'admin.token'))
  api = createHttpApi({ view, metrics: registry, adminToken: token })
  base = (await api.start()).url
})

afterAll(async () => {
  await api?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('http api: JSON routes', () => {
  it('binds 127.0.0.1 on an ephemeral port by default', () => {
    expect(HTTP_DEFAULTS.host).toBe('127.0.0.1')
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(api.url).toBe(base)
  })

  it('GET /v1/status: JSON, bigints as strings', async () => {
    const res = await get(`${base}/v1/status`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await res.json()).toEqual({ version: '0.1.0', head: '12345', peers: 3 })
  })

  it('GET /v1/checkpoints passes a validated range, default limit 100', async () => {
    view.ranges = []
    let res = await get(`${base}/v1/checkpoints`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ checkpoints: [fx.checkpoint] })
    res = await get(`${base}/v1/checkpoints?from=0&to=18446744073709551615&limit=1000`)
    expect(res.status).toBe(200)
    res = await get(`${base}/v1/checkpoints?from=${BigInt(fx.checkpoint.block) + 1n}`)
    expect(await res.json()).toEqual({ checkpoints: [] })
    expect(view.ranges).toEqual([{ limit: 100 }, { from: 0n, to: (1n << 64n) - 1n, limit: 1000 }, { from: BigInt(fx.checkpoint.block) + 1n, limit: 100 }])
  })

  it.each([
    ['from=-1', 'from'],
    ['from=abc', 'from'],
    ['from=1.5', 'from'],
    ['to=0x10', 'to'],
    ['to=18446744073709551616', 'to'],
    ['from=10&to=9', 'to'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=', 'limit'],
    ['limit=10&limit=20', 'limit'],
    ['form=1', 'form'],
  ])('GET /v1/checkpoints?%s → 400 naming %s', async (q, param) => {
    const res = await get(`${base}/v1/checkpoints?${q}`)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const body = (await res.json()) as { error: { code: string; message: string; parameter: string } }
    expect(body.error.code).toBe('INVALID_PARAMETER')
    expect(body.error.parameter).toBe(param)
    expect(body.error.message).toContain(param)
  })

  it('GET /v1/checkpoints/{block} and /latest; 404 and 400 as JSON', async () => {
    let res = await get(`${base}/v1/checkpoints/${fx.checkpoint.block}`)
    expect(res.status).toBe(200)
    const cp = (await res.json()) as typeof fx.checkpoint
    expect(cp).toEqual(fx.checkpoint)
    expect(Object.keys(cp.certificate)).toEqual(expect.arrayContaining(['domain', 'types', 'primaryType', 'message', 'signatures']))
    res = await get(`${base}/v1/checkpoints/latest`)
    expect(await res.json()).toEqual(fx.checkpoint)
    res = await get(`${base}/v1/checkpoints/999999`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    res = await get(`${base}/v1/checkpoints/-5`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { parameter: string } }).error.parameter).toBe('block')
    const empty = createHttpApi({ view: new FakeView(fx.store, []) })
    const url = (await empty.start()).url
    try {
      res = await get(`${url}/v1/checkpoints/latest`)
      expect(res.status).toBe(404)
    } finally {
      await empty.stop()
    }
  })

  it('GET /v1/evidence', async () => {
    const res = await get(`${base}/v1/evidence`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ evidence: [{ signer: '0x' + '01'.repeat(20), block: '7' }], next: null })
  })

  it('GET /healthz: 200 ok, or 503 with the reasons', async () => {
    let res = await get(`${base}/healthz`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe('ok\n')
    view.healthy = { ok: false, reasons: ['rpc unreachable', 'no peers\nat all'] }
    try {
      res = await get(`${base}/healthz`)
      expect(res.status).toBe(503)
      expect(await res.text()).toBe('unhealthy\n- rpc unreachable\n- no peers at all\n')
    } finally {
      view.healthy = { ok: true, reasons: [] }
    }
  })

  it('GET /readyz: the view\'s readiness, apart from health', async () => {
    view.readiness = { ok: false, reasons: ['catching up'] }
    try {
      expect((await get(`${base}/healthz`)).status).toBe(200)
      const res = await get(`${base}/readyz`)
      expect(res.status).toBe(503)
      expect(await res.text()).toBe('not ready\n- catching up\n')
    } finally {
      view.readiness = { ok: true, reasons: [] }
    }
    const res = await get(`${base}/readyz`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok\n')
  })

  it('GET /metrics: the view text as Prometheus 0.0.4, plus HTTP metrics in the shared registry', async () => {
    view.metricsText = '# HELP ark_up Up.\n# TYPE ark_up gauge\nark_up 1\n'
    await get(`${base}/v1/status`)
    const res = await get(`${base}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await res.text()).toBe(view.metricsText)
    const text = await registry.text()
    expect(text).toMatch(/^ark_http_requests_total\{route="status",method="GET",code="200"\} [1-9]\d*$/m)
    expect(text).toContain('# TYPE ark_http_request_duration_seconds histogram')
  })

  it('unknown route → 404 JSON; wrong method → 405 with Allow; OPTIONS gets no CORS', async () => {
    let res = await get(`${base}/nope`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    res = await get(`${base}/v1/status`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    await res.body?.cancel()
    res = await get(`${base}/v1/status`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' } })
    expect(res.status).toBe(405)
    await res.body?.cancel()
  })

  it('a view that throws gives 500 without details or stack traces', async () => {
    view.throwOnStatus = true
    try {
      const res = await get(`${base}/v1/status`)
      expect(res.status).toBe(500)
      const text = await res.text()
      expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: "internal error; see the node's log" } })
      expect(text).not.toMatch(/secret|boom|\bat\b.*\.ts/)
    } finally {
      view.throwOnStatus = false
    }
  })

  it('HEAD answers like GET without a body', async () => {
    const res = await rawRequest(`${base}/v1/status`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(0)
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0)
  })
})

describe('http api: trustless gateway', () => {
  it('raw block by Accept and by ?format=raw: the exact bytes, hash-checked, with spec headers', async () => {
    const cid = fx.snapshot.cid
    const want = fx.store.get(cid)
    for (const [path, headers] of [
      [`/ipfs/${cid}`, { Accept: RAW }],
      [`/ipfs/${cid}?format=raw`, {}],
    ] as const) {
      const res = await get(`${base}${path}`, { headers })
      expect(res.status).toBe(200)
      const bytes = new Uint8Array(await res.arrayBuffer())
      expect(Buffer.compare(bytes, want)).toBe(0)
      expect(Buffer.compare(sha256(bytes), cid.multihash.digest)).toBe(0)
      expect(res.headers.get('content-type')).toBe(RAW)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toBe('public, max-age=29030400, immutable')
      expect(res.headers.get('etag')).toBe(`"${cid}.raw"`)
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${cid}.bin"`)
      expect(res.headers.get('content-length')).toBe(String(want.length))
    }
  })

  it('raw: HEAD, If-None-Match → 304, other multibase spellings of the CID', async () => {
    const cid = fx.snapshot.cid
    let res = await rawRequest(`${base}/ipfs/${cid}`, { method: 'HEAD', headers: { Accept: RAW } })
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(0)
    expect(res.headers['content-length']).toBe(String(fx.store.get(cid).length))
    res = await rawRequest(`${base}/ipfs/${cid}?format=raw`, { headers: { 'If-None-Match': `"${cid}.raw"` } })
    expect(res.status).toBe(304)
    expect(res.body.length).toBe(0)
    const z = await get(`${base}/ipfs/${cid.toString(base58btc)}?format=raw`)
    expect(z.status).toBe(200)
    expect(Buffer.compare(new Uint8Array(await z.arrayBuffer()), fx.store.get(cid))).toBe(0)
  })

  it('CAR of the snapshot root: independent reader, every block hash-checked, exactly Snapshot.blockCids(), verify() passes', async () => {
    const root = fx.snapshot.cid
    const res = await get(`${base}/ipfs/${root}`, { headers: { Accept: CAR } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('cache-control')).toBe('public, max-age=29030400, immutable')
    expect(res.headers.get('etag')).toMatch(new RegExp(`^"${root}\\.car\\.[0-9a-f]+"$`))
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${root}.car"`)
    expect(res.headers.get('content-location')).toBe(`/ipfs/${root}?format=car`)
    const { roots, blocks } = await readCar(new Uint8Array(await res.arrayBuffer()))
    expect(roots.map(String)).toEqual([root.toString()])
    const got = blocks.map((b) => b.cid.toString())
    expect(new Set(got).size).toBe(got.length) // dups=n
    expect([...got].sort()).toEqual([...snapshotCids].sort())
    expect(got[0]).toBe(root.toString())
    // depth-first in link order matches the snapshot's own block order
    expect(got).toEqual(snapshotCids)
    const received = new MemoryBlockStore({ verifyOnPut: true })
    for (const b of blocks) received.put(b)
    const snap = await Snapshot.open(received, root, derivativesSchema)
    await snap.verify()
    expect(snap.root.stateRoot).toBe(fx.snapshot.root.stateRoot)
  })

  it('CAR of the certificate: the certificate block first, then the whole snapshot DAG (streamed read)', async () => {
    const res = await get(`${base}/ipfs/${fx.certificateCid}?format=car`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-location')).toBeNull()
    const it = await CarBlockIterator.fromIterable((async function* () {
      for await (const chunk of res.body!) yield chunk as Uint8Array
    })())
    expect((await it.getRoots()).map(String)).toEqual([fx.certificateCid])
    const got: string[] = []
    for await (const b of it) {
      expect(Buffer.compare(sha256(b.bytes), b.cid.multihash.digest)).toBe(0)
      got.push(b.cid.toString())
    }
    expect(got).toEqual([fx.certificateCid, ...snapshotCids])
  })

  it('dag-scope=block (and entity / entity-bytes on dag-cbor) returns only the root block', async () => {
    const etags = new Set<string>()
    for (const q of ['dag-scope=block', 'dag-scope=entity', 'entity-bytes=0:*']) {
      const res = await get(`${base}/ipfs/${fx.snapshot.cid}?format=car&${q}`)
      expect(res.status).toBe(200)
      etags.add(res.headers.get('etag')!)
      const { blocks } = await readCar(new Uint8Array(await res.arrayBuffer()))
      expect(blocks.map((b) => b.cid.toString())).toEqual([fx.snapshot.cid.toString()])
    }
    expect(etags.size).toBe(3) // the Etag varies with the scope parameters
  })

  it('HEAD CAR: headers only; If-None-Match → 304', async () => {
    let res = await rawRequest(`${base}/ipfs/${fx.snapshot.cid}?format=car`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.body.length).toBe(0)
    expect(res.headers['content-type']).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n')
    const etag = res.headers.etag!
    res = await rawRequest(`${base}/ipfs/${fx.snapshot.cid}?format=car`, { headers: { 'If-None-Match': `W/${etag}` } })
    expect(res.status).toBe(304)
  })

  it('CAR Accept variants: version=1/order=dfs/dups=n accepted, dups=y or version=2 → 406; q-values respected', async () => {
    let res = await get(`${base}/ipfs/${fx.snapshot.cid}`, { headers: { Accept: `${CAR}; version=1; order=dfs; dups=n` } })
    expect(res.status).toBe(200)
    await res.body?.cancel()
    for (const accept of [`${CAR}; dups=y`, `${CAR}; version=2`, `${CAR}; order=foo`]) {
      res = await get(`${base}/ipfs/${fx.snapshot.cid}`, { headers: { Accept: accept } })
      expect(res.status, accept).toBe(406)
      await res.body?.cancel()
    }
    res = await get(`${base}/ipfs/${fx.snapshot.cid}`, { headers: { Accept: `${CAR};dups=y, ${RAW};q=0.5` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(RAW)
    await res.body?.cancel()
    res = await get(`${base}/ipfs/${fx.snapshot.cid}`, { headers: { Accept: `${RAW};q=0.2, ${CAR};q=0.9` } })
    expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car/)
    await res.body?.cancel()
    res = await get(`${base}/ipfs/${fx.snapshot.cid}?format=car&car-dups=y`)
    expect(res.status).toBe(406)
    await res.body?.cancel()
  })

  it('errors: unknown CID 404, bad CID 400, unsupported Accept 406, no Accept 400, bad dag-scope 400, paths rejected', async () => {
    const absent = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    expect(fx.store.has(absent)).toBe(false)
    for (const q of ['format=raw', 'format=car']) {
      const res = await get(`${base}/ipfs/${absent}?${q}`)
      expect(res.status, q).toBe(404)
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
      await res.body?.cancel()
    }
    let res = await get(`${base}/ipfs/${absent}?format=raw`, { headers: { 'Cache-Control': 'only-if-cached' } })
    expect(res.status).toBe(412)
    await res.body?.cancel()
    for (const bad of ['not-a-cid', 'bafy', 'Qmfoo', '%ff']) {
      res = await get(`${base}/ipfs/${bad}?format=raw`)
      expect(res.status, bad).toBe(400)
      await res.body?.cancel()
    }
    for (const [path, headers] of [
      [`/ipfs/${fx.snapshot.cid}`, { Accept: 'text/html' }],
      [`/ipfs/${fx.snapshot.cid}`, { Accept: '*/*' }],
      [`/ipfs/${fx.snapshot.cid}?format=dag-json`, {}],
    ] as const) {
      res = await get(`${base}${path}`, { headers })
      expect(res.status, path).toBe(406)
      await res.body?.cancel()
    }
    const noAccept = await rawRequest(`${base}/ipfs/${fx.snapshot.cid}`)
    expect(noAccept.status).toBe(400)
    res = await get(`${base}/ipfs/${fx.snapshot.cid}?format=car&dag-scope=everything`)
    expect(res.status).toBe(400)
    await res.body?.cancel()
    res = await get(`${base}/ipfs/${fx.snapshot.cid}/markets?format=raw`)
    expect(res.status).toBe(400)
    await res.body?.cancel()
    res = await get(`${base}/ipfs/${fx.snapshot.cid}?format=raw`, { method: 'POST' })
    expect(res.status).toBe(405)
    await res.body?.cancel()
  })

  it('identity probe bafkqaaa: empty raw block, header-only CAR', async () => {
    let res = await get(`${base}/ipfs/bafkqaaa?format=raw`)
    expect(res.status).toBe(200)
    expect((await res.arrayBuffer()).byteLength).toBe(0)
    res = await get(`${base}/ipfs/bafkqaaa?format=car`)
    expect(res.status).toBe(200)
    const { roots, blocks } = await readCar(new Uint8Array(await res.arrayBuffer()))
    expect(roots.map(String)).toEqual(['bafkqaaa'])
    expect(blocks).toEqual([])
  })

  it('a block missing mid-DAG aborts the CAR response: the client sees an error, not a clean end', async () => {
    const last = snapshotCids[snapshotCids.length - 1]!
    const mid = snapshotCids[Math.floor(snapshotCids.length / 2)]!
    const saved = view.blocks
    try {
      for (const hidden of [last, mid]) {
        view.blocks = hiding(fx.store, new Set([hidden]))
        const res = await fetch(`${base}/ipfs/${fx.snapshot.cid}?format=car`)
        expect(res.status).toBe(200) // committed before the walk reached the hole
        await expect(res.arrayBuffer()).rejects.toThrow()
        // an independent CAR reader over the stream fails too
        const again = await fetch(`${base}/ipfs/${fx.snapshot.cid}?format=car`)
        await expect(
          (async () => {
            const it = await CarBlockIterator.fromIterable((async function* () {
              for await (const chunk of again.body!) yield chunk as Uint8Array
            })())
            let n = 0
            for await (const _b of it) n++
            return n
          })(),
        ).rejects.toThrow()
      }
      // a missing root is a 404 before anything is streamed
      view.blocks = hiding(fx.store, new Set([fx.snapshot.cid.toString()]))
      const res = await get(`${base}/ipfs/${fx.snapshot.cid}?format=car`)
      expect(res.status).toBe(404)
      await res.body?.cancel()
    } finally {
      view.blocks = saved
    }
    // the server is still healthy afterwards
    const ok = await get(`${base}/ipfs/${fx.snapshot.cid}?format=car`)
    expect((await readCar(new Uint8Array(await ok.arrayBuffer()))).blocks.length).toBe(snapshotCids.length)
    expect(await registry.text()).toMatch(/^ark_http_car_aborts_total\{reason="missing"\} [1-9]/m)
  })

  it('a corrupt local block is never served: raw → 500, mid-CAR → aborted', async () => {
    const victim = snapshotCids[snapshotCids.length - 1]!
    const corrupt = new MemoryBlockStore()
    for (const [k, v] of fx.store.blocks) corrupt.blocks.set(k, k === victim ? Uint8Array.from(v, (x, i) => (i === 5 ? x ^ 1 : x)) : v)
    const saved = view.blocks
    view.blocks = corrupt
    try {
      const raw = await get(`${base}/ipfs/${victim}?format=raw`)
      expect(raw.status).toBe(500)
      await raw.body?.cancel()
      const res = await fetch(`${base}/ipfs/${fx.snapshot.cid}?format=car`)
      await expect(res.arrayBuffer()).rejects.toThrow()
    } finally {
      view.blocks = saved
    }
  })
})

describe('http api: admin', () => {
  it('the token file is 0600, reused on the next start, refused when group/world-readable', async () => {
    const path = join(tmp, 'secrets', 'admin.token')
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await loadOrCreateAdminToken(path)).toBe(token)
    const other = join(tmp, 'other.token')
    const t2 = await loadOrCreateAdminToken(other)
    expect(t2).not.toBe(token)
    await chmod(other, 0o644)
    const err = await loadOrCreateAdminToken(other).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ArkError)
    expect((err as Error).message).toContain('chmod 600')
  })

  it('401 without or with a wrong token, 200 with it; body validated', async () => {
    const url = `${base}/v1/admin/snapshot`
    let res = await get(url, { method: 'POST' })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
    for (const auth of [`Bearer ${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`, `Bearer ${token}x`, `Basic ${token}`, 'Bearer', token]) {
      res = await get(url, { method: 'POST', headers: { Authorization: auth } })
      expect(res.status, auth).toBe(401)
      await res.body?.cancel()
    }
    expect(view.snapshotCalls).toEqual([])
    const auth = { Authorization: `Bearer ${token}` }
    res = await get(url, { method: 'POST', headers: auth })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ block: 'latest', started: true })
    res = await get(url, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ block: '123' }) })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ block: '123', started: true })
    expect(view.snapshotCalls).toEqual([undefined, 123n])
    res = await get(url, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"block":-1}' })
    expect(res.status).toBe(400)
    await res.body?.cancel()
    res = await get(url, { method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain' }, body: '{"block":1}' })
    expect(res.status).toBe(415)
    await res.body?.cancel()
    res = await get(url, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ block: 1, pad: 'x'.repeat(5000) }) })
    expect(res.status).toBe(413)
    await res.body?.cancel()
    res = await get(url, { headers: auth })
    expect(res.status).toBe(405)
    await res.body?.cancel()
    expect(view.snapshotCalls).toEqual([undefined, 123n])
  })

  it('404 when no admin token is configured', async () => {
    const v = new FakeView(fx.store, [])
    const noAdmin = createHttpApi({ view: v })
    const url = (await noAdmin.start()).url
    try {
      const res = await get(`${url}/v1/admin/snapshot`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
      expect(v.snapshotCalls).toEqual([])
    } finally {
      await noAdmin.stop()
    }
  })
})

describe('http api: lifecycle and hygiene', () => {
  it('aborting the signal stops the server; stop() is idempotent', async () => {
    const ac = new AbortController()
    const s = createHttpApi({ view: new FakeView(fx.store, []), signal: ac.signal })
    const url = (await s.start()).url
    expect((await get(`${url}/healthz`)).status).toBe(200)
    ac.abort()
    await s.stop()
    await s.stop()
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
    // as a node Service
    const api2 = createHttpApi({ view: new FakeView(fx.store, []) })
    await startAll([httpService(api2)])
    expect((await get(`${api2.url!}/healthz`)).status).toBe(200)
    await stopAll([httpService(api2)])
    expect(api2.url).toBeUndefined()
  })

  it('limits concurrent CAR streams (503 + Retry-After) and cuts them on stop() after the grace period', async () => {
    const slow: typeof fx.store.get = fx.store.get.bind(fx.store)
    const v = new FakeView(
      {
        get: async (cid) => {
          await new Promise((r) => setTimeout(r, 5))
          return slow(cid)
        },
        put: (b) => fx.store.put(b),
        has: (cid) => fx.store.has(cid),
      },
      [],
    )
    const s = createHttpApi({ view: v, limits: { maxCarStreams: 1, shutdownGraceMs: 100 } })
    const url = (await s.start()).url
    const first = await fetch(`${url}/ipfs/${fx.snapshot.cid}?format=car`)
    expect(first.status).toBe(200)
    const body = first.arrayBuffer()
    body.catch(() => {})
    const second = await get(`${url}/ipfs/${fx.snapshot.cid}?format=car`)
    expect(second.status).toBe(503)
    expect(second.headers.get('retry-after')).toBe('5')
    await second.body?.cancel()
    const t0 = Date.now()
    await s.stop()
    expect(Date.now() - t0).toBeLessThan(2000)
    await expect(body).rejects.toThrow()
  })

  it('CAR over HTTP/1.0 (no chunked encoding, truncation undetectable) is refused', async () => {
    const { connect } = await import('node:net')
    const u = new URL(base)
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(u.port), u.hostname, () => sock.write(`GET /ipfs/${fx.snapshot.cid}?format=car HTTP/1.0\r\nHost: x\r\n\r\n`))
      let text = ''
      sock.on('data', (d: Buffer) => (text += d.toString('latin1')))
      sock.on('end', () => resolve(text))
      sock.on('error', reject)
    })
    expect(reply).toMatch(/^HTTP\/1\.1 505 /)
  })

  it('no response carries access-control-* headers', () => {
    expect(seenHeaders.length).toBeGreaterThan(40)
    for (const h of seenHeaders) for (const [k] of h) expect(k.toLowerCase()).not.toMatch(/^access-control-/)
  })
})
