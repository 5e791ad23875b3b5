import type { CID } from 'multiformats/cid'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { httpTarget, redact } from '../../snapshot/chain/errors.ts'
import { checkBlock } from '../../snapshot/codec/block.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { AccountProof } from '../../snapshot/proof/format.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { schemaFor } from '../adapters/load.ts'
import { readBounded, type BodyKind } from './bounded-body.ts'
import { SourceError } from './source.ts'

export interface NodeProof {
  proof: AccountProof
  certificate: Certificate
  certificateCid: CID
  /** the certificate as the node sent it (EIP-712 typed data and signatures); check its signatures against a trust root */
  certificateJson: Record<string, unknown>
}

/**
 * One account's proof from an archive node (GET /v1/checkpoints/{block}/proof/{account},
 * node/http/api-proof.ts), checked here without trusting the node: the
 * certificate it names is decoded (its CID recomputed), the proof must be for
 * that certificate's snapshot, block and stateRoot and lead from the leaf to
 * the stateRoot, and the record must hash to the leaf's record hash (schema
 * from the snapshot's root block, hash-checked against its certified CID).
 * The certificate's signatures are the caller's to check (trustFromOptions):
 * until then the stateRoot is only what the node claims was certified.
 */
export async function proofFromNode(url: string, block: bigint, account: Uint8Array, signal?: AbortSignal): Promise<NodeProof> {
  const target = httpTarget(url.replace(/\/+$/, ''))
  const shown = redact(target.url)
  async function get(path: string, accept: string, kind: BodyKind): Promise<Uint8Array> {
    let res: Response
    try {
      res = await fetch(`${target.url}${path}`, { headers: { accept, ...target.headers }, ...(signal === undefined ? {} : { signal }) })
    } catch (cause) {
      throw new SourceError(`node ${shown}: GET ${path} failed (${(cause as Error).message}); check --node`, { cause })
    }
    if (!res.ok) {
      const text = Buffer.from(await readBounded(res, 'error', `GET ${path}`).catch(() => new Uint8Array(0))).toString('utf8').trim().slice(0, 300)
      throw new SourceError(`node ${shown}: GET ${path}: HTTP ${res.status}${text === '' ? '' : ` (${text})`}`)
    }
    return readBounded(res, kind, `node ${shown}: GET ${path}`)
  }
  async function json(path: string): Promise<unknown> {
    const bytes = await get(path, 'application/json', 'checkpoint')
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown
    } catch (cause) {
      throw new SourceError(`node ${shown}: GET ${path}: the answer is not JSON`, { cause })
    }
  }
  // a proof is a few KiB: the checkpoint answer's limit bounds it
  const answer = (await json(`/v1/checkpoints/${block}/proof/${bytesToHex(account)}`)) as AccountProof & { certificateCid?: unknown }
  const cp = (await json(`/v1/checkpoints/${block}`)) as { certificate?: unknown; certificateCid?: unknown }
  const { certificate, cid } = certificateFromJSON(cp.certificate)
  const b = certificate.body
  const same = (what: string, got: unknown, want: unknown): void => {
    if (String(got).toLowerCase() !== String(want).toLowerCase()) throw new ProtocolError('MISMATCH', `node ${shown} sent a proof whose ${what} is ${String(got)} but the certificate says ${String(want)}; do not use this node's proofs`)
  }
  same('certificateCid', answer.certificateCid, cid.toString())
  same('certificateCid (checkpoint)', cp.certificateCid, cid.toString())
  same('snapshot', answer.snapshot, b.snapshotCid.toString())
  same('blockNumber', answer.blockNumber, b.blockNumber)
  same('blockHash', answer.blockHash, b.blockHash)
  same('chainId', answer.chainId, b.chainId)
  same('stateRoot', answer.stateRoot, b.stateRoot)
  if (Array.isArray(answer.leafEncoding) && answer.leafEncoding[0] === 'address') same('account (leaf value[0])', String((answer.value ?? [])[0]), bytesToHex(account))
  const rootBytes = await get(`/ipfs/${b.snapshotCid.toString()}`, 'application/vnd.ipld.raw', 'block')
  checkBlock(b.snapshotCid, rootBytes)
  const root = decodeRoot(b.snapshotCid, rootBytes)
  const schema = await schemaFor(root.schema.id, root.schema.version, { writtenBy: root.adapter })
  const { certificateCid: _, ...proof } = answer
  verifyAccountProof(proof, { schema, expectedRoot: b.stateRoot })
  return { proof, certificate, certificateCid: cid, certificateJson: cp.certificate as Record<string, unknown> }
}
