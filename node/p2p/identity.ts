import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ArkError } from '../../snapshot/errors.ts'

/** The libp2p identity key, protobuf-encoded, inside the node's data dir. */
export const PEER_KEY_FILE = 'peer.key'

export class PeerKeyError extends ArkError {
  override readonly name = 'PeerKeyError'
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INVALID_INPUT', message, options)
  }
}

/**
 * Load the node's libp2p private key from `<dataDir>/peer.key`, creating an
 * Ed25519 key on first start (file mode 0600, fsynced, never overwriting an
 * existing file). A key file that group or others may access is refused:
 * whoever reads it can impersonate this node's peer id.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, PEER_KEY_FILE)
  const existing = await readPeerKey(path)
  if (existing !== undefined) return existing
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    await fh.writeFile(privateKeyToProtobuf(key))
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    // link() fails if the target exists: two processes racing on first start end with one key
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    await unlink(tmp)
  }
  const stored = await readPeerKey(path)
  if (stored === undefined) throw new PeerKeyError(`peer key ${path} vanished while it was being created`)
  return stored
}

async function readPeerKey(path: string): Promise<PrivateKey | undefined> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new PeerKeyError(`peer key ${path} has mode ${(mode & 0o777).toString(8).padStart(3, '0')}: group or others can access it, so anyone on this host could impersonate this node. Restrict it with "chmod 600 ${path}" and start again`)
  }
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (cause) {
    throw new PeerKeyError(`peer key ${path} is not a libp2p private key (protobuf); restore it from backup, or delete it to start with a new peer id`, { cause })
  }
}
