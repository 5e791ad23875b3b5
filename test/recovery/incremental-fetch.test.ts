/**
 * `ark fetch --from DIR` (issue 18): the next checkpoint after 1% of the
 * accounts changed is fetched reusing every block of an earlier fetch; only
 * the others are downloaded, and the output directory is byte-identical to
 * a full fetch's. An earlier directory that does not check out is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, readFile, rm, writeFile, cp, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyChanges } from '../../snapshot/state/build.ts'
import { synthChanges, synthMarkets, synthMeta } from '../../snapshot/synth/synth.ts'
import { addr, OP } from '../protocol/support.ts'
import { certifiedSnapshot, certifySnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import { errorOf, runArk } from '../support/recovery.ts'

let dir: string
let older: Certified
let newer: Certified
let node: ServingNode
/** bytes of the newer snapshot's blocks that the older one does not hold */
let newBytes = 0
let newBlocks = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-incremental-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
  const opts = { accounts: 2000, seed: 'incremental-fetch' }
  older = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 0) })
  const held = new Set<string>()
  for await (const cid of older.snapshot.blockCids()) held.add(cid.toString())
  const changed = await applyChanges(older.snapshot, synthChanges(opts, 0.01, 1) as never, { meta: synthMeta(opts, 1), markets: synthMarkets(opts) })
  newer = await certifySnapshot(changed.snapshot, older.store)
  for await (const cid of newer.snapshot.blockCids()) {
    if (held.has(cid.toString())) continue
    newBlocks++
    newBytes += older.store.get(cid).length
  }
  node = await startServingNode(join(dir, 'node'), [older, newer])
}, 120_000)

afterAll(async () => {
  await node?.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

const base = (block: Certified): string[] => ['fetch', '--chain', '31337', '--adapter', 'synth', '--trust', join(dir, 'operators.json'), '--stall-timeout', '10', '--block', block.checkpoint.block, '--json']

interface FetchJson {
  snapshot: string
  fetched: { blocks: number; bytes: number }
  reused: { blocks: number; bytes: number }
}

async function expectSameTree(a: string, b: string): Promise<void> {
  const names = (await readdir(a)).sort()
  expect((await readdir(b)).sort()).toEqual(names)
  for (const n of names) expect(Buffer.compare(await readFile(join(a, n)), await readFile(join(b, n))), n).toBe(0)
}

describe('ark fetch --from', () => {
  it('downloads only the blocks the earlier snapshot lacks; the output equals a full fetch byte for byte (gateway and peer)', { timeout: 120_000 }, async () => {
    const first = await runArk([...base(older), '--gateway', node.url, '--out', join(dir, 'older')])
    expect(first.code, first.stderr).toBe(0)
    const full = await runArk([...base(newer), '--gateway', node.url, '--out', join(dir, 'full')])
    expect(full.code, full.stderr).toBe(0)
    const inc = await runArk([...base(newer), '--gateway', node.url, '--out', join(dir, 'inc'), '--from', join(dir, 'older')])
    expect(inc.code, inc.stderr).toBe(0)
    const f = JSON.parse(full.stdout) as FetchJson
    const i = JSON.parse(inc.stdout) as FetchJson
    expect(i.snapshot).toBe(newer.snapshot.cid.toString())
    // exactly the new blocks were downloaded, every other one came from the earlier directory
    expect(i.fetched).toEqual({ blocks: newBlocks, bytes: newBytes })
    expect(i.fetched.bytes + i.reused.bytes).toBe(f.fetched.bytes)
    expect(i.fetched.bytes).toBeLessThan(f.fetched.bytes * 0.5)
    await expectSameTree(join(dir, 'full'), join(dir, 'inc'))

    // the same over bitswap (summary.json names the source, so compare with a full peer fetch)
    const fullPeer = await runArk([...base(newer), '--peer', node.multiaddr, '--out', join(dir, 'full-peer')])
    expect(fullPeer.code, fullPeer.stderr).toBe(0)
    const incPeer = await runArk([...base(newer), '--peer', node.multiaddr, '--out', join(dir, 'inc-peer'), '--from', join(dir, 'older')])
    expect(incPeer.code, incPeer.stderr).toBe(0)
    expect((JSON.parse(incPeer.stdout) as FetchJson).fetched).toEqual({ blocks: newBlocks, bytes: newBytes })
    await expectSameTree(join(dir, 'full-peer'), join(dir, 'inc-peer'))
  })

  it('refuses an earlier directory whose blocks do not hash-check, and writes nothing', { timeout: 60_000 }, async () => {
    const bad = join(dir, 'older-damaged')
    await cp(join(dir, 'older'), bad, { recursive: true })
    const car = await readFile(join(bad, 'snapshot.car'))
    car[car.length - 1] = car[car.length - 1]! ^ 0x01
    await writeFile(join(bad, 'snapshot.car'), car)
    const r = await runArk([...base(newer), '--gateway', node.url, '--out', join(dir, 'from-damaged'), '--from', bad])
    expect(r.code).not.toBe(0)
    expect(errorOf(r).message).toMatch(/hash|CID|match/i)
    await expect(stat(join(dir, 'from-damaged'))).rejects.toThrow()
  })

  it('refuses an earlier directory certified by signers the trust root does not know', { timeout: 60_000 }, async () => {
    const others = join(dir, 'others.json')
    await writeFile(others, JSON.stringify({ operators: OP.slice(0, 3).map((o) => ({ address: addr(o), weight: 1 })), threshold: 3 }))
    // the earlier directory is fine under `others`; under a trust root of one operator it is not
    const one = join(dir, 'one.json')
    await writeFile(one, JSON.stringify({ operators: [{ address: addr(OP[3]!), weight: 1 }] }))
    const r = await runArk(['fetch', '--chain', '31337', '--adapter', 'synth', '--trust', one, '--block', newer.checkpoint.block, '--json', '--gateway', node.url, '--out', join(dir, 'from-untrusted'), '--from', join(dir, 'older')])
    expect(r.code).not.toBe(0)
    expect(errorOf(r).message).toContain('--from')
    expect(errorOf(r).message).toContain('trust root')
    await expect(stat(join(dir, 'from-untrusted'))).rejects.toThrow()
  })
})
