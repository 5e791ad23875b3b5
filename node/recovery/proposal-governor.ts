import { encodeAbiParameters, encodeFunctionData, getAddress, keccak256, parseAbi, toBytes, type Hex } from 'viem'
import { actionSignature, type RecoveryAction } from './proposal.ts'

export const GOVERNOR_PROPOSAL_FORMAT = 'ark.governor-proposal.v1'

/** The OpenZeppelin Governor (v5) calls a delegate sends, with the timelock extension's queue. */
export const GOVERNOR_ABI = parseAbi([
  'function propose(address[] targets, uint256[] values, bytes[] calldatas, string description) returns (uint256)',
  'function queue(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) returns (uint256)',
  'function execute(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) payable returns (uint256)',
  'function hashProposal(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) pure returns (uint256)',
  'function castVote(uint256 proposalId, uint8 support) returns (uint256)',
  'function state(uint256 proposalId) view returns (uint8)',
  'function proposalSnapshot(uint256 proposalId) view returns (uint256)',
  'function proposalDeadline(uint256 proposalId) view returns (uint256)',
  'function proposalEta(uint256 proposalId) view returns (uint256)',
])

/**
 * An executable OpenZeppelin Governor proposal (`ark cite --governor`): the arrays `propose` takes, the
 * description, its hash and the proposal id as Governor computes them, and the ready calldata of
 * propose, queue (GovernorTimelockControl) and execute. Integers are decimal strings.
 */
export interface GovernorProposal {
  format: typeof GOVERNOR_PROPOSAL_FORMAT
  chainId: string
  governor: string
  targets: string[]
  values: string[]
  calldatas: Hex[]
  /** per action: the function signature and what it does, for reviewers */
  actions: { target: string; function: string; note: string }[]
  description: string
  /** keccak256(bytes(description)) */
  descriptionHash: Hex
  /** uint256(keccak256(abi.encode(targets, values, calldatas, descriptionHash))), Governor.hashProposal */
  proposalId: string
  calls: { propose: { to: string; data: Hex }; queue: { to: string; data: Hex }; execute: { to: string; data: Hex } }
}

/** Governor.hashProposal, computed off-chain. */
export function governorProposalId(targets: readonly Hex[], values: readonly bigint[], calldatas: readonly Hex[], descriptionHash: Hex): bigint {
  return BigInt(keccak256(encodeAbiParameters([{ type: 'address[]' }, { type: 'uint256[]' }, { type: 'bytes[]' }, { type: 'bytes32' }], [[...targets], [...values], [...calldatas], descriptionHash])))
}

export function governorProposal(o: { governor: Hex; chainId: bigint; actions: readonly RecoveryAction[]; description: string }): GovernorProposal {
  const governor = getAddress(o.governor)
  const targets = o.actions.map((a) => getAddress(a.target))
  const values = o.actions.map((a) => a.value)
  const calldatas = o.actions.map((a) => a.data)
  const descriptionHash = keccak256(toBytes(o.description))
  const args = [targets, values, calldatas, descriptionHash] as const
  return {
    format: GOVERNOR_PROPOSAL_FORMAT,
    chainId: o.chainId.toString(),
    governor,
    targets,
    values: values.map(String),
    calldatas,
    actions: o.actions.map((a) => ({ target: getAddress(a.target), function: actionSignature(a), note: a.note })),
    description: o.description,
    descriptionHash,
    proposalId: governorProposalId(targets, values, calldatas, descriptionHash).toString(),
    calls: {
      propose: { to: governor, data: encodeFunctionData({ abi: GOVERNOR_ABI, functionName: 'propose', args: [targets, values, calldatas, o.description] }) },
      queue: { to: governor, data: encodeFunctionData({ abi: GOVERNOR_ABI, functionName: 'queue', args }) },
      execute: { to: governor, data: encodeFunctionData({ abi: GOVERNOR_ABI, functionName: 'execute', args }) },
    },
  }
}
