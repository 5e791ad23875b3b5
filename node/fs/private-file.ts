import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { link, open, stat, unlink } from 'node:fs/promises'
import { ArkError } from '../../snapshot/ark-error.ts'

export interface PrivateFileCheck {
  /** a missing file is no error: resolve false (the caller creates it) */
  optional?: boolean
  /** what anyone who reads it could do, for the refusal's message */
  risk?: string
  /** the error to refuse with (default: an ArkError INVALID_INPUT) */
  refuse?: (message: string) => Error
}

/**
 * Secrets (keystore, password file, development key, peer key, admin token)
 * must be readable by the node's user only: a file that group or others may
 * access is refused, and the node does not start. Resolves whether the file
 * exists; a missing file is an IO error unless `optional`.
 */
export async function checkPrivateFile(path: string, what: string, options: PrivateFileCheck = {}): Promise<boolean> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && options.optional === true) return false
    throw new ArkError('IO', `${what} ${path} cannot be read: ${code ?? (cause as Error).message}; check the path and its permissions`, { cause })
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const message = `${what} ${path} has mode ${(mode & 0o777).toString(8).padStart(3, '0')}: group or others can access it${options.risk === undefined ? '' : `, so ${options.risk}`}. Restrict it with "chmod 600 ${path}" and start again`
    throw options.refuse?.(message) ?? new ArkError('INVALID_INPUT', message)
  }
  return true
}

/**
 * Create a secret file with mode 0600, never replacing one that exists: the
 * bytes go to a fresh temporary sibling (O_EXCL, fsynced) that is then
 * link()ed into place, which fails if the target exists, so of two processes
 * racing on a first start one file wins and both read it. Resolves false if
 * the file already existed.
 */
export async function createPrivateFile(path: string, bytes: Uint8Array | string): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await link(tmp, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(tmp).catch(() => {})
  }
}
