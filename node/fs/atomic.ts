import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'

export interface AtomicWriteOptions {
  /** file mode of the new file (default 0o666 minus the umask) */
  mode?: number
}

/** fsync a directory, so a rename or unlink in it survives a power cut (best effort where directories cannot be opened). */
export async function syncDir(dir: string): Promise<void> {
  let h
  try {
    h = await open(dir, 'r')
  } catch {
    return
  }
  try {
    await h.sync().catch(() => {})
  } finally {
    await h.close()
  }
}

/**
 * Write a file so that it either appears complete or not at all, across a
 * crash or a power cut: data goes to a temporary sibling that is fsynced and
 * renamed over the target, then the directory is fsynced; on any failure the
 * temporary file is removed.
 */
export async function writeFileAtomic(path: string, chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, signal?: AbortSignal, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    const h = await open(tmp, 'wx', options.mode)
    try {
      for await (const chunk of chunks) {
        signal?.throwIfAborted()
        // FileHandle.writeFile loops until every byte is written (no silent short write)
        await h.writeFile(chunk)
      }
      await h.sync()
    } finally {
      await h.close()
    }
    await rename(tmp, path)
    await syncDir(dir)
  } catch (err) {
    await rm(tmp, { force: true })
    if (err instanceof ArkError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ArkError('IO', `cannot write ${path}: ${code ?? (err as Error).message}${code === 'EISDIR' ? ' (it is a directory; give a file path)' : code === 'ENOSPC' ? ' (disk full; free space and retry)' : code === 'EACCES' ? ' (permission denied; choose a writable location)' : ''}`, { cause: err, retryable: code === 'ENOSPC' })
  }
}
