import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ArkError } from '../../snapshot/ark-error.ts'
import { checkPrivateFile, createPrivateFile } from '../fs/private-file.ts'

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
  await createPrivateFile(path, privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  const stored = await readPeerKey(path)
  if (stored === undefined) throw new PeerKeyError(`peer key ${path} vanished while it was being created`)
  return stored
}

async function readPeerKey(path: string): Promise<PrivateKey | undefined> {
  if (!(await checkPrivateFile(path, 'peer key', { optional: true, risk: 'anyone on this host could impersonate this node', refuse: (m) => new PeerKeyError(m) }))) return undefined
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (cause) {
    throw new PeerKeyError(`peer key ${path} is not a libp2p private key (protobuf); restore it from backup, or delete it to start with a new peer id`, { cause })
  }
}
