// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice The ArkRegistry views the distributor reads (kind 2 = restitution).
interface IArkRestitutionRegistry {
    function recordedRoot(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bytes32);
    function isRecorded(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bool);
}

/// @title Ark restitution distributor: pays a certified restitution table pro rata
/// @notice Pays from a restitution root: an OpenZeppelin StandardMerkleTree with leaves
///   keccak256(bytes.concat(keccak256(abi.encode(address account, address asset, uint256 amount))))
/// and, per asset, one reserved leaf with account = address(0) whose amount is the certified total owed
/// in that asset (anyone proves it once with `proveTotal`, so the contract never trusts a number).
///
/// Root: with a registry (constructor), governance calls `setRestitution(block, deadline)` and the root is
/// the registry's kind-2 record for (adapterId, configHash, block), read once; without one (registry = 0),
/// governance sets it with `setRoot(root, deadline)`. Either happens once.
///
/// Pro rata, never first come first served: with `funded` = what the contract received in the asset
/// (balance + paid out), capped at the total, an account's entitlement is floor(amount * funded / total).
/// A claim pays the entitlement minus what the account was already paid, so a later top-up lets earlier
/// claimants claim the rest; the sum of entitlements never exceeds `funded`.
///
/// Deadline: claims and funding stop after `claimDeadline` (a timestamp); then anyone may `sweep` what is
/// left of an asset to the owner (governance).
///
/// Exclusion in batches, by root: governance commits to a list of excluded accounts with
/// `setExclusionRoot(root, count)` (a StandardMerkleTree over `(address)` leaves and its exact leaf count),
/// 32 bytes in a proposal however long the list. Anyone applies it with `applyExclusions` (an OpenZeppelin
/// multiproof, many accounts per call); until all `count` accounts are applied every claim reverts
/// `ExclusionsPending`, so an excluded account cannot claim in the window between the root and its
/// application. Set the exclusion root before funding (a claim pays nothing before funding). An exclusion
/// does not undo what an account was already paid. `setExcluded(accounts, bool)` is the direct batch form.
contract Distributor is Ownable2Step {
    using SafeERC20 for IERC20;

    uint8 public constant RESTITUTION_KIND = 2;

    /// @notice The ArkRegistry the root is read from, or 0 if governance sets the root directly.
    IArkRestitutionRegistry public immutable registry;
    bytes32 public immutable configHash;
    string public adapterId;

    bytes32 public root;
    bool public rootSet;
    /// @notice The kind-2 certificate's block (0 when the root was set directly).
    uint64 public restitutionBlock;
    uint64 public claimDeadline;

    bytes32 public exclusionRoot;
    uint256 public exclusionCount;
    uint256 public exclusionsApplied;
    mapping(address => bool) public excluded;
    mapping(bytes32 => mapping(address => bool)) private _appliedUnder;

    /// @notice Certified total owed per asset (0 until proven with the reserved leaf).
    mapping(address => uint256) public totalOwed;
    mapping(address => uint256) public totalPaid;
    /// @notice paid[account][asset]
    mapping(address => mapping(address => uint256)) public paid;

    event RootSet(bytes32 root, uint64 restitutionBlock, uint64 claimDeadline);
    event TotalProven(address indexed asset, uint256 total);
    event Funded(address indexed asset, address indexed from, uint256 amount);
    event Claimed(address indexed account, address indexed asset, uint256 amount, uint256 entitled, uint256 owed);
    event ExclusionRootSet(bytes32 root, uint256 count);
    event ExclusionSet(address indexed account, bool excluded);
    event Swept(address indexed asset, address indexed to, uint256 amount);

    error ZeroAddress();
    /// @notice setRestitution needs a registry; this distributor takes its root from setRoot.
    error NoRegistry();
    /// @notice setRoot is for a distributor without a registry; this one reads the registry (setRestitution).
    error RegistryMode();
    error RootAlreadySet(bytes32 root);
    error RootNotSet();
    /// @notice The registry has no kind-2 record for (adapterId, configHash, blockNumber): anchor the certificate first.
    error RootNotRecorded(string adapterId, bytes32 configHash, uint64 blockNumber);
    error DeadlineInPast(uint64 deadline, uint256 timestamp);
    error ClaimPeriodOver(uint64 deadline, uint256 timestamp);
    error ClaimPeriodOpen(uint64 deadline, uint256 timestamp);
    /// @notice address(0) is the reserved total leaf, never a claimant.
    error ReservedAccount();
    error Excluded(address account);
    /// @notice Governance set an exclusion root whose accounts are not all applied yet (applyExclusions).
    error ExclusionsPending(uint256 applied, uint256 count);
    error InvalidProof(address account, bytes32 leaf);
    error TotalNotProven(address asset);
    error TotalAlreadyProven(address asset, uint256 total);
    error ZeroTotal(address asset);
    /// @notice Nothing more is due at the current funding (fully paid, or nothing funded yet).
    error NothingDue(address account, address asset, uint256 entitled, uint256 paid);
    error InsufficientFunds(uint256 balance, uint256 amount);
    error NoExclusionRoot();
    error NoAccounts();
    error InvalidExclusionProof();
    error NothingToSweep(address asset);
    error ZeroAmount();

    /// @param registry_ the ArkRegistry holding kind-2 records, or 0 to set the root with setRoot
    /// @param adapterId_ adapter id of the certified restitution table (ignored without a registry)
    /// @param configHash_ its configHash (ignored without a registry)
    /// @param owner_ governance (receives the sweep)
    constructor(address registry_, string memory adapterId_, bytes32 configHash_, address owner_) Ownable(owner_) {
        registry = IArkRestitutionRegistry(registry_);
        adapterId = adapterId_;
        configHash = configHash_;
    }

    // ------------------------------------------------------------------ governance

    /// @notice Take the root from the registry's kind-2 record at `blockNumber` (once) and open claims until `deadline`.
    function setRestitution(uint64 blockNumber, uint64 deadline) external onlyOwner {
        if (address(registry) == address(0)) revert NoRegistry();
        if (!registry.isRecorded(adapterId, configHash, RESTITUTION_KIND, blockNumber)) revert RootNotRecorded(adapterId, configHash, blockNumber);
        _setRoot(registry.recordedRoot(adapterId, configHash, RESTITUTION_KIND, blockNumber), blockNumber, deadline);
    }

    /// @notice Set the root directly (distributor without a registry), once, and open claims until `deadline`.
    function setRoot(bytes32 root_, uint64 deadline) external onlyOwner {
        if (address(registry) != address(0)) revert RegistryMode();
        _setRoot(root_, 0, deadline);
    }

    function _setRoot(bytes32 root_, uint64 blockNumber, uint64 deadline) private {
        if (rootSet) revert RootAlreadySet(root);
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline, block.timestamp);
        root = root_;
        rootSet = true;
        restitutionBlock = blockNumber;
        claimDeadline = deadline;
        emit RootSet(root_, blockNumber, deadline);
    }

    /// @notice Commit to a batch of excluded accounts: `root_` of a StandardMerkleTree over `(address)`
    /// leaves, `count` its exact number of leaves. Claims wait until all are applied. (0, 0) clears it.
    function setExclusionRoot(bytes32 root_, uint256 count) external onlyOwner {
        exclusionRoot = root_;
        exclusionCount = count;
        exclusionsApplied = 0;
        emit ExclusionRootSet(root_, count);
    }

    /// @notice Bar (or re-admit) many accounts in one call; what was paid is not undone.
    function setExcluded(address[] calldata accounts, bool excluded_) external onlyOwner {
        for (uint256 i = 0; i < accounts.length; i++) {
            excluded[accounts[i]] = excluded_;
            emit ExclusionSet(accounts[i], excluded_);
        }
    }

    // ------------------------------------------------------------------ anyone

    /// @notice Apply part of the exclusion root: `accounts` in the order of OpenZeppelin's getMultiProof leaves.
    function applyExclusions(address[] calldata accounts, bytes32[] calldata proof, bool[] calldata proofFlags) external {
        bytes32 r = exclusionRoot;
        if (r == bytes32(0)) revert NoExclusionRoot();
        if (accounts.length == 0) revert NoAccounts();
        bytes32[] memory leaves = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) leaves[i] = keccak256(bytes.concat(keccak256(abi.encode(accounts[i]))));
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, r, leaves)) revert InvalidExclusionProof();
        for (uint256 i = 0; i < accounts.length; i++) {
            address a = accounts[i];
            if (_appliedUnder[r][a]) continue;
            _appliedUnder[r][a] = true;
            exclusionsApplied += 1;
            excluded[a] = true;
            emit ExclusionSet(a, true);
        }
    }

    /// @notice Learn the certified total owed in `asset` from its reserved leaf (address(0), asset, total).
    function proveTotal(address asset, uint256 total, bytes32[] calldata proof) external {
        if (!rootSet) revert RootNotSet();
        bytes32 leaf = leafOf(address(0), asset, total);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(address(0), leaf);
        if (total == 0) revert ZeroTotal(asset);
        uint256 known = totalOwed[asset];
        if (known == total) return;
        if (known != 0) revert TotalAlreadyProven(asset, known);
        totalOwed[asset] = total;
        emit TotalProven(asset, total);
    }

    /// @notice Pull `amount` of `asset` from the caller (after approve). Plain transfers fund it too.
    function fund(address asset, uint256 amount) external {
        if (asset == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (rootSet && block.timestamp > claimDeadline) revert ClaimPeriodOver(claimDeadline, block.timestamp);
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        emit Funded(asset, msg.sender, amount);
    }

    /// @notice Pay `account` (anyone may call for it: keepers batch claims) what it is due now from its leaf.
    /// @return due what was paid by this call
    function claim(address account, address asset, uint256 amount, bytes32[] calldata proof) external returns (uint256 due) {
        if (!rootSet) revert RootNotSet();
        if (block.timestamp > claimDeadline) revert ClaimPeriodOver(claimDeadline, block.timestamp);
        if (account == address(0)) revert ReservedAccount();
        if (exclusionsApplied < exclusionCount) revert ExclusionsPending(exclusionsApplied, exclusionCount);
        if (excluded[account]) revert Excluded(account);
        bytes32 leaf = leafOf(account, asset, amount);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(account, leaf);
        uint256 entitled = entitlement(asset, amount);
        uint256 already = paid[account][asset];
        if (entitled <= already) revert NothingDue(account, asset, entitled, already);
        due = entitled - already;
        uint256 balance = IERC20(asset).balanceOf(address(this));
        // only a table whose leaves sum past its own total leaf can reach this
        if (balance < due) revert InsufficientFunds(balance, due);
        paid[account][asset] = entitled;
        totalPaid[asset] += due;
        emit Claimed(account, asset, due, entitled, amount);
        IERC20(asset).safeTransfer(account, due);
    }

    /// @notice After the deadline, send what is left of `asset` to governance (the owner).
    function sweep(address asset) external returns (uint256 amount) {
        if (!rootSet) revert RootNotSet();
        if (block.timestamp <= claimDeadline) revert ClaimPeriodOpen(claimDeadline, block.timestamp);
        amount = IERC20(asset).balanceOf(address(this));
        if (amount == 0) revert NothingToSweep(asset);
        address to = owner();
        emit Swept(asset, to, amount);
        IERC20(asset).safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------ views

    function leafOf(address account, address asset, uint256 amount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, asset, amount))));
    }

    /// @notice What the distributor received in `asset` (balance + paid out), capped at the proven total.
    function funded(address asset) public view returns (uint256) {
        uint256 total = totalOwed[asset];
        if (total == 0) revert TotalNotProven(asset);
        return Math.min(IERC20(asset).balanceOf(address(this)) + totalPaid[asset], total);
    }

    /// @notice floor(amount * funded / total): what a leaf of `amount` is entitled to at the current funding.
    function entitlement(address asset, uint256 amount) public view returns (uint256) {
        return Math.mulDiv(amount, funded(asset), totalOwed[asset]);
    }
}
