import { readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * The layout of an `ark mirror --dir D` directory:
 * - `D/<block>/`: a complete, verified recovery directory, as `ark fetch --out` writes it
 *   (written to `D/.<block>.tmp-<pid>` and renamed, so it is complete or absent);
 * - `D/latest`: a symlink naming the newest of them; it is replaced by rename, so it
 *   always names a complete directory, never one being written;
 * - `D/.<block>.partial`: the staging dir of a fetch under way (resumed after a crash).
 */
export const MIRROR_LATEST = 'latest'

export interface HeldCheckpoint {
  /** the directory's name inside D: the block number */
  name: string
  block: bigint
  /** an emergency checkpoint (certificate kind != 0): kept beside the last N */
  emergency: boolean
}

function ioError(what: string, err: unknown): ArkError {
  const code = (err as NodeJS.ErrnoException).code
  return new ArkError('IO', `cannot ${what}: ${code ?? (err as Error).message}${code === 'ENOSPC' ? ' (disk full; free space, the mirror resumes where it stopped)' : ''}`, { cause: err, retryable: true })
}

/** Point `D/latest` at `name` atomically: a new symlink renamed over the old one. */
export async function switchLatest(dir: string, name: string): Promise<void> {
  const tmp = join(dir, `.${MIRROR_LATEST}.tmp-${process.pid}`)
  try {
    await rm(tmp, { force: true })
    await symlink(name, tmp)
    await rename(tmp, join(dir, MIRROR_LATEST))
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {})
    throw ioError(`point ${join(dir, MIRROR_LATEST)} at ${name}`, err)
  }
}

/** The directory name `D/latest` names, if it names a directory of D that exists. */
export async function readLatest(dir: string): Promise<string | undefined> {
  let name: string
  try {
    name = await readlink(join(dir, MIRROR_LATEST))
  } catch {
    return undefined
  }
  if (!/^[0-9]+$/.test(name)) return undefined
  try {
    return (await stat(join(dir, name))).isDirectory() ? name : undefined
  } catch {
    return undefined
  }
}

/** The complete checkpoint directories of D (those with a summary.json), newest first. */
export async function heldCheckpoints(dir: string): Promise<HeldCheckpoint[]> {
  const out: HeldCheckpoint[] = []
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9]+$/.test(name)) continue
    let emergency = false
    try {
      await stat(join(dir, name, 'summary.json'))
      const { certificate } = certificateFromJSON(JSON.parse(await readFile(join(dir, name, 'certificate.json'), 'utf8')) as Record<string, unknown>)
      emergency = certificate.body.kind !== 0
    } catch {
      // not complete or not readable: not a held checkpoint (pruning leaves it to a human)
      continue
    }
    out.push({ name, block: BigInt(name), emergency })
  }
  return out.sort((a, b) => (a.block > b.block ? -1 : a.block < b.block ? 1 : 0))
}

/**
 * Remove what the mirror no longer needs: checkpoint directories beyond the
 * newest `keep` (emergency checkpoints and the one `latest` names are always
 * kept), write-out temp dirs of any process, and staging dirs of blocks at or
 * below the latest (a staging dir of a newer block is a fetch to resume).
 * Returns the names removed.
 */
export async function pruneMirror(dir: string, keep: number, latest: string | undefined): Promise<string[]> {
  const removed: string[] = []
  const held = await heldCheckpoints(dir)
  held.forEach((h, i) => {
    if (i >= keep && !h.emergency && h.name !== latest) removed.push(h.name)
  })
  const top = latest === undefined ? undefined : BigInt(latest)
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (/^\.[0-9]+\.tmp-[0-9]+$/.test(name) || /^\.latest\.tmp-[0-9]+$/.test(name)) removed.push(name)
    const partial = /^\.([0-9]+)\.partial$/.exec(name)
    if (partial !== null && top !== undefined && BigInt(partial[1]!) <= top) removed.push(name)
  }
  for (const name of removed) await rm(join(dir, name), { recursive: true, force: true })
  return removed
}
