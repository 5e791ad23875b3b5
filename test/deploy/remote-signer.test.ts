/**
 * Remote signing (node/keys/remote-signer.ts) against anvil's own
 * eth_signTypedData_v4 (its unlocked dev accounts), reached through a proxy
 * that demands Basic credentials (given in the configured URL), counts what
 * it is asked to sign, and can inject a fault (sign with another account).
 * A node whose key is remote certifies checkpoints that verify, its sign log
 * still guards every signature (after a restart the signer is never asked
 * again for a checkpoint it signed), and the credentials reach no log line
 * and no error message.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attestationDigest, attestationTypedData, verifyAttestation, type AttestationBody } from '../../protocol/attestation.ts'
import { verifyCertificate } from '../../protocol/certificate.ts'
import { parseOperatorSet } from '../../protocol/operator-set.ts'
import { RemoteSigner } from '../../node/keys/remote-signer.ts'
import { SignLog } from '../../node/signlog/signlog.ts'
import { CID } from 'multiformats/cid'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'
import { blockNumber } from '../support/chain.ts'

const SECRET = 's3cret-token-7f1d'
const AUTH = `Basic ${Buffer.from(`ark:${SECRET}`).toString('base64')}`

interface Proxy {
  url: string
  /** "blockNumber/kind" of every attestation the signer was asked to sign */
  signed: string[]
  mode: { swapTo?: string }
  close: () => Promise<void>
}

async function signerProxy(upstream: string): Promise<Proxy> {
  const signed: string[] = []
  const mode: Proxy['mode'] = {}
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.headers.authorization !== AUTH) {
        res.writeHead(401).end()
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { method: string; params: unknown[] }
      if (body.method === 'eth_signTypedData_v4') {
        const td = JSON.parse(body.params[1] as string) as { primaryType: string; message: { blockNumber?: string; kind?: number } }
        if (td.primaryType === 'Attestation') signed.push(`${td.message.blockNumber}/${td.message.kind}`)
        if (mode.swapTo !== undefined) body.params[0] = mode.swapTo
      }
      fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()))
        .catch(() => res.writeHead(502).end())
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: `http://ark:${SECRET}@127.0.0.1:${port}`, signed, mode, close: () => new Promise((r) => server.close(() => r())) }
}

function body(block: bigint): AttestationBody {
  return { chainId: 31337n, adapterId: 'perp-reference', configHash: `0x${'22'.repeat(32)}`, blockNumber: block, blockHash: `0x${'33'.repeat(32)}`, snapshotCid: CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), stateRoot: `0x${'44'.repeat(32)}`, specVersion: 1, kind: 0 }
}

