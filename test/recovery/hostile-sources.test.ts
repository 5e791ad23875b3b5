/**
 * `ark fetch` against hostile gateways (issue 10): a stale source must not
 * roll the desk back (item 8), and a source that streams an endless body is
 * dropped while the body streams in, memory bounded (item 9).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { synthMeta } from '../../snapshot/synth/synth.ts'
import { addr, OP } from '../protocol/support.ts'
import { certifiedSnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import { runArk } from '../support/recovery.ts'

const REPO = resolve(import.meta.dirname, '../..')
const FLOOD_BYTES = 2 * 1024 ** 3
const RSS_LIMIT = 300 * 1024 ** 2

let dir: string
let older: Certified
let newer: Certified
let honest: ServingNode
let stale: ServingNode
const stop: (() => Promise<void>)[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-hostile-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
  const opts = { accounts: 400, seed: 'hostile-sources' }
  older = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 0) })
  newer = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 1) })
  honest = await startServingNode(join(dir, 'honest'), [older, newer])
  stop.push(() => honest.stop())
  // a genuine archive node that stopped at the older checkpoint (or one that hides the newer on purpose)
  stale = await startServingNode(join(dir, 'stale'), [older])
  stop.push(() => stale.stop())
}, 120_000)

afterAll(async () => {
  for (const s of stop.reverse()) await s().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

const base = (): string[] => ['fetch', '--chain', '31337', '--adapter', 'synth', '--trust', join(dir, 'operators.json'), '--stall-timeout', '5']

describe('--block latest (issue 10 item 8)', () => {
  // Fails on the code before the fix: the first source's answer was taken, so the stale gateway's
  // genuine but older certificate won.
  it('asks every source and takes the highest verified certificate; a stale source first does not win', { timeout: 120_000 }, async () => {
    const r = await runArk([...base(), '--block', 'latest', '--gateway', stale.url, '--peer', stale.multiaddr, '--gateway', honest.url, '--out', join(dir, 'latest'), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout) as { snapshot: string; block: string }
    expect(j.block).toBe(newer.checkpoint.block)
    expect(j.snapshot).toBe(newer.snapshot.cid.toString())
    const again = await runArk([...base(), '--block', 'latest', '--gateway', stale.url, '--gateway', honest.url, '--out', join(dir, 'latest-2')])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain(`gateway ${stale.url} lags: its latest certificate is for block ${older.checkpoint.block}, block ${newer.checkpoint.block} is certified`)
  })
})

/** Streams `FLOOD_BYTES` as fast as the client takes them (or until it hangs up). */
function flood(res: ServerResponse, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType })
  const chunk = Buffer.alloc(1024 * 1024, 0x20)
  let sent = 0
  const pump = (): void => {
    while (sent < FLOOD_BYTES && !res.destroyed) {
      sent += chunk.length
      if (!res.write(chunk)) return void res.once('drain', pump)
    }
    res.end()
  }
  pump()
}

async function listen(handler: (path: string, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => handler(String(req.url), res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** Runs the CLI in a child process, sampling its resident memory. */
function arkProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakRss: number }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['node/cli/bin.js', ...args], { cwd: REPO })
    let stdout = ''
    let stderr = ''
    let peakRss = 0
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const sample = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m !== null) peakRss = Math.max(peakRss, Number(m[1]) * 1024)
      } catch {
        // exited between samples
      }
    }, 20)
    child.on('close', (code) => {
      clearInterval(sample)
      done({ code, stdout, stderr, peakRss })
    })
  })
}

describe('unbounded bodies (issue 10 item 9)', () => {
  // Fails on the code before the fix: the answers were buffered whole (res.json(), res.arrayBuffer()),
  // so the client held the 2 GiB stream in memory (or died) before it could drop the source.
  it('a gateway streaming 2 GiB is dropped while it streams; memory stays bounded; the honest sources after it succeed', { timeout: 120_000 }, async () => {
    // floods every answer: the checkpoint JSON
    const json = await listen((_, res) => flood(res, 'application/json'))
    // answers the checkpoint honestly, then floods the certificate block
    const cert = await listen((path, res) => {
      if (path.startsWith('/ipfs/')) return flood(res, 'application/vnd.ipld.raw')
      fetch(`${honest.url}${path}`, { headers: { accept: 'application/json' } })
        .then(async (up) => res.writeHead(up.status, { 'content-type': 'application/json' }).end(Buffer.from(await up.arrayBuffer())))
        .catch(() => res.destroy())
    })
    stop.push(() => json.close(), () => cert.close())
    const out = join(dir, 'flood')
    const t = performance.now()
    const r = await arkProcess([...base(), '--block', newer.checkpoint.block, '--gateway', json.url, '--gateway', cert.url, '--gateway', honest.url, '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`dropped gateway ${json.url}: GET /v1/checkpoints/${newer.checkpoint.block}: the answer is over the \\d+-byte limit for a checkpoint`))
    expect(r.stderr).toMatch(new RegExp(`dropped gateway ${cert.url}: GET /ipfs/\\S+\\?format=raw: the answer is over the 65536-byte limit for a certificate`))
    expect(r.stdout).toContain(`from ${honest.url}`)
    expect(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { snapshot: string }).toMatchObject({ snapshot: newer.snapshot.cid.toString() })
    expect(r.peakRss).toBeGreaterThan(0)
    expect(r.peakRss).toBeLessThan(RSS_LIMIT)
    // the caps trip early: nowhere near the time 2 GiB takes
    expect(performance.now() - t).toBeLessThan(60_000)
  })
})
