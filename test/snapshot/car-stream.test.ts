import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { readCar, writeCar } from '../../snapshot/car/car.ts'
import { CarStreamReader } from '../../snapshot/car/stream.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { blockLinks } from '../../snapshot/codec/links.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'

async function snapshotCar(accounts: number): Promise<{ car: Uint8Array; store: MemoryBlockStore; root: CID }> {
  const opts = { accounts, seed: 'car-stream' }
  const store = new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store })
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
  return { car: Buffer.concat(chunks), store, root: snapshot.cid }
}

/** Every CID in a decoded dag-cbor value, in encoding order (the reference for blockLinks). */
function decodedLinks(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value)
  if (cid !== null) out.push(cid)
  else if (Array.isArray(value)) for (const v of value) decodedLinks(v, out)
  else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) for (const k of Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? -1 : 1))) decodedLinks((value as Record<string, unknown>)[k], out)
  return out
}

describe('CarStreamReader', () => {
  it('yields the blocks readCar reads, however the stream is split into chunks', async () => {
    const { car } = await snapshotCar(300)
    const whole = readCar(car)
    await fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: car.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y)
        const reader = new CarStreamReader()
        const got: string[] = []
        let prev = 0
        for (const p of [...points, car.length]) {
          for (const b of reader.push(car.slice(prev, p))) {
            expect(Buffer.compare(b.bytes, whole.store.get(b.cid))).toBe(0)
            got.push(b.cid.toString())
          }
          prev = p
        }
        reader.end()
        expect(got).toEqual([...whole.store.blocks.keys()])
        expect(reader.roots!.map(String)).toEqual(whole.roots.map(String))
        expect(reader.offset).toBe(car.length)
      }),
      { numRuns: 60 },
    )
  })

  it('reports a stream cut inside a section, and refuses oversized or empty sections', async () => {
    const { car } = await snapshotCar(50)
    const reader = new CarStreamReader()
    reader.push(car.subarray(0, car.length - 3))
    expect(reader.buffered).toBeGreaterThan(0)
    expect(() => reader.end()).toThrow(/cut short/)
    expect(() => new CarStreamReader().end()).toThrow(/before its header/)
    expect(() => new CarStreamReader().push(Uint8Array.of(0xff, 0xff, 0xff, 0x7f))).toThrow(/over the/)
    const header = car.subarray(0, 1 + car[0]!)
    expect(() => new CarStreamReader().push(Buffer.concat([header, Uint8Array.of(0)]))).toThrow(/empty section/)
    expect(() => new CarStreamReader().push(Buffer.concat([Uint8Array.of(3), dagCbor.encode({ version: 2 }).subarray(0, 3)]))).toThrow(/CAR/)
  })
})

describe('blockLinks', () => {
  it('finds the links of every snapshot block, in encoding order, as dag-cbor decoding does', async () => {
    const { store } = await snapshotCar(2000)
    let linked = 0
    for (const [key, bytes] of store.blocks) {
      const cid = CID.parse(key)
      const got = blockLinks(cid, bytes).map(String)
      expect(got).toEqual(decodedLinks(dagCbor.decode(bytes)).map(String))
      linked += got.length
    }
    expect(linked).toBe(store.size - 1)
  })

  it('matches decoding on arbitrary dag-cbor values with links, and rejects trailing bytes', () => {
    const cids = [encodeBlock({ a: 1 }).cid, CID.parse('bafkqaaa'), CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')]
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...cids), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 4 })),
    })).v
    fc.assert(
      fc.property(value, (v) => {
        const block = encodeBlock(v)
        expect(blockLinks(block.cid, block.bytes).map(String)).toEqual(decodedLinks(v).map(String))
      }),
      { numRuns: 200 },
    )
    const block = encodeBlock([cids[0]])
    expect(() => blockLinks(block.cid, Buffer.concat([block.bytes, Uint8Array.of(0)]))).toThrow(/after its CBOR item/)
    expect(() => blockLinks(block.cid, block.bytes.subarray(0, block.bytes.length - 2))).toThrow(/truncated/)
  })
})
