import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { SIGNATURE_HEADER, signWebhook, verifyWebhook, WebhookSender } from '../../node/watchdog/webhook.ts'
import { until } from '../support/archive-cluster.ts'

const SECRET = 'a-webhook-secret-of-some-length'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) await c()
})

/** A local receiver that fails the first `failures` requests with `status`. */
async function receiver(failures: number, status = 503): Promise<{ url: string; got: { body: string; headers: IncomingMessage['headers'] }[]; requests: () => number }> {
  const got: { body: string; headers: IncomingMessage['headers'] }[] = []
  let n = 0
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      n++
      if (n <= failures) return void res.writeHead(status).end()
      got.push({ body: Buffer.concat(parts).toString('utf8'), headers: req.headers })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(() => new Promise((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, requests: () => n }
}

describe('webhooks', () => {
  it('retry with backoff until delivered, in order, with a signature the receiver verifies', async () => {
    const r = await receiver(2)
    const s = new WebhookSender([{ url: r.url, secret: SECRET }], { queue: 10, maxAttempts: 5, backoffMs: 20, maxBackoffMs: 100, timeoutMs: 2000 })
    await s.start()
    closers.push(() => s.stop())
    s.send('alert.raised', { condition: { kind: 'oracle-stale' } })
    s.send('alert.cleared', { condition: { kind: 'oracle-stale' } })
    await until('two deliveries', () => r.got.length === 2, 10_000)
    expect(r.requests()).toBe(4)
    expect(s.counts).toMatchObject({ delivered: 2, retried: 2, failed: 0 })
    for (const g of r.got) {
      expect(verifyWebhook(SECRET, g.headers[SIGNATURE_HEADER] as string, g.body)).toBe(true)
      expect(verifyWebhook('another-secret-entirely', g.headers[SIGNATURE_HEADER] as string, g.body)).toBe(false)
      expect(verifyWebhook(SECRET, g.headers[SIGNATURE_HEADER] as string, `${g.body} `)).toBe(false)
    }
    expect(r.got.map((g) => JSON.parse(g.body).event)).toEqual(expect.arrayContaining(['alert.raised', 'alert.cleared']))
    expect(r.got[0]!.headers['x-ark-event']).toBe(JSON.parse(r.got[0]!.body).event)
  })

  it('a 4xx is final; a full queue drops the oldest; stale signatures are refused', async () => {
    const r = await receiver(1, 400)
    const s = new WebhookSender([{ url: r.url, secret: SECRET }], { queue: 2, maxAttempts: 5, backoffMs: 20, maxBackoffMs: 100, timeoutMs: 2000 })
    s.send('alert.raised', { n: 1 })
    s.send('alert.raised', { n: 2 })
    s.send('alert.raised', { n: 3 })
    expect(s.counts.dropped).toBe(1)
    await s.start()
    closers.push(() => s.stop())
    await until('queue drained', () => s.pending === 0 && r.requests() === 2, 10_000)
    expect(s.counts).toMatchObject({ failed: 1, delivered: 1 })
    expect(JSON.parse(r.got[0]!.body).n).toBe(3)
    const old = signWebhook(SECRET, 1000, '{}')
    expect(verifyWebhook(SECRET, old, '{}')).toBe(false)
    expect(verifyWebhook(SECRET, old, '{}', 1100)).toBe(true)
  })
})
