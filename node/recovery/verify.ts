import type { Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { schemaFor } from '../adapters/load.ts'
import { decodeRoot, type SnapshotRoot } from '../../snapshot/state/root.ts'
import { Snapshot, type VerifyOptions } from '../../snapshot/state/snapshot.ts'
import type { BlockStore } from '../../snapshot/store.ts'

/**
 * Open the snapshot a certificate names from `store` and check that it is
 * exactly what was certified: every block hash-checked, every record
 * canonical, the tree in canonical layout, account count and stateRoot
 * recomputed from the leaves (Snapshot.verify), and the root's chain, block,
 * adapter and configHash equal to the certificate's. Signatures are not
 * checked here (verifyCertificate does that against a trust root). Shared by
 * `ark fetch` (before anything is written; its blocks were hash-checked on
 * arrival, so it passes `blocksChecked`) and `ark verify` (offline, hashes
 * every block).
 */
export async function openCertifiedSnapshot(certificate: Certificate, store: BlockStore, options: VerifyOptions = {}): Promise<Snapshot<unknown, unknown>> {
  const b = certificate.body
  const root = decodeRoot(b.snapshotCid, await store.get(b.snapshotCid))
  const snapshot = await Snapshot.open(store, b.snapshotCid, await schemaFor(root.schema.id, root.schema.version, { writtenBy: root.adapter }), { verifyBlocks: false })
  await snapshot.verify(options)
  checkCertifiedRoot(snapshot.root, certificate)
  return snapshot
}

/** The snapshot root's stateRoot, block, chain, adapter and configHash equal the certificate's. */
export function checkCertifiedRoot(r: SnapshotRoot, certificate: Certificate): void {
  const b = certificate.body
  const differs = (what: string, certified: unknown, found: unknown): never => {
    throw new ProtocolError('MISMATCH', `the snapshot's ${what} is ${String(found)} but the certificate says ${String(certified)}; the snapshot is not the certified one`)
  }
  if (r.stateRoot !== b.stateRoot.toLowerCase()) differs('stateRoot (recomputed from the leaves)', b.stateRoot, r.stateRoot)
  if (r.block.number !== b.blockNumber) differs('block number', b.blockNumber, r.block.number)
  if (r.block.hash !== b.blockHash.toLowerCase()) differs('block hash', b.blockHash, r.block.hash)
  if (r.block.chainId !== b.chainId) differs('chain id', b.chainId, r.block.chainId)
  if (r.adapter.id !== b.adapterId) differs('adapter', b.adapterId, r.adapter.id)
  if (r.adapter.configHash !== b.configHash.toLowerCase()) differs('adapter configHash', b.configHash, r.adapter.configHash)
}
