import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { CarContents } from '../../snapshot/car/car.ts'
import { CarStreamReader } from '../../snapshot/car/stream.ts'
import { checkBlock } from '../../snapshot/codec/block.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { schemaFor } from '../adapters/load.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * Read a CAR file as a stream (4 MiB chunks; one readFile of a file over
 * 2 GiB fails in Node, and a 10M-account snapshot is larger), every block
 * hash-checked on the way in; the same checks and errors as readCar.
 */
export async function readCarFile(path: string, what = 'snapshot .car file', chunkBytes = 4 << 20): Promise<CarContents> {
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new ArkError('IO', `${path} is not a file; pass the path of a ${what}`)
  } catch (cause) {
    if (cause instanceof ArkError) throw cause
    throw new ArkError('IO', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check the path`, { cause })
  }
  const store = new MemoryBlockStore()
  const reader = new CarStreamReader({ source: 'file' })
  let blocks = 0
  let bytes = 0
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes })) {
      const b = chunk as Buffer
      // CID bytes are plain Uint8Array views (as CID.decodeFirst makes them), not Buffers
      for (const { cid, bytes: body } of reader.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))) {
        checkBlock(cid, body)
        store.put({ cid, bytes: body })
        blocks++
        bytes += body.length
      }
    }
  } catch (cause) {
    if (cause instanceof ArkError) throw cause
    throw new ArkError('IO', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check the path`, { cause })
  }
  reader.end()
  return { roots: reader.roots!, store, blocks, bytes }
}

/** Load a snapshot CAR: every block hash-checked on the way in. */
export async function openCar(path: string): Promise<Snapshot<unknown, unknown>> {
  const car = await readCarFile(path)
  const rootCid = car.roots[0]!
  const root = decodeRoot(rootCid, car.store.get(rootCid))
  // blocks were checked on import; no need to hash them again on every read
  return Snapshot.open(car.store, rootCid, await schemaFor(root.schema.id, root.schema.version, { writtenBy: root.adapter }), { verifyBlocks: false })
}
