import { execFile } from 'node:child_process'
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { trackMount, untrackMount } from '../cluster/cleanup.ts'

const run = promisify(execFile)

/** A small tmpfs at `dir` (root only); undefined with the reason when mounting is impossible here. */
export async function mountTmpfs(dir: string, sizeMiB: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir])
  } catch (err) {
    return { ok: false, reason: `cannot mount a tmpfs at ${dir} (${(err as Error).message.split('\n')[0]}); run as root (CI does) to include the full-disk scenario` }
  }
  trackMount(dir)
  return { ok: true }
}

export async function unmount(dir: string): Promise<void> {
  await run('umount', ['-l', dir]).catch(() => {})
  untrackMount(dir)
}

/** Fill the filesystem holding `dir` until ENOSPC with a filler file; returns its path and size. */
export async function fillDisk(dir: string): Promise<{ file: string; bytes: number }> {
  const file = join(dir, 'chaos-filler')
  const fh = await open(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  let bytes = 0
  try {
    for (;;) {
      try {
        const { bytesWritten } = await fh.write(chunk)
        bytes += bytesWritten
        if (bytesWritten < chunk.length) break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw err
      }
    }
  } finally {
    await fh.close()
  }
  return { file, bytes }
}

export async function freeDisk(file: string): Promise<void> {
  await rm(file, { force: true })
}
