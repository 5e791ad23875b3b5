// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice The ArkRegistry views the vault reads.
interface IArkRootRegistry {
    function recordedRoot(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bytes32);
    function isRecorded(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bool);
}

/// @title Ark recovery vault: pays out one collateral asset per a certified snapshot
/// @notice A secondary venue funded with an ERC-20 `asset`. An account claims, once, the balance of `asset`
/// that the certified snapshot of (adapterId, configHash, snapshotBlock) says it held, by presenting its
/// snapshot leaf and OpenZeppelin-format Merkle proof against the stateRoot recorded in the ArkRegistry.
///
/// The leaf is the reference schema's (snapshot/SPEC.md §5), an OpenZeppelin StandardMerkleTree leaf:
///   keccak256(bytes.concat(keccak256(abi.encode(address account, bytes32 recordHash, address[] assets, uint256[] amounts))))
/// `assets`/`amounts` are the account's collateral list (sorted by asset, aligned); `recordHash` commits to the
/// rest of the record, which the vault does not need. The vault recomputes the leaf with `account = msg.sender`,
/// so nobody can claim another account's leaf, and pays `amounts[i]` for `assets[i] == asset`.
/// Only snapshots whose schema has this leaf encoding can be claimed against (ark.derivatives.account v1).
///
/// Pro rata, never first come first served: governance gives the total owed in the asset (`totalOwed`,
/// constructor or `setTotalOwed`, once: the sum of the snapshot's balances of the asset over the accounts
/// it means to pay, e.g. from `ark diff`/the restitution table). With `received` = balance + totalClaimed
/// capped at the total, an account is entitled to floor(amount * received / total) and a claim pays that
/// minus what it was already paid: a top-up lets every claimant claim the rest. Exclusions come in
/// batches (`setExcludedBatch(address[], bool)`); for exclusion by Merkle root use the Distributor.
contract RecoveryVault is Ownable2Step {
    using SafeERC20 for IERC20;

    IArkRootRegistry public immutable registry;
    IERC20 public immutable asset;
    bytes32 public immutable configHash;
    string public adapterId;
    /// @notice The certified checkpoint claims are paid against; 0 until set (constructor or setSnapshotBlock, once).
    uint64 public snapshotBlock;
    /// @notice The attestation kind of the snapshot (0 scheduled, 1 emergency): the registry records kinds apart.
    uint8 public immutable snapshotKind;
    /// @notice What governance says is owed in the asset in all; 0 until set (constructor or setTotalOwed, once).
    uint256 public totalOwed;

    /// @notice Whether the account was paid anything.
    mapping(address => bool) public claimed;
    mapping(address => uint256) public paidOf;
    /// @notice Accounts governance has barred from claiming (e.g. an exploiter who held collateral at the checkpoint).
    mapping(address => bool) public excluded;
    uint256 public totalClaimed;

    event SnapshotBlockSet(uint64 blockNumber);
    event Funded(address indexed from, uint256 amount);
    event ExclusionSet(address indexed account, bool excluded);
    event Claimed(address indexed account, uint256 amount, bytes32 stateRoot);
    event TotalOwedSet(uint256 total);

    error ZeroAddress();
    error ZeroBlock();
    error SnapshotBlockNotSet();
    error SnapshotBlockAlreadySet(uint64 blockNumber);
    /// @notice The registry has no stateRoot for (adapterId, configHash, blockNumber): no certificate was submitted yet.
    error RootNotRecorded(string adapterId, bytes32 configHash, uint64 blockNumber);
    /// @notice The account was paid its full entitlement at the current funding.
    error AlreadyClaimed(address account);
    error TotalNotSet();
    error TotalAlreadySet(uint256 total);
    error ZeroTotal();
    /// @notice Governance barred this account from claiming.
    error Excluded(address account);
    error LengthMismatch(uint256 assets, uint256 amounts);
    /// @notice The leaf (with account = msg.sender) and proof do not lead to the recorded stateRoot.
    error InvalidProof(address account, bytes32 leaf);
    /// @notice The account's leaf holds no balance of the vault's asset.
    error NothingToClaim(address account);
    /// @notice Nothing is funded yet (entitlement 0), or the vault holds less than its own rule pays
    /// (only if governance's total is below the leaves it pays); fund it and claim again.
    error InsufficientFunds(uint256 balance, uint256 amount);

    /// @param registry_ the ArkRegistry recording certified stateRoots
    /// @param adapterId_ adapter id of the snapshot (e.g. "perp-reference")
    /// @param configHash_ the adapter instance's configHash
    /// @param snapshotBlock_ the certified checkpoint block, or 0 to set it later (owner, once)
    /// @param asset_ the collateral asset this vault pays out
    /// @param owner_ governance
    /// @param snapshotKind_ the snapshot's attestation kind (0 scheduled, 1 emergency)
    /// @param totalOwed_ the total owed in the asset, or 0 to set it later (owner, once)
    constructor(address registry_, string memory adapterId_, bytes32 configHash_, uint64 snapshotBlock_, address asset_, address owner_, uint8 snapshotKind_, uint256 totalOwed_) Ownable(owner_) {
        if (registry_ == address(0) || asset_ == address(0)) revert ZeroAddress();
        registry = IArkRootRegistry(registry_);
        adapterId = adapterId_;
        configHash = configHash_;
        asset = IERC20(asset_);
        snapshotKind = snapshotKind_;
        if (snapshotBlock_ != 0) {
            snapshotBlock = snapshotBlock_;
            emit SnapshotBlockSet(snapshotBlock_);
        }
        if (totalOwed_ != 0) {
            totalOwed = totalOwed_;
            emit TotalOwedSet(totalOwed_);
        }
    }

    /// @notice Fix the total owed once (when the vault was deployed before governance knew it).
    function setTotalOwed(uint256 total) external onlyOwner {
        if (totalOwed != 0) revert TotalAlreadySet(totalOwed);
        if (total == 0) revert ZeroTotal();
        totalOwed = total;
        emit TotalOwedSet(total);
    }

    /// @notice Fix the checkpoint once (when the vault was deployed before governance chose it).
    function setSnapshotBlock(uint64 blockNumber) external onlyOwner {
        if (snapshotBlock != 0) revert SnapshotBlockAlreadySet(snapshotBlock);
        if (blockNumber == 0) revert ZeroBlock();
        snapshotBlock = blockNumber;
        emit SnapshotBlockSet(blockNumber);
    }

    /// @notice Bar (or re-admit) an account; a claim already paid is not undone.
    function setExcluded(address account, bool excluded_) external onlyOwner {
        excluded[account] = excluded_;
        emit ExclusionSet(account, excluded_);
    }

    /// @notice Bar (or re-admit) many accounts in one call.
    function setExcludedBatch(address[] calldata accounts, bool excluded_) external onlyOwner {
        for (uint256 i = 0; i < accounts.length; i++) {
            excluded[accounts[i]] = excluded_;
            emit ExclusionSet(accounts[i], excluded_);
        }
    }

    /// @notice Pull `amount` of the asset from the caller (after approve). Plain transfers fund the vault too.
    function fund(uint256 amount) external {
        asset.safeTransferFrom(msg.sender, address(this), amount);
        emit Funded(msg.sender, amount);
    }

    /// @notice The stateRoot claims are checked against (reverts if none is recorded yet).
    function stateRoot() public view returns (bytes32 root) {
        uint64 b = snapshotBlock;
        if (b == 0) revert SnapshotBlockNotSet();
        if (!registry.isRecorded(adapterId, configHash, snapshotKind, b)) revert RootNotRecorded(adapterId, configHash, b);
        root = registry.recordedRoot(adapterId, configHash, snapshotKind, b);
    }

    /// @notice floor(amount * min(balance + totalClaimed, totalOwed) / totalOwed).
    function entitlement(uint256 amount) public view returns (uint256) {
        uint256 total = totalOwed;
        if (total == 0) revert TotalNotSet();
        return Math.mulDiv(amount, Math.min(asset.balanceOf(address(this)) + totalClaimed, total), total);
    }

    /// @notice The StandardMerkleTree leaf of an account's snapshot entry.
    function leafOf(address account, bytes32 recordHash, address[] calldata assets, uint256[] calldata amounts) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, recordHash, assets, amounts))));
    }

    /// @notice Claim what msg.sender is due now of its snapshot balance of the asset (pro rata, see the
    /// contract notes). Arguments are the leaf values after the account (`ark prove` writes them) and the
    /// proof (siblings bottom-up, as OpenZeppelin's getProof).
    /// @return amount what was paid by this call
    function claim(bytes32 recordHash, address[] calldata assets, uint256[] calldata amounts, bytes32[] calldata proof) external returns (uint256 amount) {
        address account = msg.sender;
        if (excluded[account]) revert Excluded(account);
        if (assets.length != amounts.length) revert LengthMismatch(assets.length, amounts.length);
        bytes32 root = stateRoot();
        bytes32 leaf = leafOf(account, recordHash, assets, amounts);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(account, leaf);
        address a = address(asset);
        uint256 owed;
        for (uint256 i = 0; i < assets.length; i++) {
            if (assets[i] == a) {
                owed = amounts[i];
                break;
            }
        }
        if (owed == 0) revert NothingToClaim(account);
        uint256 entitled = entitlement(owed);
        uint256 already = paidOf[account];
        uint256 balance = asset.balanceOf(address(this));
        if (entitled <= already) {
            if (already != 0) revert AlreadyClaimed(account);
            revert InsufficientFunds(balance, owed);
        }
        amount = entitled - already;
        if (balance < amount) revert InsufficientFunds(balance, amount);
        claimed[account] = true;
        paidOf[account] = entitled;
        totalClaimed += amount;
        emit Claimed(account, amount, root);
        asset.safeTransfer(account, amount);
    }
}
