import { encodeAbiParameters, encodeFunctionData, getAddress, keccak256, parseAbi, type Hex } from 'viem'
import type { AttestationBody } from '../../protocol/attestation.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { makeOperatorSet, type Address, type OperatorSet } from '../../protocol/operator-set.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import { pinnedCall } from '../../snapshot/chain/pinned-call.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import type { CompileOptions } from '../contracts/compile.ts'
import { deployContract } from './deploy-contract.ts'
import { decodeContractError } from './decode-contract-error.ts'

/**
 * ArkRegistry (protocol/contracts/ArkRegistry.sol): the on-chain operator set and certificate sink.
 * The ABI is written out here so reading the set never needs the Solidity compiler; a test checks it
 * against the compiled artifact.
 */
export const ARK_REGISTRY_ABI = parseAbi([
  'struct Attestation { uint256 chainId; string adapterId; bytes32 configHash; uint64 blockNumber; bytes32 blockHash; bytes snapshotCid; bytes32 stateRoot; uint32 specVersion; uint8 kind; }',
  'function addOperator(address operator, uint96 weight)',
  'function removeOperator(address operator)',
  'function setWeight(address operator, uint96 weight)',
  'function setThreshold(uint256 threshold_)',
  'function operators() view returns (address[] addrs, uint96[] weights)',
  'function threshold() view returns (uint256)',
  'function thresholdIsExplicit() view returns (bool)',
  'function totalWeight() view returns (uint256)',
  'function weightOf(address operator) view returns (uint96)',
  'function weightAt(address operator, uint64 blockNumber) view returns (uint256)',
  'function totalWeightAt(uint64 blockNumber) view returns (uint256)',
  'function thresholdAt(uint64 blockNumber) view returns (uint256)',
  'function recordedRoot(string adapterId, bytes32 configHash, uint64 blockNumber) view returns (bytes32)',
  'function recordedRoot(string adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) view returns (bytes32)',
  'function isRecorded(string adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) view returns (bool)',
  'function recordOf(bytes32 key, uint8 kind, uint64 blockNumber) view returns (bytes32 stateRoot, bool recorded)',
  'function adapterKey(string adapterId, bytes32 configHash) pure returns (bytes32)',
  'function domainSeparator() view returns (bytes32)',
  'function attestationDigest(Attestation a) view returns (bytes32)',
  'function submitCertificate(Attestation a, address[] signers, bytes[] signatures)',
  'event OperatorAdded(address indexed operator, uint96 weight)',
  'event OperatorRemoved(address indexed operator)',
  'event WeightChanged(address indexed operator, uint96 oldWeight, uint96 newWeight)',
  'event ThresholdChanged(uint256 threshold, uint256 effective)',
  'event CertificateSubmitted(bytes32 indexed adapterKey, uint64 indexed blockNumber, uint8 indexed kind, bytes32 stateRoot, bytes32 blockHash, bytes snapshotCid, uint256 weight)',
  'error ZeroAddress()',
  'error ZeroWeight(address operator)',
  'error AlreadyOperator(address operator)',
  'error NotOperator(address operator)',
  'error LengthMismatch(uint256 signers, uint256 signatures)',
  'error ThresholdTooLow(uint256 threshold, uint256 totalWeight)',
  'error ThresholdTooHigh(uint256 threshold, uint256 totalWeight)',
  'error WrongChain(uint256 attested, uint256 current)',
  'error BlockHashMismatch(uint64 blockNumber, bytes32 attested, bytes32 onChain)',
  'error FutureBlock(uint64 blockNumber, uint256 current)',
  'error NoSignatures()',
  'error UnsortedSigners(uint256 index, address signer, address previous)',
  'error DuplicateSigner(uint256 index, address signer)',
  'error UnknownSigner(uint256 index, address signer)',
  'error InvalidSignature(uint256 index, address signer)',
  'error HighSSignature(uint256 index, address signer)',
  'error BelowThreshold(uint256 weight, uint256 threshold)',
  'error ConflictingRoot(bytes32 adapterKey, uint8 kind, uint64 blockNumber, bytes32 recorded, bytes32 submitted)',
  'error CheckpointUnorderedInsertion()',
  'error SafeCastOverflowedUintDowncast(uint8 bits, uint256 value)',
  'error OwnableUnauthorizedAccount(address account)',
  'error OwnableInvalidOwner(address owner)',
])

