/**
 * The one DAG walker (snapshot/dag/walk.ts) and the one CAR framer
 * (snapshot/car/car.ts): orders, read-ahead, skip, missing blocks, bounds,
 * abort; CAR bytes identical to @ipld/car's writer.
 */
import { describe, expect, it } from 'vitest'
import { CarWriter } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import { carHeader, carSection, frameCar, writeCar } from '../../snapshot/car/car.ts'
import { DagBlockMissingError, DagTooLargeError, missingRoots, walkDag, walkDagSync } from '../../snapshot/dag/walk.ts'
import { MalformedBlockError } from '../../snapshot/errors.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { certifiedSnapshot } from '../support/recovery-server.ts'

const c = await certifiedSnapshot({ accounts: 1500, seed: 'dag-walk' })
const order: CID[] = []
for await (const cid of c.snapshot.blockCids()) order.push(cid)
const read = (store: MemoryBlockStore) => (cid: CID): Uint8Array | undefined => (store.has(cid) ? store.get(cid) : undefined)

async function collect(it: AsyncIterable<{ cid: CID }>): Promise<string[]> {
  const out: string[] = []
  for await (const b of it) out.push(b.cid.toString())
  return out
}

describe('walkDag', () => {
  it('depth-first is the CAR order of the snapshot (links in encoding order), each block once, with any read-ahead', async () => {
    for (const concurrency of [1, 4, 64]) expect(await collect(walkDag(c.snapshot.cid, read(c.store), { concurrency }))).toEqual(order.map(String))
    expect([...walkDagSync(c.snapshot.cid, read(c.store))].map((b) => b.cid.toString())).toEqual(order.map(String))
  })

  it('level order visits the same blocks, root first, reads overlapping', async () => {
    let inFlight = 0
    let peak = 0
    const slow = async (cid: CID): Promise<Uint8Array | undefined> => {
      peak = Math.max(peak, ++inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      return read(c.store)(cid)
    }
    const got = await collect(walkDag(c.snapshot.cid, slow, { order: 'level', concurrency: 16 }))
    expect(got[0]).toBe(c.snapshot.cid.toString())
    expect([...got].sort()).toEqual(order.map(String).sort())
    expect(peak).toBeGreaterThan(1)
    expect(peak).toBeLessThanOrEqual(16)
  })

  it('missing blocks: an error by default, reported and not descended with onMissing; missingRoots finds the subtrees to fetch', async () => {
    const partial = new MemoryBlockStore()
    for (const [k, v] of c.store.blocks) partial.blocks.set(k, v)
    const gone = order[order.length - 1]!
    partial.blocks.delete(gone.toString())
    await expect(collect(walkDag(c.snapshot.cid, read(partial)))).rejects.toBeInstanceOf(DagBlockMissingError)
    await expect(collect(walkDag(c.snapshot.cid, read(partial), { order: 'level' }))).rejects.toBeInstanceOf(DagBlockMissingError)
    const missing: string[] = []
    await collect(walkDag(c.snapshot.cid, read(partial), { onMissing: (cid) => missing.push(cid.toString()) }))
    expect(missing).toEqual([gone.toString()])
    expect(missingRoots(partial, c.snapshot.cid).map(String)).toEqual([gone.toString()])
    expect(missingRoots(c.store, c.snapshot.cid)).toEqual([])
  })

  it('skip, maxBlocks, abort and malformed blocks', async () => {
    const skipped = order[1]!
    const got = await collect(walkDag(c.snapshot.cid, read(c.store), { skip: (cid) => cid.equals(skipped) }))
    expect(got).not.toContain(skipped.toString())
    await expect(collect(walkDag(c.snapshot.cid, read(c.store), { maxBlocks: 10 }))).rejects.toBeInstanceOf(DagTooLargeError)
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await expect(collect(walkDag(c.snapshot.cid, read(c.store), { signal: ac.signal }))).rejects.toThrow('stop')
    const bad = (cid: CID): Uint8Array | undefined => (cid.equals(c.snapshot.cid) ? Uint8Array.of(0xa1) : undefined)
    await expect(collect(walkDag(c.snapshot.cid, bad))).rejects.toBeInstanceOf(MalformedBlockError)
  })
})

describe('the one CAR framer', () => {
  it('writes the bytes @ipld/car writes for the same blocks, however it chunks', async () => {
    const { writer, out } = CarWriter.create([c.snapshot.cid])
    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for await (const ch of out) chunks.push(ch)
    })()
    for (const cid of order) await writer.put({ cid, bytes: c.store.get(cid) })
    await writer.close()
    await reading
    const reference = Buffer.concat(chunks)
    const ours: Uint8Array[] = []
    for await (const ch of writeCar([c.snapshot.cid], order, c.store)) ours.push(ch)
    expect(Buffer.compare(Buffer.concat(ours), reference)).toBe(0)
    const small: Uint8Array[] = []
    for await (const ch of frameCar([c.snapshot.cid], order.map((cid) => ({ cid, bytes: c.store.get(cid) })), 1000)) small.push(ch)
    expect(small.length).toBeGreaterThan(ours.length)
    expect(Buffer.compare(Buffer.concat(small), reference)).toBe(0)
    const parts = [carHeader([c.snapshot.cid]), ...order.flatMap((cid) => carSection(cid, c.store.get(cid)))]
    expect(Buffer.compare(Buffer.concat(parts), reference)).toBe(0)
  })
})
