import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { ArkError } from '../../snapshot/errors.ts'

/**
 * Write a file so that it either appears complete or not at all: data goes
 * to a temporary sibling that is renamed over the target only after the
 * last byte is flushed; on any failure the temporary file is removed.
 */
export async function writeFileAtomic(path: string, chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, signal?: AbortSignal): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await pipeline(Readable.from(chunks), createWriteStream(tmp, { flags: 'wx' }), signal === undefined ? {} : { signal })
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    if (err instanceof ArkError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ArkError('IO', `cannot write ${path}: ${code ?? (err as Error).message}${code === 'EISDIR' ? ' (it is a directory; give a file path)' : code === 'ENOSPC' ? ' (disk full; free space and retry)' : code === 'EACCES' ? ' (permission denied; choose a writable location)' : ''}`, { cause: err, retryable: code === 'ENOSPC' })
  }
}
