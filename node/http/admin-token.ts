import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ArkError } from '../../snapshot/errors.ts'

/** 32 random bytes, hex: what a generated token looks like. */
const TOKEN = /^[0-9a-f]{64}$/

/**
 * The bearer token for the HTTP admin endpoints, kept in a file only the
 * node's user can read. On first run 32 random bytes (hex) are written with
 * mode 0600, atomically (temporary file, fsync, then link() so a concurrent
 * start cannot replace a token another process already read). An existing
 * file that group or others can access is refused: anyone on the host could
 * take it and trigger admin actions.
 */
export async function loadOrCreateAdminToken(path: string): Promise<string> {
  const existing = await readToken(path)
  if (existing !== undefined) return existing
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const token = randomBytes(32).toString('hex')
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    try {
      await fh.writeFile(`${token}\n`)
      await fh.sync()
    } finally {
      await fh.close()
    }
    try {
      await link(tmp, path)
    } catch (err) {
      // another process created it first: use theirs
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  } catch (err) {
    if (err instanceof ArkError) throw err
    throw new ArkError('IO', `cannot create the admin token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; make its directory writable by the node's user`, { cause: err })
  } finally {
    await unlink(tmp).catch(() => {})
  }
  const stored = await readToken(path)
  if (stored === undefined) throw new ArkError('IO', `admin token file ${path} vanished while it was being created`)
  return stored
}

async function readToken(path: string): Promise<string | undefined> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ArkError('IO', `cannot read the admin token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ArkError(
      'INVALID_INPUT',
      `admin token file ${path} has mode ${(mode & 0o777).toString(8).padStart(3, '0')}: group or others can read it, so anyone on this host could call the admin API. Restrict it with "chmod 600 ${path}" and start again`,
    )
  }
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new ArkError('IO', `cannot read the admin token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  // A hand-written token is accepted if it is long enough to resist guessing.
  if (!TOKEN.test(text) && (text.length < 32 || /\s/.test(text))) {
    throw new ArkError('INVALID_INPUT', `admin token file ${path} must hold one token of at least 32 characters without whitespace; delete it to have a new one generated`)
  }
  return text
}
