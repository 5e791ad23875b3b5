import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readCar } from '../../snapshot/car/car.ts'
import { Staging, stagingPathFor } from '../../node/recovery/staging.ts'
import { missingRoots } from '../../node/recovery/walk.ts'
import { certifiedSnapshot, snapshotBlocks, type Certified } from '../support/recovery-server.ts'

let dir: string
let a: Certified
let b: Certified

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-staging-'))
  a = await certifiedSnapshot({ accounts: 400, seed: 'staging-a' })
  b = await certifiedSnapshot({ accounts: 300, seed: 'staging-b' })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('fetch staging dir', () => {
  it('is a hidden sibling of DIR', () => {
    expect(stagingPathFor('/data/snap')).toBe('/data/.snap.partial')
  })

  it('keeps what was put across runs, cutting off a half-written last block, and knows what is missing', async () => {
    const path = join(dir, 'one')
    const blocks = await snapshotBlocks(a)
    const first = await Staging.open(path, a.certificateBlock.bytes)
    expect(first.resumed.blocks).toBe(0)
    expect(missingRoots(first.staging, a.snapshot.cid).map(String)).toEqual([a.snapshot.cid.toString()])
    const half = Math.floor(blocks.length / 2)
    for (const blk of blocks.slice(0, half)) first.staging.put(blk)
    first.staging.put(blocks[0]!) // again: ignored
    await first.staging.close()
    expect(first.staging.added.blocks).toBe(half)
    // killed mid-write: a partial section at the end
    const car = join(path, 'blocks.car')
    await appendFile(car, Uint8Array.of(0x90, 0x03, 0x01, 0x71))
    const second = await Staging.open(path, a.certificateBlock.bytes)
    expect(second.discarded).toBeUndefined()
    expect(second.resumed.blocks).toBe(half)
    expect(second.staging.size).toBe(half)
    const missing = missingRoots(second.staging, a.snapshot.cid)
    expect(missing.length).toBeGreaterThan(0)
    for (const m of missing) expect(second.staging.has(m)).toBe(false)
    for (const blk of blocks.slice(half)) second.staging.put(blk)
    expect(missingRoots(second.staging, a.snapshot.cid)).toEqual([])
    await second.staging.close()
    const all = readCar(await readFile(car))
    expect(all.blocks).toBe(blocks.length)
    expect(all.roots[0]!.toString()).toBe(a.snapshot.cid.toString())
    await second.staging.remove()
    await expect(stat(path)).rejects.toThrow()
  })

  it('starts over, saying why, for another snapshot or a damaged file', async () => {
    const path = join(dir, 'two')
    const blocks = await snapshotBlocks(a)
    const first = await Staging.open(path, a.certificateBlock.bytes)
    for (const blk of blocks.slice(0, 20)) first.staging.put(blk)
    await first.staging.close()
    const other = await Staging.open(path, b.certificateBlock.bytes)
    expect(other.discarded).toMatch(new RegExp(`held an interrupted fetch of snapshot ${a.snapshot.cid.toString()}.*starting over`))
    expect(other.resumed.blocks).toBe(0)
    await other.staging.close()
    // a block whose bytes changed on disk
    const car = join(path, 'blocks.car')
    const bBlocks = await snapshotBlocks(b)
    const again = await Staging.open(path, b.certificateBlock.bytes)
    for (const blk of bBlocks.slice(0, 5)) again.staging.put(blk)
    await again.staging.close()
    const bytes = await readFile(car)
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0xff
    await writeFile(car, bytes)
    const damaged = await Staging.open(path, b.certificateBlock.bytes)
    expect(damaged.discarded).toMatch(/damaged.*starting over/)
    expect(damaged.staging.size).toBe(0)
    await damaged.staging.close()
    // a blocks file cut inside its header: empty, not damaged
    await truncate(car, 3)
    const cut = await Staging.open(path, b.certificateBlock.bytes)
    expect(cut.discarded).toBeUndefined()
    expect(cut.resumed.blocks).toBe(0)
    await cut.staging.remove()
    expect((await readdir(dir)).includes('two')).toBe(false)
  })
})
