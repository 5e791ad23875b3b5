/**
 * Computes the protocol-v1 golden vectors from their inputs. The stored file
 * test/vectors/protocol-v1.json was generated once with this code and is never
 * edited; vectors.test.ts recomputes every output and compares.
 */
import { CID } from 'multiformats/cid'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { attestationDigest, encodeAttestation, signAttestation, type AttestationBody } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate } from '../../protocol/certificate.ts'
import { encodeEvidence } from '../../protocol/evidence.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'

export interface BodyJSON {
  chainId: string
  adapterId: string
  configHash: Hex
  blockNumber: string
  blockHash: Hex
  snapshotCid: string
  stateRoot: Hex
  specVersion: number
  kind: number
}

export interface VectorInputs {
  keys: { seed: string; privateKey: Hex; address: string }[]
  body: BodyJSON
  /** index into keys */
  attestationSigner: number
  /** indices into keys (operators: all keys, weight 1, default threshold) */
  certificateSigners: number[]
  evidence: { signer: number; other: { snapshotCid: string; stateRoot: Hex } }
}

export interface VectorOutputs {
  digest: Hex
  signature: Hex
  attestation: Hex
  certificate: { cid: string; block: Hex }
  evidence: Hex
}

export function bodyFromJSON(j: BodyJSON): AttestationBody {
  return { ...j, chainId: BigInt(j.chainId), blockNumber: BigInt(j.blockNumber), snapshotCid: CID.parse(j.snapshotCid) }
}

async function signWith(privateKey: Hex, body: AttestationBody) {
  const account = privateKeyToAccount(privateKey)
  return signAttestation(body, account.address, (digest) => account.sign({ hash: digest }))
}

export async function computeVectors(inp: VectorInputs): Promise<VectorOutputs> {
  const body = bodyFromJSON(inp.body)
  const key = (i: number): Hex => inp.keys[i]!.privateKey
  const att = await signWith(key(inp.attestationSigner), body)
  const cert = certificateFrom(await Promise.all(inp.certificateSigners.map((i) => signWith(key(i), body))))
  const block = encodeCertificate(cert)
  const otherBody: AttestationBody = { ...body, snapshotCid: CID.parse(inp.evidence.other.snapshotCid), stateRoot: inp.evidence.other.stateRoot }
  const ev = encodeEvidence({ a: await signWith(key(inp.evidence.signer), body), b: await signWith(key(inp.evidence.signer), otherBody) })
  return {
    digest: attestationDigest(body),
    signature: att.signature,
    attestation: bytesToHex(encodeAttestation(att)),
    certificate: { cid: block.cid.toString(), block: bytesToHex(block.bytes) },
    evidence: bytesToHex(ev),
  }
}
