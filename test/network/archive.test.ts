import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { CID } from 'multiformats/cid'
import { readCar } from '../../snapshot/car/car.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { derivativesSchemaV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { blockNumber, type ChainFixture } from '../support/chain.ts'
import { archiveFixture, startNode, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

const BIN = fileURLToPath(new URL('../../node/cli/bin.js', import.meta.url))
let fx: ArchiveFixture
let f: ChainFixture
let dir: string
let nodes: ArchiveNode[]

function certified(n: ArchiveNode): Map<string, string> {
  return new Map(n.certificates.list().map((s) => [s.certificate.body.blockNumber.toString(), s.cid.toString()]))
}

beforeAll(async () => {
  fx = await archiveFixture({ name: 'cluster', seed: 3, traders: 12, steps: 60 })
  ;({ chain: f, dir, nodes } = fx)
}, 180_000)

afterAll(async () => {
  await fx?.stop()
})

describe('archive nodes on loopback TCP with a real chain', () => {
  it('certify consecutive checkpoints; a late node catches up to the same certificates and snapshots', { timeout: 400_000 }, async () => {
    const first = await blockNumber(f)
    const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: first, interval: 4 })
    const n0 = await startNode(configs[0]!)
    nodes.push(n0)
    const boot = n0.network.multiaddrs().map(String)
    for (const i of [1, 2]) {
      configs[i]!.p2p.bootstrap = boot
      nodes.push(await startNode(configs[i]!))
    }
    fx.mine({ seed: 900, traders: 12, steps: 30 })
    // 3 of 4 operators are enough for the threshold (3)
    await until('two certified checkpoints on the first three nodes', () => nodes.every((n) => n.certificates.list().length >= 2), 240_000)
    const before = certified(n0)
    configs[3]!.p2p.bootstrap = boot
    configs[3]!.http.admin = true
    const late = await startNode(configs[3]!)
    nodes.push(late)
    await until('catch-up on the late node', () => [...before.keys()].every((b) => certified(late).has(b)), 180_000)
    for (const [b, cid] of before) expect(certified(late).get(b)).toBe(cid)
    expect(late.counters.catchupCertificates).toBeGreaterThan(0)
    // the late node holds the certified snapshots it caught up on (fetched over bitswap behind the certificates), and they verify
    const s = late.certificates.get(BigInt([...before.keys()][0]!))!
    const whole = async (): Promise<Snapshot<unknown, unknown>> => {
      const snap = await Snapshot.open(late.store, s.certificate.body.snapshotCid, derivativesSchemaV3)
      await snap.verify()
      return snap as Snapshot<unknown, unknown>
    }
    await until('the caught-up snapshot whole on the late node', () => whole().catch(() => undefined), 60_000)
    await whole()
    // then the late node attests too: a certificate carrying its signature, identical (same CID) on every node
    await until('a certificate signed by the late node, identical on every node', () => {
      const mine = late.certificates.list().filter((c) => c.certificate.signatures.some((x) => x.signer === late.operator))
      return mine.some((m) => nodes.every((n) => n.certificates.get(m.certificate.body.blockNumber)?.cid.toString() === m.cid.toString()))
    }, 120_000)
    for (const n of nodes) {
      expect(n.fatal).toBeUndefined()
      expect(n.divergences).toEqual([])
      expect(n.evidence).toEqual([])
    }
    // the HTTP API: the latest certificate is self-describing, and the gateway serves certificate + snapshot as one CAR
    const api = late.httpUrl!
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const latest = (await (await fetch(`${api}/v1/checkpoints/latest`)).json()) as { certificateCid: string; snapshotCid: string; block: string; certificate: { domain: unknown; primaryType: string; signatures: unknown[] } }
    expect(latest.certificate.primaryType).toBe('Attestation')
    expect(latest.certificate.signatures.length).toBeGreaterThanOrEqual(3)
    const res = await fetch(`${api}/ipfs/${latest.certificateCid}?format=car`, { headers: { accept: 'application/vnd.ipld.car' } })
    expect(res.status).toBe(200)
    const car = readCar(new Uint8Array(await res.arrayBuffer()))
    expect(car.roots[0]!.toString()).toBe(latest.certificateCid)
    const fromGateway = await Snapshot.open(car.store, CID.parse(latest.snapshotCid), derivativesSchemaV3)
    await fromGateway.verify()
    const metrics = await (await fetch(`${api}/metrics`)).text()
    expect(metrics).toMatch(/ark_gossip_messages_total\{kind="attestation",action="accept",code="OK"\} [1-9]/)
    expect(metrics).toMatch(/ark_node_events_total\{event="catchupCertificates"\} [1-9]/)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    // the proof index kept beside the snapshot (issue 17) answers one account's proof: the library's proof
    let someKey: Uint8Array | undefined
    for await (const e of fromGateway.rawEntries()) {
      someKey = e.key
      break
    }
    if (someKey !== undefined) {
      const pr = await fetch(`${api}/v1/checkpoints/${latest.block}/proof/${bytesToHex(someKey)}`)
      expect(pr.status).toBe(200)
      expect(((await pr.json()) as { proof: string[] }).proof).toEqual((await proveAccount(fromGateway as Snapshot<unknown, unknown>, someKey)).proof)
      await until('the proof index file of the latest snapshot', () => stat(join(configs[3]!.dataDir, 'proof-index', `${latest.snapshotCid}.pidx`)).catch(() => undefined), 60_000)
    }
    // admin: snapshot a block now, only with the bearer token (generated 0600 on first run)
    const token = (await readFile(join(configs[3]!.dataDir, 'admin.token'), 'utf8')).trim()
    expect((await fetch(`${api}/v1/admin/snapshot`, { method: 'POST' })).status).toBe(401)
    const adminRes = await fetch(`${api}/v1/admin/snapshot`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ block: latest.block }) })
    expect(adminRes.status).toBe(200)
    const adminBody = JSON.stringify(await adminRes.json())
    expect(adminBody).toContain(latest.snapshotCid)
    // `ark fetch` from untrusted gateways: a tampering gateway first (dropped), then the honest node
    const tamper = createServer((req, res) => {
      const relay = async (): Promise<void> => {
        const up = await fetch(`${api}${req.url}`, { headers: { accept: String(req.headers.accept ?? '') } })
        const body = Buffer.from(await up.arrayBuffer())
        if (String(req.url).includes('format=car')) body[body.length - 40] = body[body.length - 40]! ^ 0xff
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' }).end(body)
      }
      relay().catch((err: unknown) => res.destroy(err as Error))
    })
    await new Promise<void>((r) => tamper.listen(0, '127.0.0.1', r))
    const tamperUrl = `http://127.0.0.1:${(tamper.address() as AddressInfo).port}`
    const outDir = join(dir, 'fetched')
    const fetched = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'fetch', '--chain', '31337', '--adapter', 'perp-reference', '--block', `before:${BigInt(latest.block) + 1n}`, '--trust', join(dir, 'operators.json'), '--gateway', tamperUrl, '--gateway', api, '--out', outDir, '--json'])
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    })
    tamper.close()
    expect(fetched.code, fetched.stderr).toBe(0)
    const summary = JSON.parse(fetched.stdout) as { block: string; snapshot: string; source: string; accounts: number }
    expect(summary.block).toBe(latest.block)
    expect(summary.snapshot).toBe(latest.snapshotCid)
    expect(summary.source).toBe(api)
    expect((await readdir(outDir)).sort()).toEqual(['accounts.jsonl', 'certificate.json', 'markets.json', 'merkle-leaves.bin', 'snapshot.car', 'summary.json'])
    expect((await readFile(join(outDir, 'accounts.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(summary.accounts)
    // a trust root that does not hold the signers: refused, nothing written
    await writeFile(join(dir, 'other-ops.json'), JSON.stringify({ operators: [{ address: `0x${'12'.repeat(20)}`, weight: 1 }] }))
    const refused = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'fetch', '--chain', '31337', '--adapter', 'perp-reference', '--block', 'latest', '--trust', join(dir, 'other-ops.json'), '--gateway', api, '--out', join(dir, 'nope')])
      let stderr = ''
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      p.on('exit', (code) => resolve({ code: code ?? 1, stderr }))
    })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/not in the operator set/)
    expect((await readdir(dir)).filter((n) => n.includes('nope'))).toEqual([])
    // nodes converge on one certificate per checkpoint (the union of the signatures each has seen): every
    // block two nodes both certified ends with one certificate CID. Two nodes may hold different 3-of-4
    // certificates for a moment (same count, other signers) until each merges the other's: wait for it on
    // every block but the newest two, which may still be merging while the chain moves on.
    const settled = [...certified(nodes[0]!).keys()].map(BigInt).sort((a, b) => (a < b ? -1 : 1)).slice(0, -2)
    expect(settled.length).toBeGreaterThan(0)
    const agree = (): boolean => settled.every((b) => new Set(nodes.map((n) => n.certificates.get(b)?.cid.toString()).filter((c) => c !== undefined)).size <= 1)
    await until('one certificate per checkpoint on every node', agree, 60_000)
  })
})
