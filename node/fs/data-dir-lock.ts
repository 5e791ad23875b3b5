import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'
import { syncDir } from './atomic.ts'

export const LOCK_FILE = 'ark.lock'

export class DataDirLockedError extends ArkError {
  override readonly name = 'DataDirLockedError'
  constructor(dir: string, holder: number | undefined) {
    super('INVALID_INPUT', `data directory ${dir} is in use by another Ark process${holder === undefined ? '' : ` (pid ${holder})`}; stop that process first (two processes on one data directory could sign two contents for one checkpoint)`, { details: { dir, pid: holder } })
  }
}

export interface DataDirLock {
  release(): Promise<void>
}

/** Directories this process holds: a second acquire in the same process is refused too (two nodes in one test process). */
const heldHere = new Set<string>()

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function holderOf(path: string): Promise<number | undefined> {
  try {
    const pid = Number(JSON.parse(await readFile(path, 'utf8')).pid)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * An exclusive lock on a data directory, held by `ark node start` and every
 * command that writes there. The lock file is created with link(2), which
 * fails if it exists, so two processes cannot both create it. A lock whose
 * holder is dead (same host) is stale: it is renamed away (only one taker's
 * rename succeeds) and the take-over retried. The error names the holder's pid.
 */
export async function acquireDataDirLock(dir: string): Promise<DataDirLock> {
  const abs = resolve(dir)
  if (heldHere.has(abs)) throw new DataDirLockedError(abs, process.pid)
  await mkdir(abs, { recursive: true, mode: 0o700 })
  const path = join(abs, LOCK_FILE)
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(tmp, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }), { mode: 0o600 })
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ArkError('IO', `cannot lock data directory ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check its permissions`, { cause: err })
      }
      const holder = await holderOf(path)
      // unreadable (being written) or alive: held; after a few take-over races, give up rather than loop
      if (holder === undefined || alive(holder) || attempt >= 3) throw new DataDirLockedError(abs, holder)
      const aside = `${path}.stale-${randomBytes(4).toString('hex')}`
      try {
        await rename(path, aside)
      } catch {
        continue
      }
      // another taker may have replaced the stale file between our read and rename: give theirs back
      const moved = await holderOf(aside)
      if (moved !== holder) {
        await link(aside, path).catch(() => {})
        await rm(aside, { force: true })
        throw new DataDirLockedError(abs, moved)
      }
      await rm(aside, { force: true })
    }
  } finally {
    await rm(tmp, { force: true })
  }
  await syncDir(abs)
  heldHere.add(abs)
  let released = false
  return {
    async release() {
      if (released) return
      released = true
      heldHere.delete(abs)
      if ((await holderOf(path)) === process.pid) await rm(path, { force: true })
    },
  }
}
