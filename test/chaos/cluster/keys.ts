import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { privateKeyToAccount } from 'viem/accounts'
import { bytesToHex } from '../../../snapshot/codec/hex.ts'
import { keccak256 } from '../../../snapshot/codec/keccak.ts'

/** The chaos cluster's operator key i: test only. */
export function chaosOperatorKey(i: number): `0x${string}` {
  return bytesToHex(keccak256(Buffer.from(`ark-chaos-operator-${i}`)))
}

export function chaosOperator(i: number): `0x${string}` {
  return privateKeyToAccount(chaosOperatorKey(i)).address.toLowerCase() as `0x${string}`
}

/**
 * Write the node's libp2p identity (the file the node would create on first start, same format and
 * mode) so every peer id is known before any node runs: all configs, with every bootstrap address
 * through its proxy, are written up front and the nodes start together.
 */
export async function writePeerKey(dataDir: string): Promise<string> {
  const key = await generateKeyPair('Ed25519')
  const file = join(dataDir, 'peer.key')
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(file, 0o600)
  return peerIdFromPrivateKey(key).toString()
}

export async function writeDevKey(dataDir: string, i: number): Promise<string> {
  const file = join(dataDir, 'dev.key')
  await writeFile(file, chaosOperatorKey(i), { mode: 0o600 })
  await chmod(file, 0o600)
  return file
}
