import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Bytes held under `dir` (regular files, not following links), walking at most `maxEntries` entries: the
 * second field says whether the walk stopped at the cap (the sum is then a lower bound). Files that vanish
 * during the walk (retention deleting blocks) are skipped.
 */
export async function dirBytes(dir: string, maxEntries = 2_000_000, signal?: AbortSignal): Promise<{ bytes: number; complete: boolean }> {
  let bytes = 0
  let seen = 0
  const stack = [dir]
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const d = stack.pop()!
    let entries
    try {
      entries = await readdir(d, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      if (++seen > maxEntries) return { bytes, complete: false }
      const p = join(d, e.name)
      if (e.isDirectory()) stack.push(p)
      else if (e.isFile()) {
        try {
          bytes += (await lstat(p)).size
        } catch {
          // deleted since readdir
        }
      }
    }
  }
  return { bytes, complete: true }
}
