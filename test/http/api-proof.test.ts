/**
 * GET /v1/checkpoints/{block}/proof/{account} (node/http/api-proof.ts) over a real certified
 * synthetic snapshot, with the node's proof index and without one: the answer is the library's
 * proof (what `ark snapshot prove` gives) plus the certificate CID, immutable and cached; clear
 * 400/404/405 errors. Then `ark prove --node`: the proof is checked on the client against the
 * certificate and a trust root, and a node that alters anything is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ProofIndex } from '../../node/archive/proof-index.ts'
import { createHttpApi, type HttpApi } from '../../node/http/server.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { addr, OP } from '../protocol/support.ts'
import { errorOf, runArk } from '../support/recovery.ts'
import { buildFixture, FakeView, hiding, type Fixture } from './support.ts'

let f: Fixture
let dir: string
let index: ProofIndex
let api: HttpApi
let url: string
let plain: HttpApi
let plainUrl: string
let keys: Uint8Array[]

beforeAll(async () => {
  f = await buildFixture(1500)
  dir = await mkdtemp(join(tmpdir(), 'ark-api-proof-'))
  index = new ProofIndex({ dir: join(dir, 'proof-index'), log: pino({ level: 'silent' }) })
  api = createHttpApi({ view: Object.assign(new FakeView(f.store, [f.checkpoint]), { proofs: index }) })
  url = (await api.start()).url
  plain = createHttpApi({ view: new FakeView(f.store, [f.checkpoint]) })
  plainUrl = (await plain.start()).url
  keys = []
  for await (const e of f.snapshot.rawEntries()) keys.push(e.key)
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })), threshold: 3 }))
})

afterAll(async () => {
  await api?.stop()
  await plain?.stop()
  await index?.close()
  await rm(dir, { recursive: true, force: true })
})

const proofPath = (key: Uint8Array | string, block = f.checkpoint.block): string => `/v1/checkpoints/${block}/proof/${typeof key === 'string' ? key : bytesToHex(key)}`

describe('GET /v1/checkpoints/{block}/proof/{account}', () => {
  it('answers the library proof and the certificate CID, from the proof index or the in-memory tree, immutable', async () => {
    for (const base of [url, plainUrl]) {
      for (const key of [keys[0]!, keys[700]!, keys[keys.length - 1]!]) {
        const res = await fetch(`${base}${proofPath(key)}`)
        expect(res.status).toBe(200)
        expect(res.headers.get('cache-control')).toContain('immutable')
        const body = (await res.json()) as Record<string, unknown>
        expect(body).toEqual(JSON.parse(JSON.stringify({ ...(await proveAccount(f.snapshot, key)), certificateCid: f.certificateCid })))
      }
    }
    // uppercase hex is the same account (and the same cached answer)
    const upper = await fetch(`${url}${proofPath(`0x${Buffer.from(keys[700]!).toString('hex').toUpperCase()}`)}`)
    expect(((await upper.json()) as { proof: string[] }).proof).toEqual((await proveAccount(f.snapshot, keys[700]!)).proof)
  })

  it('clear errors: unknown block 404, malformed block or account 400, absent account 404, snapshot not held 404, POST 405, query 400', async () => {
    const err = async (path: string, init?: RequestInit, base = url): Promise<{ status: number; code: string; message: string }> => {
      const res = await fetch(`${base}${path}`, init)
      const e = ((await res.json()) as { error: { code: string; message: string } }).error
      return { status: res.status, ...e }
    }
    expect(await err(proofPath(keys[0]!, '999999'))).toMatchObject({ status: 404, code: 'NOT_FOUND', message: expect.stringContaining('no certified checkpoint at block 999999') })
    expect(await err(proofPath(keys[0]!, 'abc'))).toMatchObject({ status: 400, code: 'INVALID_PARAMETER', message: expect.stringContaining('block') })
    expect(await err(proofPath('0x1234'))).toMatchObject({ status: 400, code: 'INVALID_PARAMETER', message: expect.stringContaining('20-byte hex address') })
    expect(await err(proofPath(`0x${'zz'.repeat(20)}`))).toMatchObject({ status: 400, code: 'INVALID_PARAMETER' })
    expect(await err(proofPath(`0x${'ee'.repeat(20)}`))).toMatchObject({ status: 404, code: 'NOT_FOUND', message: expect.stringContaining('is not in snapshot') })
    expect(await err(`${proofPath(keys[0]!)}?x=1`)).toMatchObject({ status: 400, code: 'INVALID_PARAMETER' })
    expect(await err(proofPath(keys[0]!), { method: 'POST' })).toMatchObject({ status: 405 })
    const gone = createHttpApi({ view: new FakeView(hiding(f.store, new Set([f.checkpoint.snapshotCid])), [f.checkpoint]) })
    const goneUrl = (await gone.start()).url
    try {
      expect(await err(proofPath(keys[0]!), undefined, goneUrl)).toMatchObject({ status: 404, code: 'NOT_HELD' })
    } finally {
      await gone.stop()
    }
  })
})

describe('ark prove --node', () => {
  it('prints the node proof once it verifies against the certificate and the trust root; needs a trust root', async () => {
    const account = bytesToHex(keys[42]!)
    const out = join(dir, 'proof.json')
    const r = await runArk(['prove', '--node', url, '--block', f.checkpoint.block, '--account', account, '--trust', join(dir, 'operators.json'), '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ proofVerified: true, certificateVerified: true, stateRoot: f.snapshot.root.stateRoot })
    const written = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>
    expect(written.proof).toEqual((await proveAccount(f.snapshot, keys[42]!)).proof)
    expect(written.certificateCid).toBe(f.certificateCid)
    const none = await runArk(['prove', '--node', url, '--block', f.checkpoint.block, '--account', account, '--json'])
    expect(none.code).not.toBe(0)
    expect(errorOf(none).message).toContain('trust root is required')
  })

  it('refuses a node that alters the proof, the value or the stateRoot', async () => {
    // 'nothing' first: the relay itself works, so the refusals below are the client's checks
    const alterations: [string, (b: Record<string, unknown>) => void][] = [
      ['nothing', () => {}],
      ['a sibling', (b) => ((b.proof as string[])[0] = `0x${'11'.repeat(32)}`)],
      ['an amount', (b) => ((b.value as unknown[][])[3] = ((b.value as unknown[][])[3] ?? []).map(() => '999999999'))],
      ['the stateRoot', (b) => (b.stateRoot = `0x${'22'.repeat(32)}`)],
    ]
    for (const [what, alter] of alterations) {
      const liar: Server = createServer((req, res) => {
        void (async () => {
          const upstream = await fetch(`${url}${req.url}`, { headers: { accept: String(req.headers.accept ?? '*/*') } })
          const bytes = Buffer.from(await upstream.arrayBuffer())
          let out = bytes
          if (req.url!.includes('/proof/')) {
            const b = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
            alter(b)
            out = Buffer.from(JSON.stringify(b))
          }
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' })
          res.end(out)
        })().catch(() => res.destroy())
      })
      await new Promise<void>((ok) => liar.listen(0, '127.0.0.1', ok))
      try {
        const r = await runArk(['prove', '--node', `http://127.0.0.1:${(liar.address() as AddressInfo).port}`, '--block', f.checkpoint.block, '--account', bytesToHex(keys[42]!), '--trust', join(dir, 'operators.json'), '--json'])
        if (what === 'nothing') expect(r.code, r.stderr).toBe(0)
        else {
          expect(r.code, what).not.toBe(0)
          expect(r.stdout, what).toBe('')
        }
      } finally {
        await new Promise((ok) => liar.close(ok))
      }
    }
  })
})