describe('remote signer (eth_signTypedData_v4 on anvil)', () => {
  let fx: ArchiveFixture | undefined
  let proxy: Proxy | undefined
  let accounts: `0x${string}`[] = []
  const logLines: string[] = []

  beforeAll(async () => {
    fx = await archiveFixture({ name: 'remote-signer', seed: 71, traders: 3, steps: 6 })
    proxy = await signerProxy(fx.chain.anvil.rpcUrl)
    accounts = (await fx.chain.rpc<string[]>('eth_accounts')).map((a) => a.toLowerCase() as `0x${string}`)
  }, 120_000)
  afterAll(async () => {
    await proxy?.close()
    await fx?.stop()
  })

  it('signs typed data that verifies; refuses a signer without the address or one that signs with another key, never showing the credentials', async () => {
    const address = accounts[9]!
    const signer = new RemoteSigner({ url: proxy!.url, address })
    await signer.check()
    expect(signer.describe).not.toContain(SECRET)
    const b = body(100n)
    const signature = await signer.sign(attestationDigest(b), attestationTypedData(b))
    await verifyAttestation({ body: b, signer: address, signature })

    const stranger = new RemoteSigner({ url: proxy!.url, address: `0x${'ee'.repeat(20)}` })
    const notHeld = await stranger.check().then(() => undefined, (e: unknown) => e as Error)
    expect(notHeld?.message).toMatch(/does not hold 0xeeee.*fix key\.remote\.address/)

    proxy!.mode.swapTo = accounts[8]
    const wrongKey = await signer.sign(attestationDigest(b), attestationTypedData(b)).then(() => undefined, (e: unknown) => e as Error)
    proxy!.mode.swapTo = undefined
    expect(wrongKey?.name).toBe('RemoteSignerError')
    expect(wrongKey?.message).toMatch(/does not verify for/)

    const down = new RemoteSigner({ url: `http://ark:${SECRET}@127.0.0.1:1/rpc`, address, timeoutMs: 500 })
    const refused = await down.check().then(() => undefined, (e: unknown) => e as Error)
    expect(refused?.message).toMatch(/does not answer eth_accounts/)
    for (const e of [notHeld, wrongKey, refused]) expect(`${e?.message} ${JSON.stringify(e)}`).not.toContain(SECRET)
  })

  it('the sign log stands in front of the remote signer across a reopen: same content answered from the log, other content refused, the signer not asked', async () => {
    const address = accounts[9]!
    const signer = new RemoteSigner({ url: proxy!.url, address })
    const path = join(fx!.dir, 'remote-signlog.jsonl')
    const b = body(200n)
    const signVia = (log: SignLog, x: AttestationBody): Promise<string> => log.sign(x, address, () => signer.sign(attestationDigest(x), attestationTypedData(x)))
    let log = new SignLog(path)
    log.open()
    const first = await signVia(log, b)
    log.close()
    const asked = proxy!.signed.length
    log = new SignLog(path)
    log.open()
    expect(await signVia(log, b)).toBe(first)
    const other = { ...b, stateRoot: `0x${'55'.repeat(32)}` as const }
    await expect(signVia(log, other)).rejects.toThrow(/refusing to sign checkpoint/)
    log.close()
    expect(proxy!.signed.length).toBe(asked)
  })

  it('a node with a remote key certifies; after a restart its sign log answers for what it signed (the signer is never asked twice)', { timeout: 180_000 }, async () => {
    const f = fx!
    const address = accounts[9]!
    const [config] = await writeClusterConfigs(f.dir, f.chain, 1, { firstBlock: await blockNumber(f.chain), interval: 2 })
    const operators = join(f.dir, 'remote-operators.json')
    await writeFile(operators, JSON.stringify({ operators: [{ address, weight: 1 }] }))
    config!.operators = { file: operators }
    config!.key = { remote: { url: proxy!.url, address } }
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => void (logLines.push(chunk.toString('utf8')), cb()) })
    const logger = pino({ level: 'debug' }, sink)
    const set = parseOperatorSet({ operators: [{ address, weight: 1 }] })
    proxy!.signed.length = 0

    let node = await f.start(config!, { logger })
    expect(node.operator).toBe(address)
    f.mine({ seed: 71, traders: 3, steps: 2, sameTraders: true, pauseMs: 200 })
    await until('two certificates signed remotely', () => node.counters.certificates >= 2, 90_000)
    for (const { certificate } of node.certificates.list()) {
      expect(certificate.signatures.map((s) => s.signer)).toEqual([address])
      await verifyCertificate(certificate, set)
    }
    const before = node.counters.certificates
    await node.stop()
    const signedBefore = [...proxy!.signed]
    expect(signedBefore.length).toBeGreaterThanOrEqual(2)

    node = await f.start(config!, { logger })
    await until('a certificate after the restart', () => node.counters.certificates >= 1 && node.certificates.latest()!.certificate.body.blockNumber > BigInt(signedBefore.at(-1)!.split('/')[0]!), 90_000)
    await node.stop()
    // every checkpoint went to the signer at most once across both runs: the sign log answered the rest
    expect(new Set(proxy!.signed).size).toBe(proxy!.signed.length)
    const logged = (await readFile(join(config!.dataDir, 'signlog.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { checkpoint: string; signer: string })
    for (const k of proxy!.signed) expect(logged.filter((e) => e.checkpoint.endsWith(`/${k}`) && e.signer === address)).toHaveLength(1)
    expect(before).toBeGreaterThanOrEqual(2)
    expect(logLines.length).toBeGreaterThan(10)
    expect(logLines.join('')).not.toContain(SECRET)
  })
})
