import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'
import { checkPrivateFile, createPrivateFile } from '../fs/private-file.ts'

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
  try {
    // another process may create it first: then we use theirs
    await createPrivateFile(path, `${randomBytes(32).toString('hex')}\n`)
  } catch (err) {
    throw new ArkError('IO', `cannot create the admin token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; make its directory writable by the node's user`, { cause: err })
  }
  const stored = await readToken(path)
  if (stored === undefined) throw new ArkError('IO', `admin token file ${path} vanished while it was being created`)
  return stored
}

async function readToken(path: string): Promise<string | undefined> {
  if (!(await checkPrivateFile(path, 'admin token file', { optional: true, risk: 'anyone on this host could call the admin API' }))) return undefined
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
