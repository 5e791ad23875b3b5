import { encodeFunctionData, getAddress, parseAbi, type Hex } from 'viem'
import { abiEncode } from '../../snapshot/abi/encode.ts'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { standardLeafHash } from '../../snapshot/merkle/standard-tree.ts'
import { DERIVATIVES_LEAF_ENCODING } from '../../snapshot/schema/derivatives.ts'
import type { CompileOptions } from '../contracts/compile.ts'
import { deployContract } from './deploy-contract.ts'
import { decodeContractError } from './decode-contract-error.ts'

/**
 * RecoveryVault (protocol/contracts/RecoveryVault.sol): pays one ERC-20 collateral per a certified
 * snapshot recorded in the ArkRegistry, pro rata to a governance-given total when underfunded. Written out by hand so building claims needs no compiler; a
 * test checks it against the compiled artifact.
 */
export const RECOVERY_VAULT_ABI = parseAbi([
  'function registry() view returns (address)',
  'function asset() view returns (address)',
  'function configHash() view returns (bytes32)',
  'function adapterId() view returns (string)',
  'function snapshotBlock() view returns (uint64)',
  'function snapshotKind() view returns (uint8)',
  'function totalOwed() view returns (uint256)',
  'function setTotalOwed(uint256 total)',
  'function paidOf(address account) view returns (uint256)',
  'function entitlement(uint256 amount) view returns (uint256)',
  'function setExcludedBatch(address[] accounts, bool excluded_)',
  'function claimed(address account) view returns (bool)',
  'function excluded(address account) view returns (bool)',
  'function setExcluded(address account, bool excluded_)',
  'function totalClaimed() view returns (uint256)',
  'function setSnapshotBlock(uint64 blockNumber)',
  'function fund(uint256 amount)',
  'function stateRoot() view returns (bytes32 root)',
  'function leafOf(address account, bytes32 recordHash, address[] assets, uint256[] amounts) pure returns (bytes32)',
  'function claim(bytes32 recordHash, address[] assets, uint256[] amounts, bytes32[] proof) returns (uint256 amount)',
  'event SnapshotBlockSet(uint64 blockNumber)',
  'event Funded(address indexed from, uint256 amount)',
  'event ExclusionSet(address indexed account, bool excluded)',
  'event Claimed(address indexed account, uint256 amount, bytes32 stateRoot)',
  'event TotalOwedSet(uint256 total)',
  'error ZeroAddress()',
  'error ZeroBlock()',
  'error SnapshotBlockNotSet()',
  'error SnapshotBlockAlreadySet(uint64 blockNumber)',
  'error RootNotRecorded(string adapterId, bytes32 configHash, uint64 blockNumber)',
  'error AlreadyClaimed(address account)',
  'error TotalNotSet()',
  'error TotalAlreadySet(uint256 total)',
  'error ZeroTotal()',
  'error Excluded(address account)',
  'error LengthMismatch(uint256 assets, uint256 amounts)',
  'error InvalidProof(address account, bytes32 leaf)',
  'error NothingToClaim(address account)',
  'error InsufficientFunds(uint256 balance, uint256 amount)',
  'error OwnableUnauthorizedAccount(address account)',
  'error OwnableInvalidOwner(address owner)',
  'error SafeERC20FailedOperation(address token)',
])

export const CLAIM_SIGNATURE = 'claim(bytes32,address[],uint256[],bytes32[])'

/** The leaf values a claim is built from: the snapshot leaf (SPEC §5) of the reference schema, and its proof. */
export interface ClaimInput {
  account: Hex
  recordHash: Hex
  assets: readonly Hex[]
  amounts: readonly bigint[]
  proof: readonly Hex[]
}

/**
 * ClaimInput from a StandardMerkleTree value `[account, recordHash, assets[], amounts[]]` (as in an
 * ark.proof.v1 proof: hex strings and decimal strings) and its proof.
 */
