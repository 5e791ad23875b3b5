import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ArkError } from '../../../snapshot/ark-error.ts'
import type { Snapshot } from '../../../snapshot/state/snapshot.ts'
import { openSnapshotDir, type SnapshotDir } from '../../recovery/snapshot-dir.ts'
import { openCar } from '../open-car.ts'

/**
 * A snapshot named on the command line: a directory `ark fetch` wrote (its
 * certificate cross-checked against snapshot.car) or a plain snapshot .car.
 * Every CAR block is hash-checked on the way in.
 */
export async function openSnapshotInput(path: string): Promise<{ snapshot: Snapshot<unknown, unknown>; dir: SnapshotDir | undefined }> {
  let isDir: boolean
  try {
    isDir = (await stat(path)).isDirectory()
  } catch (cause) {
    throw new ArkError('IO', `cannot open ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; pass a directory written by "ark fetch --out DIR" or a snapshot .car file`, { cause })
  }
  if (!isDir) return { snapshot: await openCar(path), dir: undefined }
  try {
    await stat(join(path, 'snapshot.car'))
  } catch (cause) {
    throw new ArkError('IO', `${path} has no snapshot.car; pass a directory written by "ark fetch --out DIR" (certificate.json, snapshot.car, …) or a snapshot .car file`, { cause })
  }
  const dir = await openSnapshotDir(path)
  return { snapshot: dir.snapshot, dir }
}
