import { open, readFile, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'

/** D/.mirror.lock: which process mirrors into D (JSON: pid, host, startedAt). */
export const MIRROR_LOCK_FILE = '.mirror.lock'

/** an unreadable lock file younger than this is one being written, not a stale one */
const FRESH_MS = 10_000

interface LockBody {
  pid: number
  host: string
  startedAt: string
}

export interface MirrorLock {
  readonly path: string
  release(): Promise<void>
}

/** Whether process `pid` runs on this machine (EPERM: it runs, under another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parse(text: string): LockBody | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockBody>
    return Number.isSafeInteger(v.pid) && (v.pid as number) > 0 && typeof v.host === 'string' && typeof v.startedAt === 'string' ? (v as LockBody) : undefined
  } catch {
    return undefined
  }
}

/**
 * Take the mirror directory's lock, so two mirrors never write one
 * directory (they would race on `latest`, the staging dirs and pruning).
 * The lock file is created exclusively and names this process (pid, host,
 * start time). A lock whose process no longer runs on this host (a crash,
 * a kill -9) is stale: it is taken over, and `onNotice` says so. A lock of a
 * running process, or of another host (its pid cannot be checked from
 * here), is refused with an error naming it.
 */
export async function lockMirror(dir: string, onNotice?: (message: string) => void): Promise<MirrorLock> {
  const path = join(dir, MIRROR_LOCK_FILE)
  const body: LockBody = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644)
      try {
        await fh.writeFile(`${JSON.stringify(body)}\n`)
        await fh.sync()
      } finally {
        await fh.close()
      }
      let released = false
      return {
        path,
        async release(): Promise<void> {
          if (released) return
          released = true
          // only our own lock: never one a later mirror took over
          const now = parse(await readFile(path, 'utf8').catch(() => ''))
          if (now?.pid === body.pid && now.startedAt === body.startedAt) await rm(path, { force: true })
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ArkError('IO', `cannot create the lock ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; pass a --dir you can write to`, { cause: err })
    }
    const text = await readFile(path, 'utf8').catch(() => undefined)
    if (text === undefined) continue // released meanwhile: try again
    const held = parse(text)
    // a lock another mirror has just created but not yet written reads as empty: not stale while fresh
    if (held === undefined && Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) < FRESH_MS) {
      throw new ArkError('USAGE', `${path} is being taken by another ark mirror; stop it first or pass another --dir`)
    }
    if (held !== undefined && (held.host !== body.host || running(held.pid))) {
      throw new ArkError('USAGE', `another ark mirror runs on ${dir} (pid ${held.pid} on ${held.host}, started ${held.startedAt}; lock ${path}); stop it first or pass another --dir${held.host === body.host ? '' : ` (if that host's mirror is gone, remove ${path})`}`)
    }
    if (attempt > 0) throw new ArkError('IO', `cannot take over the stale lock ${path}: another process took it meanwhile; check that only one ark mirror runs on ${dir}`)
    onNotice?.(held === undefined ? `taking over an unreadable lock ${path} (no running mirror can be named from it)` : `taking over the stale lock ${path}: pid ${held.pid} (started ${held.startedAt}) no longer runs`)
    await rm(path, { force: true })
  }
}
