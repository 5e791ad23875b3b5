/**
 * readCarFile (node/cli/open-car.ts) streams a CAR file instead of one readFile (Node refuses a
 * single read over 2 GiB): the same roots and blocks as readCar at any chunk size (sections split
 * across chunks), and the same refusals: a truncated file, a flipped byte, a directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readCarFile } from '../../node/cli/open-car.ts'
import { readCar, writeCar } from '../../snapshot/car/car.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'

const OPTS = { accounts: 400, seed: 'ark-open-car' }
let dir: string
let car: Buffer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-open-car-'))
  const store = new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(OPTS), markets: synthMarkets(OPTS), records: synthRecords(OPTS), store })
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
  car = Buffer.concat(chunks)
  await writeFile(join(dir, 'ok.car'), car)
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('readCarFile', () => {
  it('reads the same roots and blocks as readCar, whatever the chunk size', async () => {
    const whole = readCar(new Uint8Array(car))
    for (const chunk of [7, 1000, 65536, 4 << 20]) {
      const got = await readCarFile(join(dir, 'ok.car'), 'CAR', chunk)
      expect(got.roots.map(String)).toEqual(whole.roots.map(String))
      expect(got.blocks).toBe(whole.blocks)
      expect(got.bytes).toBe(whole.bytes)
      for (const [k, v] of whole.store.blocks) expect(Buffer.compare(got.store.blocks.get(k)!, v), k).toBe(0)
    }
  })

  it('refuses a truncated file, a flipped byte and a directory, like readCar', async () => {
    await writeFile(join(dir, 'short.car'), car.subarray(0, car.length - 5))
    await expect(readCarFile(join(dir, 'short.car'), 'CAR', 1000)).rejects.toMatchObject({ code: 'MALFORMED_CAR', message: expect.stringContaining('truncated') })
    const flipped = Buffer.from(car)
    flipped[flipped.length - 3]! ^= 0x01
    await writeFile(join(dir, 'flipped.car'), flipped)
    await expect(readCarFile(join(dir, 'flipped.car'), 'CAR', 1000)).rejects.toMatchObject({ code: 'BLOCK_HASH_MISMATCH' })
    await expect(readCarFile(dir)).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining('is not a file') })
    await expect(readCarFile(join(dir, 'absent.car'))).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining('ENOENT') })
  })
})
