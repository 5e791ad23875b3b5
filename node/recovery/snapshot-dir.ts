import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { openCar } from '../cli/open-car.ts'

/** A directory as `ark fetch` writes it, opened and cross-checked. */
export interface SnapshotDir {
  dir: string
  certificate: Certificate
  certificateCid: CID
  /** certificate.json as read (the self-describing EIP-712 form) */
  certificateJson: Record<string, unknown>
  snapshot: Snapshot<unknown, unknown>
  /** summary.json if present (untrusted hints such as the gateway it came from) */
  summary: Record<string, unknown> | undefined
}

async function readJson(path: string, what: string, optional: boolean): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (optional && code === 'ENOENT') return undefined
    throw new ArkError('IO', `cannot read ${path}: ${code ?? (cause as Error).message}; pass a directory written by "ark fetch" (it holds ${what})`, { cause })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw new InvalidInputError(`${path} is not valid JSON; fetch the snapshot again with "ark fetch"`, { cause })
  }
}

/**
 * Opens DIR (certificate.json, snapshot.car, optional summary.json) and checks that the certificate
 * is intact (its re-encoding has the CID the file states) and certifies exactly the snapshot in the
 * CAR: root CID, chain, block, adapter, configHash and stateRoot. Signatures are checked separately
 * (node/recovery/trust.ts) when a trust root is given.
 */
export async function openSnapshotDir(dir: string): Promise<SnapshotDir> {
  let st
  try {
    st = await stat(dir)
  } catch (cause) {
    throw new ArkError('IO', `cannot open ${dir}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; pass the directory "ark fetch --out DIR" wrote`, { cause })
  }
  if (!st.isDirectory()) throw new ArkError('IO', `${dir} is not a directory; pass the directory "ark fetch --out DIR" wrote (certificate.json, snapshot.car, …)`)
  const certificateJson = (await readJson(join(dir, 'certificate.json'), 'certificate.json', false)) as Record<string, unknown>
  const { certificate, cid } = certificateFromJSON(certificateJson)
  const snapshot = await openCar(join(dir, 'snapshot.car'))
  const summary = (await readJson(join(dir, 'summary.json'), 'summary.json', true)) as Record<string, unknown> | undefined
  const b = certificate.body
  const r = snapshot.root
  const mismatch = (what: string, cert: unknown, car: unknown): never => {
    throw new ProtocolError('MISMATCH', `certificate.json certifies ${what} ${String(cert)} but snapshot.car has ${String(car)}; ${dir} mixes two snapshots or was altered, fetch it again`)
  }
  if (!b.snapshotCid.equals(snapshot.cid)) mismatch('snapshot', b.snapshotCid, snapshot.cid)
  if (b.stateRoot.toLowerCase() !== r.stateRoot.toLowerCase()) mismatch('stateRoot', b.stateRoot, r.stateRoot)
  if (b.chainId !== r.block.chainId) mismatch('chain', b.chainId, r.block.chainId)
  if (b.blockNumber !== r.block.number) mismatch('block', b.blockNumber, r.block.number)
  if (b.blockHash.toLowerCase() !== r.block.hash.toLowerCase()) mismatch('block hash', b.blockHash, r.block.hash)
  if (b.adapterId !== r.adapter.id) mismatch('adapter', b.adapterId, r.adapter.id)
  if (b.configHash.toLowerCase() !== r.adapter.configHash.toLowerCase()) mismatch('configHash', b.configHash, r.adapter.configHash)
  return { dir, certificate, certificateCid: cid, certificateJson, snapshot, summary }
}