/** The registry's key for an adapter instance: keccak256(abi.encode(adapterId, configHash)). */
export function registryAdapterKey(adapterId: string, configHash: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: 'string' }, { type: 'bytes32' }], [adapterId, configHash]))
}

/** The `Attestation` struct argument for an attestation body. */
export function attestationTuple(b: AttestationBody): {
  chainId: bigint
  adapterId: string
  configHash: Hex
  blockNumber: bigint
  blockHash: Hex
  snapshotCid: Hex
  stateRoot: Hex
  specVersion: number
  kind: number
} {
  return {
    chainId: b.chainId,
    adapterId: b.adapterId,
    configHash: b.configHash,
    blockNumber: b.blockNumber,
    blockHash: b.blockHash,
    snapshotCid: bytesToHex(b.snapshotCid.bytes),
    stateRoot: b.stateRoot,
    specVersion: b.specVersion,
    kind: b.kind,
  }
}

/** Calldata of `submitCertificate(attestation, signers, signatures)` for a certificate (signers stay in its order). */
export function submitCertificateCalldata(cert: Certificate): Hex {
  return encodeFunctionData({
    abi: ARK_REGISTRY_ABI,
    functionName: 'submitCertificate',
    args: [attestationTuple(cert.body), cert.signatures.map((s) => getAddress(s.signer)), cert.signatures.map((s) => s.signature)],
  })
}

/** Name and arguments of an ArkRegistry custom error from revert data, or undefined if it is not one. */
export function decodeRegistryError(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  return decodeContractError(ARK_REGISTRY_ABI, data)
}

function pinnedView<T>(source: ChainSource, registry: Hex, blockHash: Hex, functionName: 'operators' | 'threshold', signal?: AbortSignal): Promise<T> {
  return pinnedCall<T>(source, registry, ARK_REGISTRY_ABI, functionName, [], blockHash, signal)
}

/**
 * The operator set of `registry` as of block `blockHash` (pinned eth_calls, EIP-1898): a certificate
 * for block N is checked against the set the chain had at N, whatever governance did since.
 */
export async function readOperatorSet(source: ChainSource, registry: Hex, blockHash: Hex, signal?: AbortSignal): Promise<OperatorSet> {
  const [[addrs, weights], threshold] = await Promise.all([
    pinnedView<readonly [readonly Hex[], readonly bigint[]]>(source, registry, blockHash, 'operators', signal),
    pinnedView<bigint>(source, registry, blockHash, 'threshold', signal),
  ])
  if (addrs.length === 0) throw new InvalidInputError(`the ArkRegistry at ${registry} has no operators at block ${blockHash}; governance must add operators before certificates can be checked against it`)
  const map = new Map<Address, bigint>()
  addrs.forEach((a, i) => map.set(a.toLowerCase() as Address, weights[i]!))
  return makeOperatorSet(map, threshold)
}

export interface DeployRegistryOptions {
  rpcUrl: string
  /** Governance (the contract owner); default the deployer. */
  owner?: Hex
  /** Sends the deployment; must be unlocked on the node (anvil). Default the node's first account. */
  deployer?: Hex
  /** Initial operators, set in the constructor (so the set is complete from the deployment block on). */
  operators: readonly { address: Hex; weight: bigint | number }[]
  /** Explicit threshold; default floor(2 * total / 3) + 1 (kept as the default, not stored). */
  threshold?: bigint | number
  compile?: CompileOptions
  signal?: AbortSignal
}

/** Deploys an ArkRegistry on a dev chain whose deployer account is unlocked (devnet, tests). */
export async function deployRegistry(options: DeployRegistryOptions): Promise<{ address: Hex; deployBlock: bigint; deployBlockHash: Hex; owner: Hex }> {
  let owner: Hex | undefined
  const r = await deployContract({
    ...options,
    name: 'ArkRegistry',
    args: (deployer) => {
      owner = getAddress(options.owner ?? deployer)
      return [owner, options.operators.map((o) => getAddress(o.address)), options.operators.map((o) => BigInt(o.weight)), BigInt(options.threshold ?? 0)]
    },
    decodeError: decodeRegistryError,
  })
  return { address: r.address, deployBlock: r.deployBlock, deployBlockHash: r.deployBlockHash, owner: owner! }
}

export { revertData } from './deploy-contract.ts'
