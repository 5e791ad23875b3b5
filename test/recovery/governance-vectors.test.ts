import { readFileSync } from 'node:fs'
import { decodeFunctionData, encodeFunctionData, keccak256, toBytes, type AbiFunction } from 'viem'
import { describe, expect, it } from 'vitest'
import { DISTRIBUTOR_ABI } from '../../node/chain/distributor.ts'
import { ARK_REGISTRY_ABI } from '../../node/chain/registry.ts'
import { GOVERNOR_ABI } from '../../node/recovery/proposal-governor.ts'
import { safeBatchChecksum } from '../../node/recovery/proposal-safe.ts'
import { computeGovernanceVectors, GOVERNANCE_V1_INPUTS, type GovernanceVectorInputs, type GovernanceVectorOutputs } from './governance-vectors.ts'

const file = JSON.parse(readFileSync(new URL('../vectors/governance-v1.json', import.meta.url), 'utf8')) as { _note: string; inputs: GovernanceVectorInputs; outputs: GovernanceVectorOutputs }
const { inputs, outputs } = file

/** The Transaction Builder's text form back to ABI values: JSON for arrays and tuples. */
function parseInput(type: string, v: string): unknown {
  const conv = (t: string, x: unknown): unknown => {
    if (t.endsWith(']')) return (x as unknown[]).map((e) => conv(t.slice(0, t.lastIndexOf('[')), e))
    if (/^u?int/.test(t)) return BigInt(x as string)
    return x
  }
  return type.endsWith(']') || type === 'tuple' ? (type === 'tuple' ? JSON.parse(v) : conv(type, JSON.parse(v))) : conv(type, v)
}

describe('governance-v1 golden vectors', () => {
  it('has the never-edit header; the stored inputs are the generator\'s', () => {
    expect(file._note).toMatch(/NEVER EDITED/)
    expect(inputs).toEqual(JSON.parse(JSON.stringify(GOVERNANCE_V1_INPUTS)))
  })

  it('recomputes every output byte for byte', async () => {
    expect(JSON.parse(JSON.stringify(await computeGovernanceVectors(inputs)))).toEqual(outputs)
  })

  it('the Governor proposal: descriptionHash, proposal id and propose/queue/execute calldata agree with independent encoders', () => {
    const g = outputs.governor
    expect(g.descriptionHash).toBe(keccak256(toBytes(g.description)))
    expect(g.targets).toHaveLength(g.calldatas.length)
    expect(decodeFunctionData({ abi: GOVERNOR_ABI, data: g.calls.propose.data }).args).toEqual([g.targets, g.values.map(BigInt), g.calldatas, g.description])
    expect(decodeFunctionData({ abi: GOVERNOR_ABI, data: g.calls.execute.data }).args).toEqual([g.targets, g.values.map(BigInt), g.calldatas, g.descriptionHash])
    // anchor first, with the certificate's exact calldata; then setRoot, approve, fund, unpause
    expect(decodeFunctionData({ abi: ARK_REGISTRY_ABI, data: g.calldatas[0]! }).functionName).toBe('submitCertificate')
    expect(g.actions.map((a) => a.function)).toEqual([
      'submitCertificate((uint256,string,bytes32,uint64,bytes32,bytes,bytes32,uint32,uint8),address[],bytes[])',
      'setRoot(bytes32,uint64)', 'approve(address,uint256)', 'fund(address,uint256)', 'unpause()',
    ])
    expect(decodeFunctionData({ abi: DISTRIBUTOR_ABI, data: g.calldatas[1]! }).args).toEqual([inputs.distributorRoot, BigInt(inputs.deadline)])
  })

  it('the Safe batch: its checksum is the Transaction Builder\'s, and every contractMethod + contractInputsValues encodes to its data', () => {
    const s = outputs.safe
    expect(s.version).toBe('1.0')
    expect(safeBatchChecksum(s)).toBe(s.meta.checksum)
    expect(s.transactions.map((t) => t.data)).toEqual(outputs.governor.calldatas)
    for (const t of s.transactions) {
      const fn = { type: 'function', name: t.contractMethod.name, inputs: t.contractMethod.inputs, outputs: [], stateMutability: 'nonpayable' } as unknown as AbiFunction
      const args = t.contractMethod.inputs.map((p) => parseInput(p.type, t.contractInputsValues[p.name]!))
      expect(encodeFunctionData({ abi: [fn], functionName: fn.name, args } as never)).toBe(t.data)
    }
  })

  it('a restitution (kind 2) certificate opens the distributor from the registry record: setRestitution(block, deadline)', () => {
    const r = outputs.restitution
    expect(decodeFunctionData({ abi: ARK_REGISTRY_ABI, data: r.calldatas[0]! }).args[0]).toMatchObject({ kind: 2, stateRoot: inputs.restitution.stateRoot })
    expect(decodeFunctionData({ abi: DISTRIBUTOR_ABI, data: r.calldatas[1]! })).toEqual({ functionName: 'setRestitution', args: [BigInt(inputs.restitution.blockNumber), BigInt(inputs.deadline)] })
    expect(r.targets).toHaveLength(4)
  })
})
