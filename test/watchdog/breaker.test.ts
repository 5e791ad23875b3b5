import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { privateKeyToAccount } from 'viem/accounts'
import type { Address } from '../../protocol/operator-set.ts'
import { CircuitBreaker } from '../../node/watchdog/breaker.ts'
import { scrubUrls } from '../../node/watchdog/errors.ts'
import { WebhookSender } from '../../node/watchdog/webhook.ts'
import { until } from '../support/archive-cluster.ts'

const USER = 'ops-user'
const PASS = 'pa55-w0rd-secret'
const PATH_KEY = 'PATHKEY0123456789abcdef'
const QUERY_KEY = 'QUERYKEY9876543210fedcba'
const SECRETS = [PASS, PATH_KEY, QUERY_KEY, `${USER}:`]
const EXCHANGE = '0x00000000000000000000000000000000000000ee' as Address

let dir: string
let port: number
let server: ReturnType<typeof createServer>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-breaker-'))
  // an RPC endpoint that fails every request (viem's HttpRequestError quotes the URL it called)
  server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream down'))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await new Promise((r) => server.close(() => r(undefined)))
  await rm(dir, { recursive: true, force: true })
})

/** A pino logger whose every line (with err serialized as in production) lands in `lines`. */
function capture(): { log: pino.Logger; text: () => string } {
  const lines: string[] = []
  const log = pino({ level: 'trace' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString('utf8')), cb()) }))
  return { log, text: () => lines.join('') }
}

describe('watchdog outputs never show secrets from their URLs (issue 10 item 10)', () => {
  // Fails on the code before this change: the breaker logged viem's error (message, details, url fields)
  // and stored its message in breaker.json, both quoting the RPC URL with its credentials and keys.
  it.each([
    ['path and query keys, endpoint answering 500', () => `http://127.0.0.1:${port}/v2/${PATH_KEY}?apikey=${QUERY_KEY}`],
    ['user:pass (fetch refuses such URLs and quotes them)', () => `http://${USER}:${PASS}@127.0.0.1:${port}/v2/${PATH_KEY}?apikey=${QUERY_KEY}`],
  ])('breaker failing with %s: logs, state file and view hold no secret', async (_name, url) => {
    const { log, text } = capture()
    const file = join(dir, `breaker-${Math.random().toString(36).slice(2)}.json`)
    const b = new CircuitBreaker({ account: privateKeyToAccount(`0x${'7a'.repeat(32)}`), exchange: EXCHANGE, rpcUrl: url(), chainId: 31337n, stateFile: file, isPaused: async () => false, log })
    const s = await b.trip('key')
    expect(s.status).toBe('failed')
    expect(s.error).toContain('127.0.0.1')
    const out = [text(), await readFile(file, 'utf8'), JSON.stringify(b.state)].join('\n')
    expect(out).toContain('sending pause() failed')
    for (const secret of SECRETS) expect(out).not.toContain(secret)
  })

  it('webhook deliveries failing on a secret-bearing URL log no secret', async () => {
    const { log, text } = capture()
    const hooks = new WebhookSender([{ url: `http://${USER}:${PASS}@127.0.0.1:1/hooks/${PATH_KEY}?token=${QUERY_KEY}`, secret: 'x'.repeat(16) }], { queue: 10, maxAttempts: 2, backoffMs: 10, maxBackoffMs: 10, timeoutMs: 1_000 }, log)
    await hooks.start()
    hooks.send('alert.raised', { n: 1 })
    await until('the delivery given up', () => hooks.counts.failed === 1, 10_000)
    await hooks.stop()
    expect(text()).toContain('webhook delivery failed')
    for (const secret of SECRETS) expect(text()).not.toContain(secret)
  })

  it('scrubUrls keeps scheme, host and port only', () => {
    const url = `https://${USER}:${PASS}@rpc.example:8545/v2/${PATH_KEY}?apikey=${QUERY_KEY}`
    expect(scrubUrls(`URL: ${url}\nthen ${PATH_KEY} alone`, url)).toBe('URL: https://rpc.example:8545\nthen <redacted> alone')
  })
})
