import { readFile, stat } from 'node:fs/promises'
import { readCar } from '../../snapshot/car/car.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { schemaFor } from '../adapters/load.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/** Load a snapshot CAR: every block hash-checked on the way in. */
export async function openCar(path: string): Promise<Snapshot<unknown, unknown>> {
  let bytes: Uint8Array
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new ArkError('IO', `${path} is not a file; pass the path of a snapshot .car file`)
    bytes = await readFile(path)
  } catch (cause) {
    if (cause instanceof ArkError) throw cause
    throw new ArkError('IO', `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check the path`, { cause })
  }
  const car = readCar(bytes)
  const rootCid = car.roots[0]!
  const root = decodeRoot(rootCid, car.store.get(rootCid))
  // blocks were checked on import; no need to hash them again on every read
  return Snapshot.open(car.store, rootCid, await schemaFor(root.schema.id, root.schema.version, { writtenBy: root.adapter }), { verifyBlocks: false })
}
