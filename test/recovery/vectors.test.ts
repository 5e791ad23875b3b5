import { readFileSync } from 'node:fs'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { decodeFunctionData, encodeAbiParameters, getAddress, keccak256, recoverAddress, toBytes, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { ARK_REGISTRY_ABI } from '../../node/chain/registry.ts'
import { RECOVERY_VAULT_ABI } from '../../node/chain/recovery-vault.ts'
import { verifyClaimBundle } from '../../node/recovery/claim-bundle.ts'
import { attestationDigest } from '../../protocol/attestation.ts'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import { computeRecoveryVectors, RECOVERY_V1_INPUTS, type RecoveryVectorInputs, type RecoveryVectorOutputs } from './vectors.ts'

const file = JSON.parse(readFileSync(new URL('../vectors/recovery-v1.json', import.meta.url), 'utf8')) as { _note: string; inputs: RecoveryVectorInputs; outputs: RecoveryVectorOutputs }
const { inputs, outputs } = file

describe('recovery-v1 golden vectors', () => {
  it('has the never-edit header; the stored inputs are the generator\'s and derive from their seeds', () => {
    expect(file._note).toMatch(/NEVER EDITED/)
    expect(inputs).toEqual(JSON.parse(JSON.stringify(RECOVERY_V1_INPUTS)))
    for (const k of inputs.keys) {
      expect(k.privateKey).toBe(keccak256(toBytes(k.seed)))
      expect(privateKeyToAccount(k.privateKey).address.toLowerCase()).toBe(k.address)
    }
  })

  it('recomputes every output byte for byte', async () => {
    expect(JSON.parse(JSON.stringify(await computeRecoveryVectors(inputs)))).toEqual(outputs)
  })

  it('the stored bundle checks offline and its leaf, proof and calldata agree with independent encoders', async () => {
    const b = verifyClaimBundle(outputs.bundle)
    expect(StandardMerkleTree.verify(outputs.stateRoot, b.leafEncoding, b.value, b.proof)).toBe(true)
    const { account, recordHash, assets, amounts } = b.leaf
    const encoded = encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }, { type: 'address[]' }, { type: 'uint256[]' }], [account as Hex, recordHash as Hex, assets as Hex[], amounts.map(BigInt)])
    expect(keccak256(keccak256(encoded))).toBe(b.leafHash)
    const call = decodeFunctionData({ abi: RECOVERY_VAULT_ABI, data: b.claim.data as Hex })
    expect(call.functionName).toBe('claim')
    expect(call.args).toEqual([recordHash, assets.map((a) => getAddress(a)), amounts.map(BigInt), b.proof])
    expect(b.claim.data.slice(0, 10)).toBe(keccak256(toBytes(b.claim.function)).slice(0, 10))
  })

  it('the stored citation calldata submits exactly the certificate, whose signatures recover to the signers', async () => {
    const c = outputs.citation
    const { certificate, cid } = certificateFromJSON(outputs.bundle.certificate)
    expect(cid.toString()).toBe(c.certificate)
    const call = decodeFunctionData({ abi: ARK_REGISTRY_ABI, data: c.transaction.data })
    expect(call.functionName).toBe('submitCertificate')
    const [att, signers, signatures] = call.args as unknown as [Record<string, unknown>, Hex[], Hex[]]
    expect(att).toMatchObject({ chainId: 31337n, adapterId: c.adapter.id, configHash: c.adapter.configHash, blockNumber: BigInt(c.blockNumber), blockHash: c.blockHash, stateRoot: c.stateRoot, specVersion: 1, kind: 0 })
    expect(signers).toEqual(c.signers.map((s) => s.address))
    expect(signers.map((s) => s.toLowerCase())).toEqual(inputs.certificateSigners.map((i) => inputs.keys[i]!.address).sort())
    for (let i = 0; i < signers.length; i++) expect(await recoverAddress({ hash: attestationDigest(certificate.body), signature: signatures[i]! })).toBe(signers[i])
    expect(keccak256(c.transaction.data)).toBe(c.transaction.dataHash)
    expect(decodeFunctionData({ abi: ARK_REGISTRY_ABI, data: c.check.data }).args).toEqual([c.adapter.id, c.adapter.configHash, BigInt(c.blockNumber)])
  })
})
