import type { Logger } from 'pino'
import { CHECKPOINT_KIND, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import { buildRestitution } from '../../snapshot/restitution/build.ts'
import { exclusionsFrom } from '../../snapshot/restitution/exclusions.ts'
import { SPEC_VERSION } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { CertificateStore, StoredCertificate } from './certificate-store.ts'

export interface RestitutionRequest {
  before: bigint
  after: bigint
  /** addresses, any order and case (canonicalized; a repeat is refused) */
  exclude: readonly string[]
}

export interface RestitutionParts {
  network: { chainId: bigint; adapterId: string; configHash: `0x${string}` }
  certificates: CertificateStore
  store: () => BlockStore
  adapter: Adapter
  signAndPublish: (body: AttestationBody) => Promise<SignedAttestation>
  log: Logger
}

/** The certified snapshot (scheduled or emergency) at a block, or a clear error. */
function certifiedAt(certificates: CertificateStore, block: bigint, side: string): StoredCertificate {
  const held = certificates.get(block, CHECKPOINT_KIND.scheduled) ?? certificates.get(block, CHECKPOINT_KIND.emergency)
  if (held === undefined) throw new ArkError('INVALID_INPUT', `this node holds no certified snapshot at block ${block} (--${side}); pick a certified checkpoint (GET /v1/checkpoints) or wait for catch-up`)
  return held
}

/**
 * An operator's restitution run (PROTOCOL "Restitution (kind 2)"): both
 * certified snapshots from the node's store, the table computed and its
 * blocks stored, then a kind-2 attestation signed through the sign log,
 * gossiped and aggregated like any other. The quorum certifies the table
 * when enough operators computed the same content (same snapshots, same
 * exclusion list); a node that used another list simply does not count.
 */
export async function runRestitution(p: RestitutionParts, req: RestitutionRequest): Promise<Record<string, unknown>> {
  const exclusions = exclusionsFrom([...req.exclude])
  const beforeCert = certifiedAt(p.certificates, req.before, 'before')
  const afterCert = certifiedAt(p.certificates, req.after, 'after')
  const store = p.store()
  const schema = p.adapter.schema
  const before = await Snapshot.open(store, beforeCert.certificate.body.snapshotCid, schema, { verifyBlocks: false })
  const after = await Snapshot.open(store, afterCert.certificate.body.snapshotCid, schema, { verifyBlocks: false })
  const table = await buildRestitution({ before, after, exclusions, store })
  const a = afterCert.certificate.body
  const body: AttestationBody = {
    ...p.network,
    blockNumber: a.blockNumber,
    blockHash: a.blockHash,
    snapshotCid: table.cid,
    stateRoot: table.root.root as `0x${string}`,
    specVersion: SPEC_VERSION,
    kind: CHECKPOINT_KIND.restitution,
  }
  await p.signAndPublish(body)
  const result = {
    restitution: table.cid.toString(),
    root: table.root.root,
    before: { block: req.before.toString(), snapshot: before.cid.toString(), certificate: beforeCert.cid.toString() },
    after: { block: req.after.toString(), snapshot: after.cid.toString(), certificate: afterCert.cid.toString() },
    exclusions: { count: table.root.exclusions.count, hash: table.root.exclusions.hash },
    entries: table.root.entryCount,
    totals: table.root.totals.map((t) => ({ asset: t.asset, amount: t.amount.toString() })),
  }
  p.log.info(result, 'restitution table computed and attested')
  return result
}
