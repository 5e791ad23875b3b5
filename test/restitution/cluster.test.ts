/**
 * Restitution tables certified by a real 4-node cluster (anvil + the reference venue, libp2p on
 * loopback, Helia on disk): two certified checkpoints, an exclusion list; operators 0 and 1 start
 * the run in-process, operator 2 through the admin HTTP route (bearer token), operator 3 with a
 * different exclusion list. The three agreeing operators reach the threshold (3 of 4): a kind-2
 * certificate forms, identical on every node; operator 3's content gets no certificate and no
 * evidence. A recovery desk fetches the table from one node's gateway, verifies it against the
 * operator set, and it equals a table recomputed locally from the two certified snapshots.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ArchiveNode } from '../../node/archive/node.ts'
import type { Io } from '../../node/cli/command.ts'
import { main } from '../../node/cli/main.ts'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { fetchRestitution } from '../../node/recovery/restitution.ts'
import { fileTrust } from '../../node/recovery/trust.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { buildRestitution } from '../../snapshot/restitution/build.ts'
import { exclusionsFrom } from '../../snapshot/restitution/exclusions.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { blockNumber } from '../support/chain.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture
let nodes: ArchiveNode[]

beforeAll(async () => {
  fx = await archiveFixture({ name: 'restitution', seed: 13, traders: 8, steps: 40 })
  nodes = fx.nodes
}, 180_000)

afterAll(async () => {
  await fx?.stop()
})

async function ark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), pipe: async () => {}, tty: false }
  const code = await main(args, io)
  return { code, stdout, stderr }
}

const scheduled = (n: ArchiveNode): bigint[] => n.certificates.list().filter((s) => s.certificate.body.kind === 0).map((s) => s.certificate.body.blockNumber)

describe('restitution tables certified by the quorum', () => {
  it('three operators with one exclusion list certify a table; the fourth list gets nothing; the desk fetches and verifies it', { timeout: 420_000 }, async () => {
    const configs = await writeClusterConfigs(fx.dir, fx.chain, 4, { firstBlock: await blockNumber(fx.chain), interval: 4 })
    configs[2]!.http.admin = true
    for (const c of configs) await fx.start(c)
    fx.mine({ seed: 1300, traders: 8, steps: 20, sameTraders: true })
    const common = await until('two checkpoints certified on every node', () => {
      const sets = nodes.map((n) => new Set(scheduled(n)))
      const both = scheduled(nodes[0]!).filter((b) => sets.every((s) => s.has(b)))
      return both.length >= 3 ? both : undefined
    }, 300_000)
    const [b1, b2] = [common[0]!, common.at(-1)!]
    const open = async (n: ArchiveNode, b: bigint) => {
      const cid = n.certificates.get(b)!.certificate.body.snapshotCid
      const root = decodeRoot(cid, await n.store.get(cid))
      return Snapshot.open(n.store, cid, schemaById(root.schema.id, root.schema.version))
    }
    // an account that held collateral before: the "attacker"
    let attacker = ''
    for await (const e of (await open(nodes[0]!, b1)).rawEntries()) {
      attacker = bytesToHex(e.key)
      break
    }
    const exclude = [attacker, '0x000000000000000000000000000000000000dead']
    const req = { before: b1, after: b2, exclude }
    // every node must hold both certified snapshots in full before it can compute; retry until then
    const run = (n: ArchiveNode, r: typeof req) => until(`restitution on ${n.operator}`, () => n.restitution(r).catch(() => undefined), 60_000)
    const r0 = await run(nodes[0]!, req)
    const r1 = await run(nodes[1]!, { ...req, exclude: [...exclude].reverse() }) // order does not matter
    expect(r1.restitution).toBe(r0.restitution)
    const token = (await readFile(join(configs[2]!.dataDir, 'admin.token'), 'utf8')).trim()
    const post = (body: unknown, auth = `Bearer ${token}`) => fetch(`${nodes[2]!.httpUrl}/v1/admin/restitution`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body) })
    expect((await post({ before: b1.toString(), after: b2.toString(), exclude }, 'Bearer wrong')).status).toBe(401)
    expect((await post({ before: '1', after: b2.toString(), exclude })).status).toBe(400) // no certified snapshot at block 1
    // operator 2 runs `ark node restitution` against its running node (the exclusion file one address a line)
    const cfgFile = join(fx.dir, 'node2.json')
    const d = fx.chain.deployment
    await writeFile(cfgFile, JSON.stringify({ dataDir: configs[2]!.dataDir, chain: { chainId: 31337, rpc: [fx.chain.anvil.rpcUrl] }, adapter: { id: 'perp-reference', config: { exchange: d.exchange, options: d.options, startBlock: Number(d.deployBlock) } }, checkpoint: { interval: 4 }, operators: { file: join(fx.dir, 'operators.json') }, key: { devPrivateKeyFile: join(configs[2]!.dataDir, 'dev.key') }, http: { port: 0, admin: true } }))
    const exFile = join(fx.dir, 'exclude.txt')
    await writeFile(exFile, `# attackers\n${exclude.join('\n')}\n`)
    let last = ''
    const r2 = await until('restitution over the admin route', async () => {
      const r = await ark(['node', 'restitution', '--config', cfgFile, '--url', nodes[2]!.httpUrl!, '--before', b1.toString(), '--after', b2.toString(), '--exclude', exFile, '--json'])
      last = r.stderr
      return r.code === 0 ? (JSON.parse(r.stdout) as { restitution: string }) : undefined
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${last}`)
    })
    expect(r2.restitution).toBe(r0.restitution)
    const r3 = await run(nodes[3]!, { ...req, exclude: [] })
    expect(r3.restitution).not.toBe(r0.restitution)

    const cert = await until('a kind-2 certificate, identical on every node', () => {
      const held = nodes.map((n) => n.certificates.get(b2, 2))
      return held.every((h) => h !== undefined && h.cid.equals(held[0]!.cid) && h.certificate.signatures.length === 3) ? held[0] : undefined
    }, 120_000)
    expect(cert.certificate.body.snapshotCid.toString()).toBe(r0.restitution)
    expect(cert.certificate.body.stateRoot).toBe(r0.root)
    expect(cert.certificate.signatures.map((s) => s.signer)).not.toContain(nodes[3]!.operator)
    for (const n of nodes) {
      expect(n.certificates.list().some((s) => s.certificate.body.snapshotCid.toString() === r3.restitution)).toBe(false)
      expect(n.evidence).toEqual([])
      expect(n.divergences).toEqual([])
      expect(n.fatal).toBeUndefined()
    }
    // the HTTP listing names it
    const listing = (await (await fetch(`${nodes[1]!.httpUrl}/v1/checkpoints?from=${b2}&to=${b2}`)).json()) as { checkpoints?: { kind: string; certificateCid: string }[] } | { kind: string; certificateCid: string }[]
    const items = Array.isArray(listing) ? listing : (listing.checkpoints ?? [])
    expect(items.find((c) => c.kind === 'restitution')?.certificateCid).toBe(cert.cid.toString())

    // the desk: fetch from a gateway, verify against the operator set, compare with a local recomputation
    const staging = join(fx.dir, 'desk-staging')
    const fetched = await fetchRestitution({ gateways: [nodes[1]!.httpUrl!], source: (u) => gatewaySource(u), certificate: cert.cid, trust: await fileTrust(join(fx.dir, 'operators.json')), staging })
    expect(fetched.table.cid.toString()).toBe(r0.restitution)
    expect(fetched.weight).toBe(3n)
    expect(fetched.table.root.exclusions.hash).toBe(exclusionsFrom(exclude).hash)
    const local = await buildRestitution({ before: await open(nodes[0]!, b1), after: await open(nodes[0]!, b2), exclusions: exclusionsFrom(exclude), store: new MemoryBlockStore() })
    expect(local.cid.toString()).toBe(r0.restitution)
    const rows = []
    for await (const e of fetched.table.leaves()) rows.push(e)
    expect(rows.length).toBe(local.leaves.length)
    expect(rows.some((e) => bytesToHex(e.account) === attacker)).toBe(false)
    await fetched.staging.remove()
    await rm(staging, { recursive: true, force: true })

    // the same through the CLI, by after block: fetch to a directory (node 3 may still be fetching the certified table over
    // bitswap: then its gateway is dropped and node 0 delivers), then verify it offline
    const out = join(fx.dir, 'desk')
    const trust = ['--trust', join(fx.dir, 'operators.json')]
    const got = await ark(['restitution', '--block', b2.toString(), '--gateway', nodes[3]!.httpUrl!, '--gateway', nodes[0]!.httpUrl!, ...trust, '--out', out, '--json'])
    expect(got.code, got.stderr).toBe(0)
    expect(JSON.parse(got.stdout)).toMatchObject({ restitution: r0.restitution, certificate: cert.cid.toString() })
    expect((await readFile(join(out, 'rows.jsonl'), 'utf8')).trim().split('\n').filter((l) => l !== '')).toHaveLength(local.leaves.length)
    const ok = await ark(['restitution', '--verify', out, ...trust])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^OK: restitution /)
  })
})
