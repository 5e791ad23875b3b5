import { readdir, readFile } from 'node:fs/promises'

/** Resident memory (MiB) and open file descriptors of a process, from /proc (Linux; undefined elsewhere). */
export async function procStats(pid: number): Promise<{ rssMiB: number; fds: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    const fds = (await readdir(`/proc/${pid}/fd`)).length
    return Number.isFinite(kb) ? { rssMiB: Math.round(kb / 102.4) / 10, fds } : undefined
  } catch {
    return undefined
  }
}

/** Bytes under a directory (recursive), for disk-growth figures. */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0
  const { stat } = await import('node:fs/promises')
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!e.isFile()) continue
    total += await stat(`${e.parentPath}/${e.name}`).then((s) => s.size, () => 0)
  }
  return total
}
