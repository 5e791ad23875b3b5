/**
 * Computes the governance-v1 golden vectors: the Governor proposal (ark.governor-proposal.v1) and the
 * Safe Transaction Builder batch `ark cite --governor/--safe` emit for the recovery-v1 certificate and
 * citation, and the call list for a restitution (kind 2) certificate signed by the same keys.
 * test/vectors/governance-v1.json was generated once with this code and is never edited.
 *
 * Regenerate (only for a NEW file, never over governance-v1.json):
 *   node test/recovery/governance-vectors.ts > test/vectors/governance-vN.json
 */
import { readFileSync } from 'node:fs'
import { keccak256, toBytes, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { AttestationBody } from '../../protocol/attestation.ts'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import { CID } from 'multiformats/cid'
import type { Citation } from '../../node/recovery/citation.ts'
import { recoveryActions } from '../../node/recovery/proposal.ts'
import { proposalDescription } from '../../node/recovery/proposal-description.ts'
import { governorProposal, type GovernorProposal } from '../../node/recovery/proposal-governor.ts'
import { safeBatch, type SafeBatch } from '../../node/recovery/proposal-safe.ts'
import { certify } from '../support/recovery.ts'
import type { RecoveryVectorInputs, RecoveryVectorOutputs } from './vectors.ts'

export interface GovernanceVectorInputs {
  /** the recovery-v1 vector file whose certificate and citation are cited */
  from: 'recovery-v1.json'
  governor: Hex
  safe: Hex
  registry: Hex
  distributor: Hex
  distributorRoot: Hex
  deadline: string
  token: Hex
  amount: string
  unpause: Hex[]
  createdAt: number
  /** a restitution (kind 2) body signed by recovery-v1 keys certificateSigners */
  restitution: { stateRoot: Hex; blockNumber: string; blockHash: Hex; snapshotCid: string }
}

export interface GovernanceVectorOutputs {
  governor: GovernorProposal
  safe: SafeBatch
  restitution: { targets: string[]; calldatas: Hex[] }
}

const recoveryFile = (): { inputs: RecoveryVectorInputs; outputs: RecoveryVectorOutputs } => JSON.parse(readFileSync(new URL('../vectors/recovery-v1.json', import.meta.url), 'utf8')) as never

export async function computeGovernanceVectors(inp: GovernanceVectorInputs): Promise<GovernanceVectorOutputs> {
  const rec = recoveryFile()
  const citation = rec.outputs.citation as Citation
  const { certificate } = certificateFromJSON(rec.outputs.bundle.certificate)
  const actions = recoveryActions({
    certificate,
    registry: inp.registry,
    distributor: { address: inp.distributor, deadline: BigInt(inp.deadline), root: inp.distributorRoot },
    fund: { token: inp.token, amount: BigInt(inp.amount) },
    unpause: inp.unpause,
  })
  const chainId = certificate.body.chainId
  const description = proposalDescription(citation, actions)
  const r = inp.restitution
  const body: AttestationBody = { ...certificate.body, kind: 2, stateRoot: r.stateRoot, blockNumber: BigInt(r.blockNumber), blockHash: r.blockHash, snapshotCid: CID.parse(r.snapshotCid) }
  const restCert = await certify(body, rec.inputs.certificateSigners.map((i) => privateKeyToAccount(rec.inputs.keys[i]!.privateKey)))
  const restActions = recoveryActions({ certificate: restCert, registry: inp.registry, distributor: { address: inp.distributor, deadline: BigInt(inp.deadline) }, fund: { token: inp.token, amount: BigInt(inp.amount) } })
  return {
    governor: governorProposal({ governor: inp.governor, chainId, actions, description }),
    safe: safeBatch({ safe: inp.safe, chainId, actions, name: `Ark recovery: ${citation.adapter.id} block ${citation.blockNumber}`, description: 'governance-v1 vector', createdAt: inp.createdAt }),
    restitution: { targets: restActions.map((a) => a.target), calldatas: restActions.map((a) => a.data) },
  }
}

export const GOVERNANCE_V1_INPUTS: GovernanceVectorInputs = {
  from: 'recovery-v1.json',
  governor: '0x1111111111111111111111111111111111111111',
  safe: '0x2222222222222222222222222222222222222222',
  registry: `0x${'dd'.repeat(20)}`,
  distributor: '0x3333333333333333333333333333333333333333',
  distributorRoot: keccak256(toBytes('ark governance-v1 restitution root')),
  deadline: '1700600000',
  token: `0x${'aa'.repeat(20)}`,
  amount: '1000000007',
  unpause: ['0x4444444444444444444444444444444444444444'],
  createdAt: 1700000000000,
  restitution: { stateRoot: keccak256(toBytes('ark governance-v1 restitution root')), blockNumber: '1010', blockHash: keccak256(toBytes('ark governance-v1 block 1010')), snapshotCid: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' },
}

if (import.meta.main) {
  const file = {
    _note: 'Golden vectors for ark cite --governor (ark.governor-proposal.v1: targets, values, calldatas, description, descriptionHash, proposalId, propose/queue/execute calldata) and --safe (Safe Transaction Builder batch 1.0 with its checksum), for the recovery-v1 certificate; and the call list for a restitution (kind 2) certificate. This file is NEVER EDITED: a format change gets a new file (governance-v2.json).',
    inputs: GOVERNANCE_V1_INPUTS,
    outputs: await computeGovernanceVectors(GOVERNANCE_V1_INPUTS),
  }
  process.stdout.write(`${JSON.stringify(file, null, 2)}\n`)
}
