import { getAddress, type Hex } from 'viem'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { PROOF_FORMAT, type AccountProof } from '../../snapshot/proof/format.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { abiEncode } from '../../snapshot/abi/encode.ts'
import { standardLeafHash } from '../../snapshot/merkle/standard-tree.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { ACCOUNT_LEAF_V4, derivativesSchemaV4 } from '../../snapshot/schema/derivatives-v4.ts'
import type { RecordSchema } from '../../snapshot/schema/types.ts'
import { escapeInputs, verifyEscapeInputs, type EscapeInputs } from '../../snapshot/valuation/escape-inputs.ts'
import { requireValuation, valuationOffered } from '../../snapshot/valuation/offered.ts'
import { VERIFIED_VALUE_SIGNATURE, verifiedValueCalldata } from '../chain/escape-valuator.ts'
import { CLAIM_SIGNATURE, claimCalldata, claimInputFromLeaf, claimLeafHash } from '../chain/recovery-vault.ts'
import type { SnapshotDir } from './snapshot-dir.ts'

export const CLAIM_BUNDLE_FORMAT = 'ark.claim.v1'

/**
 * Everything one account needs to claim from a RecoveryVault and to show why (`ark prove`):
 * the certificate, the snapshot leaf and its OpenZeppelin-format proof, the full record, and the
 * ready-to-send calldata. Integers are decimal strings, bytes 0x-hex (lowercase).
 */
export interface ClaimBundle {
  format: typeof CLAIM_BUNDLE_FORMAT
  /** the claimant; the claim transaction must come from this address */
  account: string
  chainId: string
  adapter: { id: string; version: string; configHash: string }
  blockNumber: string
  blockHash: string
  /** snapshot root CID */
  snapshot: string
  /** CID of the certificate (the dag-cbor block), as in certificate.certificate */
  certificateCid: string
  stateRoot: string
  /** StandardMerkleTree leaf encoding and value: StandardMerkleTree.verify(stateRoot, leafEncoding, value, proof) holds */
  leafEncoding: string[]
  value: unknown[]
  /** the same value by name */
  leaf: { account: string; recordHash: string; assets: string[]; amounts: string[] }
  /** keccak256(keccak256(abi.encode(value))) */
  leafHash: string
  /** sibling hashes bottom-up (OpenZeppelin getProof / MerkleProof.verify order) */
  proof: string[]
  /** the account's full record (schema JSON form); keccak256 of its canonical bytes is leaf.recordHash */
  record: Record<string, unknown>
  /**
   * `claim(recordHash, assets, amounts, proof)` on any RecoveryVault for this snapshot; `to` if --vault was given.
   * For a schema with escape valuation (v4, SPEC §1.5), whose leaf no RecoveryVault pays, it is the
   * EscapeValuator `verifiedValue` call that recomputes `valuation` on-chain (a view; `to` the valuator if given).
   */
  claim: { function: string; from: string; to: string | null; data: string }
  /**
   * Schemas with escape valuation only (SPEC §1.5.2): the account's value at the certified block and
   * the asset, market and block leaves with their proofs against stateRoot that recompute it.
   */
  valuation?: EscapeInputs
  /** certificate.json: the EIP-712 typed data and the operators' signatures */
  certificate: Record<string, unknown>
}

/**
 * The claim bundle of `account` in an opened snapshot directory. Throws KEY_NOT_FOUND if it is not in
 * the snapshot. `value`: the caller asks for the escape valuation, which only schemas that declare one
 * offer (an INVALID_INPUT error names the schema otherwise); a v4 bundle always carries it.
 */
export async function buildClaimBundle(d: SnapshotDir, account: Uint8Array, options: { vault?: Hex; value?: boolean } = {}): Promise<ClaimBundle> {
  const s = d.snapshot
  if (options.value === true) requireValuation(s.schema)
  const p = await proveAccount(s, account)
  // the proof must verify against the certified root, as the vault will check it
  verifyAccountProof(p, { schema: s.schema, expectedRoot: d.certificate.body.stateRoot })
  const head = {
    format: CLAIM_BUNDLE_FORMAT,
    account: bytesToHex(account),
    chainId: p.chainId,
    adapter: { id: s.root.adapter.id, version: s.root.adapter.version, configHash: s.root.adapter.configHash },
    blockNumber: p.blockNumber,
    blockHash: p.blockHash,
    snapshot: p.snapshot,
    certificateCid: d.certificateCid.toString(),
    stateRoot: p.stateRoot,
    leafEncoding: p.leafEncoding,
    value: p.value,
  } as const
  if (valuationOffered(s.schema)) {
    const valuation = await escapeInputs(s as never, account)
    verifyEscapeInputs(valuation, d.certificate.body.stateRoot)
    const [acct, recordHash, assets, amounts] = p.value as [string, string, string[], string[]]
    return {
      ...head,
      leaf: { account: acct, recordHash, assets: [...assets], amounts: [...amounts] },
      leafHash: bytesToHex(standardLeafHash(abiEncode(p.leafEncoding, p.value))),
      proof: p.proof,
      record: p.record!,
      claim: { function: VERIFIED_VALUE_SIGNATURE, from: getAddress(acct), to: options.vault === undefined ? null : getAddress(options.vault), data: verifiedValueCalldata(valuation) },
      certificate: d.certificateJson,
      valuation,
    }
  }
  const c = claimInputFromLeaf(p.leafEncoding, p.value, p.proof)
  return {
    ...head,
    leaf: { account: c.account, recordHash: c.recordHash, assets: [...c.assets], amounts: c.amounts.map(String) },
    leafHash: claimLeafHash(c),
    proof: p.proof,
    record: p.record!,
    claim: { function: CLAIM_SIGNATURE, from: getAddress(c.account), to: options.vault === undefined ? null : getAddress(options.vault), data: claimCalldata(c) },
    certificate: d.certificateJson,
  }
}

