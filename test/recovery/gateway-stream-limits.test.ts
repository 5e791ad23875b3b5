/**
 * The trustless gateway's CAR slots against slow readers (issue 10 item 13,
 * gateway part): each stream has an absolute time limit and a minimum rate,
 * so readers that stop reading cannot hold all 8 slots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { pino } from 'pino'
import { readCar } from '../../snapshot/car/car.ts'
import { serveIpfs, sendGatewayError, type GatewayContext } from '../../node/http/gateway.ts'
import { HttpError } from '../../node/http/respond.ts'
import { certifiedSnapshot, type Certified } from '../support/recovery-server.ts'

const SLOTS = 8
let c: Certified
let server: Server
let url: string
let port: number
const aborts: string[] = []
/** most CAR slots held at once */
let peak = 0
const sockets: Socket[] = []

beforeAll(async () => {
  c = await certifiedSnapshot({ accounts: 100_000, seed: 'gateway-stream-limits' })
  let streams = 0
  const lifetime = new AbortController()
  const ctx: GatewayContext = {
    blocks: c.store,
    log: pino({ level: 'silent' }),
    signal: lifetime.signal,
    acquireStream: () => {
      if (streams >= SLOTS) return false
      peak = Math.max(peak, ++streams)
      return true
    },
    releaseStream: () => void streams--,
    onAbort: (reason) => void aborts.push(reason),
    // small limits so the test is quick; the mechanism is the one the defaults (CAR_STREAM_LIMITS) use
    streamLimits: { maxMs: 20_000, minBytesPerSecond: 4 * 1024 * 1024, graceMs: 10_000 },
  }
  server = createServer((req, res) => {
    serveIpfs(req, res, new URL(String(req.url), 'http://x'), ctx).catch((err: unknown) => {
      if (err instanceof HttpError) sendGatewayError(res, err)
      else res.destroy()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as AddressInfo).port
  url = `http://127.0.0.1:${port}`
}, 120_000)

afterAll(async () => {
  for (const s of sockets) s.destroy()
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

/** A client that asks for the CAR and then never reads: its socket buffers fill and the server blocks on it. */
function stalledReader(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.ipld.car\r\n\r\n`)
      s.once('data', () => {
        s.pause()
        resolve()
      })
    })
    s.on('error', () => {})
    s.once('close', () => reject(new Error('closed before the CAR started')))
    sockets.push(s)
  })
}

describe('CAR stream limits', () => {
  // Fails on the code before the fix: a reader that stops reading held its slot until the server's
  // idle timeout (60 s), so 8 of them made every other client get 503 for that long.
  it('8 readers that stop reading cannot hold every CAR slot: a normal client still gets its CAR', { timeout: 90_000 }, async () => {
    const path = `/ipfs/${c.snapshot.cid.toString()}?format=car`
    await Promise.all(Array.from({ length: SLOTS }, () => stalledReader(path)))
    expect(peak).toBe(SLOTS) // every slot is held by a reader that stopped reading
    const t = performance.now()
    let res: Response | undefined
    while (performance.now() - t < 45_000) {
      const r = await fetch(`${url}${path}`, { headers: { accept: 'application/vnd.ipld.car' } })
      if (r.status === 200) {
        res = r
        break
      }
      await r.arrayBuffer()
      await new Promise((w) => setTimeout(w, 200))
    }
    expect(res?.status).toBe(200)
    const car = readCar(new Uint8Array(await res!.arrayBuffer()))
    let blocks = 0
    for await (const _ of c.snapshot.blockCids()) blocks++
    expect(car.blocks).toBe(blocks)
    // every stalled reader is cut off in the end (the rate limit, or the absolute time at the latest)
    const slow = (): number => aborts.filter((a) => a === 'slow').length
    for (const until = performance.now() + 30_000; slow() < SLOTS && performance.now() < until; ) await new Promise((w) => setTimeout(w, 200))
    expect(slow()).toBe(SLOTS)
  })
})
