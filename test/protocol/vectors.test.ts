import { readFileSync } from 'node:fs'
import { keccak256, recoverAddress, toBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { decodeAttestation, verifyAttestation } from '../../protocol/attestation.ts'
import { decodeCertificate, verifyCertificate } from '../../protocol/certificate.ts'
import { checkEvidence, decodeEvidence } from '../../protocol/evidence.ts'
import { parseOperatorSet } from '../../protocol/operator-set.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { plainBody } from './support.ts'
import { bodyFromJSON, computeVectors, type VectorInputs, type VectorOutputs } from './vectors.ts'

const file = JSON.parse(readFileSync(new URL('../vectors/protocol-v1.json', import.meta.url), 'utf8')) as { _note: string; inputs: VectorInputs; outputs: VectorOutputs }
const { inputs, outputs } = file

describe('protocol-v1 golden vectors', () => {
  it('has the never-edit header', () => {
    expect(file._note).toMatch(/NEVER EDITED/)
    expect(file._note).toMatch(/new file/)
  })

  it('inputs are what they claim: keys from seeds, snapshot CIDs from their values', () => {
    for (const k of inputs.keys) {
      expect(k.privateKey).toBe(keccak256(toBytes(k.seed)))
      expect(privateKeyToAccount(k.privateKey).address.toLowerCase()).toBe(k.address)
    }
    expect(inputs.body.snapshotCid).toBe(encodeBlock({ ark: 'protocol-v1 vector snapshot', n: 1 }).cid.toString())
    expect(inputs.evidence.other.snapshotCid).toBe(encodeBlock({ ark: 'protocol-v1 vector snapshot', n: 2 }).cid.toString())
  })

  it('recomputes every output byte for byte', async () => {
    const again = await computeVectors(inputs)
    expect(again.digest).toBe(outputs.digest)
    expect(again.signature).toBe(outputs.signature)
    expect(again.attestation).toBe(outputs.attestation)
    expect(again.certificate.block).toBe(outputs.certificate.block)
    expect(again.certificate.cid).toBe(outputs.certificate.cid)
    expect(again.evidence).toBe(outputs.evidence)
  })

  it('the stored signature recovers to the signer, and the stored bytes decode and verify', async () => {
    expect((await recoverAddress({ hash: outputs.digest, signature: outputs.signature })).toLowerCase()).toBe(inputs.keys[inputs.attestationSigner]!.address)

    const att = decodeAttestation(hexToBytes(outputs.attestation))
    expect(plainBody(att.body)).toEqual(plainBody(bodyFromJSON(inputs.body)))
    expect(att.signer).toBe(inputs.keys[inputs.attestationSigner]!.address)
    await verifyAttestation(att)

    const cert = decodeCertificate(hexToBytes(outputs.certificate.block))
    expect(cert.signatures.map((s) => s.signer)).toEqual(inputs.certificateSigners.map((i) => inputs.keys[i]!.address).sort())
    const set = parseOperatorSet({ operators: inputs.keys.map((k) => ({ address: k.address, weight: 1 })) })
    expect(set.threshold).toBe(3n)
    await expect(verifyCertificate(cert, set)).resolves.toEqual({ weight: 3n })

    const ev = decodeEvidence(hexToBytes(outputs.evidence))
    await checkEvidence(ev)
    expect(ev.a.signer).toBe(inputs.keys[inputs.evidence.signer]!.address)
  })
})
