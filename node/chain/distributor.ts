import { encodeFunctionData, getAddress, parseAbi, type Hex } from 'viem'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import { restitutionLeafHash as leafHash } from '../../snapshot/restitution/leaf.ts'
import type { CompileOptions } from '../contracts/compile.ts'
import { deployContract } from './deploy-contract.ts'
import { decodeContractError } from './decode-contract-error.ts'

/**
 * Distributor (protocol/contracts/Distributor.sol): pays a certified restitution table pro rata. Written
 * out by hand so building calls needs no compiler; a test checks it against the compiled artifact.
 */
export const DISTRIBUTOR_ABI = parseAbi([
  'function RESTITUTION_KIND() view returns (uint8)',
  'function registry() view returns (address)',
  'function configHash() view returns (bytes32)',
  'function adapterId() view returns (string)',
  'function root() view returns (bytes32)',
  'function rootSet() view returns (bool)',
  'function restitutionBlock() view returns (uint64)',
  'function claimDeadline() view returns (uint64)',
  'function exclusionRoot() view returns (bytes32)',
  'function exclusionCount() view returns (uint256)',
  'function exclusionsApplied() view returns (uint256)',
  'function excluded(address account) view returns (bool)',
  'function totalOwed(address asset) view returns (uint256)',
  'function totalPaid(address asset) view returns (uint256)',
  'function paid(address account, address asset) view returns (uint256)',
  'function setRestitution(uint64 blockNumber, uint64 deadline)',
  'function setRoot(bytes32 root_, uint64 deadline)',
  'function setExclusionRoot(bytes32 root_, uint256 count)',
  'function setExcluded(address[] accounts, bool excluded_)',
  'function applyExclusions(address[] accounts, bytes32[] proof, bool[] proofFlags)',
  'function proveTotal(address asset, uint256 total, bytes32[] proof)',
  'function fund(address asset, uint256 amount)',
  'function claim(address account, address asset, uint256 amount, bytes32[] proof) returns (uint256 due)',
  'function sweep(address asset) returns (uint256 amount)',
  'function leafOf(address account, address asset, uint256 amount) pure returns (bytes32)',
  'function funded(address asset) view returns (uint256)',
  'function entitlement(address asset, uint256 amount) view returns (uint256)',
  'event RootSet(bytes32 root, uint64 restitutionBlock, uint64 claimDeadline)',
  'event TotalProven(address indexed asset, uint256 total)',
  'event Funded(address indexed asset, address indexed from, uint256 amount)',
  'event Claimed(address indexed account, address indexed asset, uint256 amount, uint256 entitled, uint256 owed)',
  'event ExclusionRootSet(bytes32 root, uint256 count)',
  'event ExclusionSet(address indexed account, bool excluded)',
  'event Swept(address indexed asset, address indexed to, uint256 amount)',
  'error ZeroAddress()',
  'error NoRegistry()',
  'error RegistryMode()',
  'error RootAlreadySet(bytes32 root)',
  'error RootNotSet()',
  'error RootNotRecorded(string adapterId, bytes32 configHash, uint64 blockNumber)',
  'error DeadlineInPast(uint64 deadline, uint256 timestamp)',
  'error ClaimPeriodOver(uint64 deadline, uint256 timestamp)',
  'error ClaimPeriodOpen(uint64 deadline, uint256 timestamp)',
  'error ReservedAccount()',
  'error Excluded(address account)',
  'error ExclusionsPending(uint256 applied, uint256 count)',
  'error InvalidProof(address account, bytes32 leaf)',
  'error TotalNotProven(address asset)',
  'error TotalAlreadyProven(address asset, uint256 total)',
  'error ZeroTotal(address asset)',
  'error NothingDue(address account, address asset, uint256 entitled, uint256 paid)',
  'error InsufficientFunds(uint256 balance, uint256 amount)',
  'error NoExclusionRoot()',
  'error NoAccounts()',
  'error InvalidExclusionProof()',
  'error NothingToSweep(address asset)',
  'error ZeroAmount()',
  'error MerkleProofInvalidMultiproof()',
  'error OwnableUnauthorizedAccount(address account)',
  'error OwnableInvalidOwner(address owner)',
  'error SafeERC20FailedOperation(address token)',
])

/** The restitution leaf encoding (CONTRACTS: shared with snapshot/restitution): `(account, asset, amount)`. */
export { RESTITUTION_LEAF_ENCODING } from '../../snapshot/restitution/leaf.ts'
/** The reserved account of the per-asset total leaf. */
export const TOTAL_ACCOUNT: Hex = '0x0000000000000000000000000000000000000000'

/** keccak256(bytes.concat(keccak256(abi.encode(account, asset, amount)))): the distributor's leaf. */
export function restitutionLeafHash(account: Hex, asset: Hex, amount: bigint): Hex {
  return bytesToHex(leafHash({ account: hexToBytes(account), asset: hexToBytes(asset), amount }))
}

/** floor(amount * min(funded, total) / total): the entitlement rule of Distributor.entitlement. */
export function proRata(amount: bigint, funded: bigint, total: bigint): bigint {
  if (total <= 0n) throw new RangeError('total must be positive')
  return (amount * (funded < total ? funded : total)) / total
}

/** Calldata of `setRestitution(blockNumber, deadline)` (registry mode: the root is the registry's kind-2 record). */
export function setRestitutionCalldata(blockNumber: bigint, deadline: bigint): Hex {
  return encodeFunctionData({ abi: DISTRIBUTOR_ABI, functionName: 'setRestitution', args: [blockNumber, deadline] })
}

/** Calldata of `fund(asset, amount)` (after an ERC-20 approve of the distributor). */
export function fundCalldata(asset: Hex, amount: bigint): Hex {
  return encodeFunctionData({ abi: DISTRIBUTOR_ABI, functionName: 'fund', args: [getAddress(asset), amount] })
}

/** Calldata of `claim(account, asset, amount, proof)`; anyone may send it, the account is paid. */
export function distributorClaimCalldata(account: Hex, asset: Hex, amount: bigint, proof: readonly Hex[]): Hex {
  return encodeFunctionData({ abi: DISTRIBUTOR_ABI, functionName: 'claim', args: [getAddress(account), getAddress(asset), amount, [...proof]] })
}

/** Name and arguments of a Distributor custom error from revert data, or undefined if it is not one. */
export function decodeDistributorError(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  return decodeContractError(DISTRIBUTOR_ABI, data)
}

export interface DeployDistributorOptions {
  rpcUrl: string
  /** The ArkRegistry holding kind-2 records; omit to set the root with setRoot. */
  registry?: Hex
  adapterId?: string
  configHash?: Hex
  /** Governance (the contract owner, receives the sweep); default the deployer. */
  owner?: Hex
  /** Sends the deployment; must be unlocked on the node (anvil). Default the node's first account. */
  deployer?: Hex
  compile?: CompileOptions
  signal?: AbortSignal
}

/** Deploys a Distributor on a dev chain whose deployer account is unlocked (devnet, tests). */
export async function deployDistributor(options: DeployDistributorOptions): Promise<{ address: Hex; deployBlock: bigint; owner: Hex }> {
  let owner: Hex | undefined
  const r = await deployContract({
    ...options,
    name: 'Distributor',
    args: (deployer) => {
      owner = getAddress(options.owner ?? deployer)
      return [getAddress(options.registry ?? TOTAL_ACCOUNT), options.adapterId ?? '', options.configHash ?? `0x${'00'.repeat(32)}`, owner]
    },
    decodeError: decodeDistributorError,
  })
  return { address: r.address, deployBlock: r.deployBlock, owner: owner! }
}
