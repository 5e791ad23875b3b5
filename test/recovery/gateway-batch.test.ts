/**
 * POST /v1/blocks (issue 18, incremental fetch): the node's API answers a
 * list of CIDs with one CAR of the blocks it holds, in the order asked,
 * within its bounds; the gateway source uses it and keeps only blocks it
 * asked for; against a gateway without the endpoint the source reports it
 * cannot batch (the incremental fetch then asks block by block).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { CID } from 'multiformats/cid'
import { readCar } from '../../snapshot/car/car.ts'
import { createHttpApi, type NodeView } from '../../node/http/server.ts'
import { BLOCK_BATCH_LIMITS } from '../../node/http/block-batch.ts'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { Staging } from '../../node/recovery/staging.ts'
import { Watchdog } from '../../node/recovery/source.ts'
import { encodeCertificate } from '../../protocol/certificate.ts'
import { certifiedSnapshot, type Certified } from '../support/recovery-server.ts'

let c: Certified
let api: { start(): Promise<{ url: string }>; stop(): Promise<void> }
let url: string
let dir: string
let cids: CID[]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-gateway-batch-'))
  c = await certifiedSnapshot({ accounts: 2000, seed: 'gateway-batch' })
  cids = []
  for await (const cid of c.snapshot.blockCids()) cids.push(cid)
  const view: NodeView = { status: () => ({}), checkpoints: () => [c.checkpoint], checkpoint: () => c.checkpoint, evidence: () => [], blocks: c.store, metrics: () => '', health: () => ({ ok: true, reasons: [] }) }
  api = createHttpApi({ view, logger: pino({ level: 'silent' }) })
  url = (await api.start()).url
}, 60_000)

afterAll(async () => {
  await api?.stop()
  await rm(dir, { recursive: true, force: true })
})

const post = (body: string, method = 'POST'): Promise<Response> => fetch(`${url}/v1/blocks`, { method, headers: { 'content-type': 'text/plain' }, ...(method === 'POST' ? { body } : {}) })

describe('POST /v1/blocks', () => {
  it('answers one CAR of the held blocks in the order asked, leaving out those it lacks', async () => {
    const missing = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    const ask = [cids[5]!, missing, cids[1]!, cids[9]!]
    const res = await post(ask.map((x) => x.toString()).join('\n'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/vnd.ipld.car')
    const car = readCar(new Uint8Array(await res.arrayBuffer()))
    expect([...car.store.blocks.keys()].length).toBe(3)
    expect(car.store.has(missing)).toBe(false)
    for (const x of [cids[5]!, cids[1]!, cids[9]!]) expect(Buffer.compare(car.store.get(x), c.store.get(x))).toBe(0)
  })

  it('bounds the request: an empty list, too many CIDs, a bad CID and GET are refused', async () => {
    expect((await post('')).status).toBe(400)
    expect((await post(Array.from({ length: BLOCK_BATCH_LIMITS.maxCids + 1 }, () => cids[0]!.toString()).join('\n'))).status).toBe(413)
    expect((await post('not-a-cid')).status).toBe(400)
    expect((await post('', 'GET')).status).toBe(405)
  })

  it('the gateway source fetches through it, and says so when a gateway lacks it', async () => {
    const opened = await Staging.open(join(dir, 'staging'), encodeCertificate(c.certificate).bytes)
    const watch = new Watchdog({ stallMs: 10_000 })
    try {
      const src = gatewaySource(url)
      expect(await src.fetchBlockBatch!(cids, opened.staging, watch)).toBe(true)
      for (const x of cids) expect(opened.staging.has(x)).toBe(true)
      expect(opened.staging.added.blocks).toBe(cids.length)
      // a gateway without the endpoint (404): the source reports it cannot batch
      const old = gatewaySource(url, { fetch: (input, init) => (init?.method === 'POST' ? Promise.resolve(new Response('no such endpoint', { status: 404 })) : fetch(input, init)) })
      expect(await old.fetchBlockBatch!(cids.slice(0, 3), opened.staging, watch)).toBe(true) // all held already: nothing to ask
      const fresh = await Staging.open(join(dir, 'staging2'), encodeCertificate(c.certificate).bytes)
      expect(await old.fetchBlockBatch!(cids.slice(0, 3), fresh.staging, watch)).toBe(false)
      await fresh.staging.remove()
    } finally {
      watch.dispose()
      await opened.staging.remove()
    }
  })
})
