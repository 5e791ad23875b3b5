import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkload } from '../../node/devnet/workload.ts'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { CID } from 'multiformats/cid'
import { readCar } from '../../snapshot/car/car.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { startNode, until, writeClusterConfigs } from '../support/archive-cluster.ts'

let f: ChainFixture
let dir: string
const nodes: ArchiveNode[] = []
let mining: Promise<void> | undefined
const stopMining = new AbortController()

/** Keep the chain moving: workload rounds (each mines a few blocks). */
async function keepMining(): Promise<void> {
  for (let round = 0; !stopMining.signal.aborted; round++) {
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 900 + round, traders: 12, steps: 30, signal: stopMining.signal }).catch(() => {})
    await new Promise((r) => setTimeout(r, 150))
  }
}

function certified(n: ArchiveNode): Map<string, string> {
  return new Map(n.certificates.list().map((s) => [s.certificate.body.blockNumber.toString(), s.cid.toString()]))
}

beforeAll(async () => {
  f = await startChain()
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 3, traders: 12, steps: 60 })
  dir = await mkdtemp(join(tmpdir(), 'ark-cluster-'))
}, 120_000)

afterAll(async () => {
  stopMining.abort()
  await mining
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  await f?.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('archive nodes on loopback TCP with a real chain', () => {
  it('certify consecutive checkpoints; a late node catches up to the same certificates and snapshots', async () => {
    const first = await blockNumber(f)
    const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: first, interval: 4 })
    const n0 = await startNode(configs[0]!)
    nodes.push(n0)
    const boot = n0.network.multiaddrs().map(String)
    for (const i of [1, 2]) {
      configs[i]!.p2p.bootstrap = boot
      nodes.push(await startNode(configs[i]!))
    }
    mining = keepMining()
    // 3 of 4 operators are enough for the threshold (3)
    await until('two certified checkpoints on the first three nodes', () => nodes.every((n) => n.certificates.list().length >= 2), 90_000)
    const before = certified(n0)
    configs[3]!.p2p.bootstrap = boot
    const late = await startNode(configs[3]!)
    nodes.push(late)
    await until('catch-up on the late node', () => [...before.keys()].every((b) => certified(late).has(b)), 60_000)
    for (const [b, cid] of before) expect(certified(late).get(b)).toBe(cid)
    expect(late.counters.catchupCertificates).toBeGreaterThan(0)
    // the late node holds the certified snapshots it caught up on, and they verify
    const s = late.certificates.get(BigInt([...before.keys()][0]!))!
    const snap = await Snapshot.open(late.store, s.certificate.body.snapshotCid, derivativesSchema)
    await snap.verify()
    // then all four attest: later checkpoints carry 4 signatures and every node holds the same certificate
    await until('a 4-signature certificate on every node', () => {
      const withFour = late.certificates.list().filter((c) => c.certificate.signatures.length === 4)
      const last = withFour.at(-1)
      return last !== undefined && nodes.every((n) => n.certificates.get(last.certificate.body.blockNumber)?.cid.toString() === last.cid.toString())
    }, 90_000)
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
    const fromGateway = await Snapshot.open(car.store, CID.parse(latest.snapshotCid), derivativesSchema)
    await fromGateway.verify()
    const metrics = await (await fetch(`${api}/metrics`)).text()
    expect(metrics).toMatch(/ark_gossip_messages_total\{kind="attestation",action="accept",code="OK"\} [1-9]/)
    expect(metrics).toMatch(/ark_node_events_total\{event="catchupCertificates"\} [1-9]/)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    // same certificates for every block any two nodes both certified
    const ref = certified(nodes[0]!)
    for (const n of nodes.slice(1)) for (const [b, cid] of certified(n)) if (ref.has(b) && n.certificates.get(BigInt(b))!.certificate.signatures.length === nodes[0]!.certificates.get(BigInt(b))!.certificate.signatures.length) expect(cid).toBe(ref.get(b))
  })
})