export function claimInputFromLeaf(leafEncoding: readonly string[], value: readonly unknown[], proof: readonly string[]): ClaimInput {
  if (leafEncoding.join() !== DERIVATIVES_LEAF_ENCODING.join()) {
    throw new InvalidInputError(`a RecoveryVault claims leaves (${DERIVATIVES_LEAF_ENCODING.join(', ')}); this snapshot's leaves are (${leafEncoding.join(', ')}), a schema the vault cannot pay from`)
  }
  const [account, recordHash, assets, amounts] = value as [unknown, unknown, unknown, unknown]
  if (!Array.isArray(assets) || !Array.isArray(amounts) || assets.length !== amounts.length) throw new InvalidInputError('leaf assets and amounts must be arrays of the same length')
  const amount = (x: unknown, i: number): bigint => {
    if (typeof x !== 'string' || !/^[0-9]{1,78}$/.test(x)) throw new InvalidInputError(`leaf amounts[${i}] must be a decimal string`)
    return BigInt(x)
  }
  return {
    account: bytesToHex(hexToBytes(String(account), 'leaf account', 20)),
    recordHash: bytesToHex(hexToBytes(String(recordHash), 'leaf recordHash', 32)),
    assets: assets.map((a, i) => bytesToHex(hexToBytes(String(a), `leaf assets[${i}]`, 20))),
    amounts: amounts.map(amount),
    proof: proof.map((p, i) => bytesToHex(hexToBytes(p, `proof[${i}]`, 32))),
  }
}

/** keccak256(keccak256(abi.encode(account, recordHash, assets, amounts))): what the vault recomputes. */
export function claimLeafHash(c: ClaimInput): Hex {
  return bytesToHex(standardLeafHash(abiEncode(DERIVATIVES_LEAF_ENCODING, [c.account, c.recordHash, [...c.assets], [...c.amounts]])))
}

/** Calldata of `claim(recordHash, assets, amounts, proof)`; it must be sent from `c.account`. */
export function claimCalldata(c: ClaimInput): Hex {
  return encodeFunctionData({
    abi: RECOVERY_VAULT_ABI,
    functionName: 'claim',
    args: [c.recordHash, c.assets.map((a) => getAddress(a)), [...c.amounts], [...c.proof]],
  })
}

/** What a vault paying `asset` would pay this leaf (0 if the account held none of it). */
export function claimAmount(c: ClaimInput, asset: Hex): bigint {
  const i = c.assets.findIndex((a) => a.toLowerCase() === asset.toLowerCase())
  return i < 0 ? 0n : c.amounts[i]!
}

/** Name and arguments of a RecoveryVault custom error from revert data, or undefined if it is not one. */
export function decodeVaultError(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  return decodeContractError(RECOVERY_VAULT_ABI, data)
}

export interface DeployVaultOptions {
  rpcUrl: string
  registry: Hex
  adapterId: string
  configHash: Hex
  /** The certified checkpoint; 0 (default) leaves it for the owner to set once. */
  snapshotBlock?: bigint
  /** The ERC-20 the vault pays out. */
  asset: Hex
  /** The snapshot's attestation kind (0 scheduled, default; 1 emergency). */
  snapshotKind?: number
  /** Total owed in the asset (claims are pro rata to it); 0 (default) leaves it for the owner to set once. */
  totalOwed?: bigint
  /** Governance (the contract owner); default the deployer. */
  owner?: Hex
  /** Sends the deployment; must be unlocked on the node (anvil). Default the node's first account. */
  deployer?: Hex
  compile?: CompileOptions
  signal?: AbortSignal
}

/** Deploys a RecoveryVault on a dev chain whose deployer account is unlocked (devnet, tests). */
export async function deployRecoveryVault(options: DeployVaultOptions): Promise<{ address: Hex; deployBlock: bigint; owner: Hex }> {
  let owner: Hex | undefined
  const r = await deployContract({
    ...options,
    name: 'RecoveryVault',
    args: (deployer) => {
      owner = getAddress(options.owner ?? deployer)
      return [getAddress(options.registry), options.adapterId, options.configHash, options.snapshotBlock ?? 0n, getAddress(options.asset), owner, options.snapshotKind ?? 0, options.totalOwed ?? 0n]
    },
    decodeError: decodeVaultError,
  })
  return { address: r.address, deployBlock: r.deployBlock, owner: owner! }
}