/** The ark.proof.v1 proof inside a bundle. */
export function bundleProof(b: ClaimBundle): AccountProof {
  return { format: PROOF_FORMAT, snapshot: b.snapshot, chainId: b.chainId, blockNumber: b.blockNumber, blockHash: b.blockHash, stateRoot: b.stateRoot, leafEncoding: b.leafEncoding, value: b.value, proof: b.proof, record: b.record }
}

/**
 * Checks a bundle offline, as the vault and a reviewer would: the certificate is intact and certifies
 * this snapshot and stateRoot, the proof leads from the leaf to the stateRoot, the record hashes to
 * the leaf's recordHash, and the calldata is exactly the claim of this leaf. Signatures are not
 * checked (verifyCertificate against a trusted set does that). Throws; returns the bundle typed.
 */
export function verifyClaimBundle(json: unknown): ClaimBundle {
  const b = json as ClaimBundle
  if (b === null || typeof b !== 'object' || b.format !== CLAIM_BUNDLE_FORMAT) throw new InvalidInputError(`claim bundle format ${JSON.stringify((b as { format?: unknown } | null)?.format)} is not ${CLAIM_BUNDLE_FORMAT}; produce it with "ark prove"`)
  const { certificate, cid } = certificateFromJSON(b.certificate)
  const body = certificate.body
  const same = (what: string, a: unknown, c: unknown, by = 'its certificate says'): void => {
    if (String(a).toLowerCase() !== String(c).toLowerCase()) throw new ProtocolError('MISMATCH', `claim bundle ${what} is ${String(a)} but ${by} ${String(c)}; the bundle was altered`)
  }
  same('certificateCid', b.certificateCid, cid.toString())
  same('snapshot', b.snapshot, body.snapshotCid.toString())
  same('stateRoot', b.stateRoot, body.stateRoot)
  same('chainId', b.chainId, body.chainId)
  same('blockNumber', b.blockNumber, body.blockNumber)
  same('blockHash', b.blockHash, body.blockHash)
  same('adapter.id', b.adapter?.id, body.adapterId)
  same('adapter.configHash', b.adapter?.configHash, body.configHash)
  if (!Array.isArray(b.leafEncoding) || !Array.isArray(b.value) || !Array.isArray(b.proof)) throw new InvalidInputError('claim bundle must have leafEncoding, value and proof arrays')
  if (b.leafEncoding.join() === ACCOUNT_LEAF_V4.join()) return verifyValuedBundle(b, body.stateRoot, same)
  const c = claimInputFromLeaf(b.leafEncoding, b.value, b.proof)
  // the vault pays only reference-schema leaves, so the record is checked with that schema
  verifyAccountProof(bundleProof(b), { schema: derivativesSchema as RecordSchema<unknown, unknown>, expectedRoot: body.stateRoot })
  same('account', b.account, c.account, 'its leaf says')
  same('leafHash', b.leafHash, claimLeafHash(c), 'its leaf hashes to')
  same('claim.data', b.claim?.data, claimCalldata(c), 'the claim of its leaf is')
  same('claim.from', b.claim?.from, c.account, 'its leaf says')
  return b
}

/** A v4 bundle: the account proof and record as for v1, and the valuation recomputed from its proven leaves. */
function verifyValuedBundle(b: ClaimBundle, stateRoot: string, same: (what: string, a: unknown, c: unknown, by?: string) => void): ClaimBundle {
  verifyAccountProof(bundleProof(b), { schema: derivativesSchemaV4 as RecordSchema<unknown, unknown>, expectedRoot: stateRoot })
  if (b.valuation === undefined) throw new InvalidInputError('claim bundle of a schema with escape valuation (v4) has no valuation; produce it with "ark prove --value"')
  verifyEscapeInputs(b.valuation, stateRoot)
  same('valuation account leaf', JSON.stringify(b.valuation.account), JSON.stringify({ value: b.value, proof: b.proof }), 'its proven leaf is')
  same('account', b.account, String(b.value[0]), 'its leaf says')
  same('leafHash', b.leafHash, bytesToHex(standardLeafHash(abiEncode(b.leafEncoding, b.value))), 'its leaf hashes to')
  same('leaf', JSON.stringify(b.leaf), JSON.stringify({ account: b.value[0], recordHash: b.value[1], assets: b.value[2], amounts: b.value[3] }), 'its leaf values are')
  same('claim.data', b.claim?.data, verifiedValueCalldata(b.valuation), 'the valuation call of its inputs is')
  same('claim.from', b.claim?.from, String(b.value[0]), 'its leaf says')
  return b
}
