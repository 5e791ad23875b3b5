/**
 * `ark mirror` stopped in the middle of a fetch (issue 18): `latest` stays on
 * the complete checkpoint it named, nothing half-written is named; the
 * restart checks the held directory again, resumes the staged blocks and
 * downloads only what neither holds; its output is byte-identical to the
 * certified snapshot, and a round with nothing new downloads nothing. The
 * stop is injected by a wrapper around the real fetch (real gateways, real
 * Helia on disk behind them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeCar } from '../../snapshot/car/car.ts'
import { applyChanges } from '../../snapshot/state/build.ts'
import { synthChanges, synthMarkets, synthMeta } from '../../snapshot/synth/synth.ts'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { runMirror, type MirroredCheckpoint } from '../../node/recovery/mirror.ts'
import { readLatest } from '../../node/recovery/mirror-dir.ts'
import { fileTrust } from '../../node/recovery/trust.ts'
import { addr, OP } from '../protocol/support.ts'
import { certifiedSnapshot, certifySnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import { runArk } from '../support/recovery.ts'

const BIN = fileURLToPath(new URL('../../node/cli/bin.js', import.meta.url))

let dir: string
let older: Certified
let newer: Certified
let oldNode: ServingNode
let newNode: ServingNode
let newBlocks = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-mirror-restart-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
  const opts = { accounts: 2000, seed: 'mirror-restart' }
  older = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 0) })
  const held = new Set<string>()
  for await (const cid of older.snapshot.blockCids()) held.add(cid.toString())
  newer = await certifySnapshot((await applyChanges(older.snapshot, synthChanges(opts, 0.01, 1) as never, { meta: synthMeta(opts, 1), markets: synthMarkets(opts) })).snapshot, older.store)
  for await (const cid of newer.snapshot.blockCids()) if (!held.has(cid.toString())) newBlocks++
  // a node that has certified only the older checkpoint so far, and one that has both
  oldNode = await startServingNode(join(dir, 'old'), [older])
  newNode = await startServingNode(join(dir, 'new'), [older, newer])
}, 120_000)

afterAll(async () => {
  await oldNode?.stop().catch(() => {})
  await newNode?.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('ark mirror stopped mid-fetch', () => {
  it('never names a partial directory, resumes on restart and downloads nothing it holds', { timeout: 120_000 }, async () => {
    const mirrorDir = join(dir, 'mirror')
    const trust = await fileTrust(join(dir, 'operators.json'))
    const events: MirroredCheckpoint[] = []
    const run = (url: string, signal: AbortSignal, f: typeof fetch = fetch): Promise<void> =>
      runMirror({ sources: () => [gatewaySource(url, { fetch: f, blockConcurrency: 2 })], chainId: 31337n, adapterId: 'synth', trust, dir: mirrorDir, keep: 3, pollMs: 100, stallMs: 10_000, signal, once: true, onCheckpoint: (e) => events.push(e) })
    const certCid = newer.certificateBlock.cid.toString()
    /** block requests (raw, not the certificate) answered */
    const blockRequests = (url: string): boolean => url.includes('format=raw') && !url.includes(certCid) && !url.includes(older.certificateBlock.cid.toString())
    /** blocks a request asks for: one raw block, or the CIDs of a POST /v1/blocks batch */
    const blocksAsked = (input: unknown, init: RequestInit | undefined): number => {
      const url = String(input as string)
      if (url.endsWith('/v1/blocks') && init?.method === 'POST') return String(init.body as string).split('\n').length
      return blockRequests(url) ? 1 : 0
    }

    // 1. the older checkpoint, in full
    await run(oldNode.url, new AbortController().signal)
    expect(events.map((e) => e.block)).toEqual([older.certificate.body.blockNumber])
    const olderName = older.certificate.body.blockNumber.toString()
    const newerName = newer.certificate.body.blockNumber.toString()
    expect(await readLatest(mirrorDir)).toBe(olderName)

    // 2. the newer one, stopped after a few of its new blocks arrived
    const stop = new AbortController()
    let answered = 0
    const stopping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      // the new blocks come in a few batches (one per tree level): stop after the second
      if (blocksAsked(input, init) > 0 && ++answered === 2) stop.abort()
      return res
    }
    await run(newNode.url, stop.signal, stopping)
    expect(stop.signal.aborted).toBe(true)
    expect(events).toHaveLength(1)
    expect(await readLatest(mirrorDir)).toBe(olderName)
    const names = await readdir(mirrorDir)
    expect(names).not.toContain(newerName)
    expect(names).toContain(`.${newerName}.partial`)
    expect((await stat(join(mirrorDir, `.${newerName}.partial`, 'blocks.car'))).size).toBeGreaterThan(0)

    // 3. restart: the held directory is checked again, the staged blocks resumed, only the rest downloaded
    let requested = 0
    const counting: typeof fetch = async (input, init) => {
      requested += blocksAsked(input, init)
      return fetch(input, init)
    }
    await run(newNode.url, new AbortController().signal, counting)
    expect(events).toHaveLength(2)
    const e = events[1]!
    expect(e.block).toBe(newer.certificate.body.blockNumber)
    expect(e.resumed.blocks).toBeGreaterThan(0)
    expect(e.downloaded.blocks).toBeLessThan(newBlocks)
    expect(requested).toBe(e.downloaded.blocks)
    expect(await readLatest(mirrorDir)).toBe(newerName)
    const chunks: Uint8Array[] = []
    for await (const c of writeCar([newer.snapshot.cid], newer.snapshot.blockCids(), newer.store)) chunks.push(c)
    expect(Buffer.compare(await readFile(join(mirrorDir, 'latest', 'snapshot.car')), Buffer.concat(chunks))).toBe(0)
    expect((await readdir(mirrorDir)).filter((n) => n.startsWith('.'))).toEqual([])

    // 4. again: nothing newer, nothing downloaded
    requested = 0
    await run(newNode.url, new AbortController().signal, counting)
    expect(events).toHaveLength(2)
    expect(requested).toBe(0)
  })

  it('ark mirror: --once mirrors and exits; a running mirror stops cleanly on SIGINT', { timeout: 120_000 }, async () => {
    const args = (d: string): string[] => ['mirror', '--chain', '31337', '--adapter', 'synth', '--trust', join(dir, 'operators.json'), '--gateway', newNode.url, '--dir', d, '--poll-interval', '0.2', '--json']
    const once = await runArk([...args(join(dir, 'cli-once')), '--once'])
    expect(once.code, once.stderr).toBe(0)
    const line = JSON.parse(once.stdout.trim().split('\n').at(-1)!) as { block: string; snapshot: string; downloaded: { bytes: number } }
    expect(line.block).toBe(newer.certificate.body.blockNumber.toString())
    expect(line.snapshot).toBe(newer.snapshot.cid.toString())
    expect(once.stderr).toMatch(/^mirror: block [0-9]+ verified in [0-9]+ ms: downloaded .* MiB \([0-9]+ blocks\), reused/m)
    expect(await readLatest(join(dir, 'cli-once'))).toBe(line.block)

    const child = spawn(process.execPath, [BIN, ...args(join(dir, 'cli-signal'))], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let out = ''
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if (out.includes('\n')) resolve()
        })
        child.on('exit', (code) => reject(new Error(`ark mirror exited with ${code} before mirroring a checkpoint`)))
      })
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      child.kill('SIGINT')
      expect(await exited).toBe(0)
      expect(await readLatest(join(dir, 'cli-signal'))).toBe(newer.certificate.body.blockNumber.toString())
    } finally {
      child.kill('SIGKILL')
    }
  })
})
