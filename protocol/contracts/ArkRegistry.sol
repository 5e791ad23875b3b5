// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Ark operator registry and certificate sink
/// @notice Holds the weighted Ark operator set (governed by the owner) and accepts quorum certificates:
/// EIP-712 attestations over a snapshot, signed by distinct operators whose weight reaches the threshold.
/// An accepted certificate records the attested state root per (adapterId, configHash, kind, blockNumber);
/// `kind` is the attestation's (0 scheduled, 1 emergency, 2 restitution), so a restitution root never
/// collides with the snapshot of the same block. A zero stateRoot (the empty snapshot) is recordable:
/// `isRecorded` says whether anything was recorded, `recordedRoot` alone cannot.
///
/// Set history: every change checkpoints (OpenZeppelin `Checkpoints`, keyed by block number) each
/// operator's weight, the total weight and the effective threshold, and a certificate for block N is
/// checked against the set in effect after block N (the last change at a block <= N), i.e. the same set
/// off-chain nodes read with `eth_call`s pinned at N. So removing a signer later does not invalidate an
/// old certificate, and a signer added after N cannot sign for N. The constructor's set is checkpointed
/// at block 0: for blocks before the registry existed, the initial set applies (governance deploying a
/// registry after an incident can anchor a certificate of the pre-incident block signed by the set it
/// installed; off-chain readers cannot pin calls before the deployment and use a trust file instead).
/// A certificate for the current block or a later one is refused (its set is not final yet).
///
/// Threshold rules (checked after every change while the set is non-empty):
///   2 * threshold > totalWeight   (two disjoint quorums cannot exist)
///   threshold <= totalWeight      (a quorum can exist)
/// Until governance sets a threshold explicitly, `threshold()` is the default floor(2 * total / 3) + 1
/// (protocol/operator-set.ts defaultThreshold), which always satisfies both rules, so operators can be
/// added one by one. `setThreshold(0)` returns to the default. With an explicit threshold, every change
/// to the set must keep the rules; to grow a set past them, set the new threshold afterwards or return
/// to the default first. While the set is empty nothing is checked (and no certificate can pass).
///
/// The EIP-712 domain is {name "Ark", version "1", chainId} with NO verifyingContract
/// (protocol/eip712.ts), so the same signatures verify off-chain against any copy of the set; OpenZeppelin's
/// EIP712 base would add verifyingContract, so the domain separator is computed here.
contract ArkRegistry is Ownable2Step {
    using Checkpoints for Checkpoints.Trace208;
    using Checkpoints for Checkpoints.Trace256;
    /// @dev Field order and types match ATTESTATION_TYPES in protocol/eip712.ts exactly.
    struct Attestation {
        uint256 chainId;
        string adapterId;
        bytes32 configHash;
        uint64 blockNumber;
        bytes32 blockHash;
        bytes snapshotCid;
        bytes32 stateRoot;
        uint32 specVersion;
        uint8 kind;
    }

    bytes32 public constant DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version,uint256 chainId)");
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(uint256 chainId,string adapterId,bytes32 configHash,uint64 blockNumber,bytes32 blockHash,bytes snapshotCid,bytes32 stateRoot,uint32 specVersion,uint8 kind)"
    );
    bytes32 private constant NAME_HASH = keccak256("Ark");
    bytes32 private constant VERSION_HASH = keccak256("1");

    address[] private _operators;
    /// @dev 1-based position in _operators; 0 = not an operator
    mapping(address => uint256) private _position;
    mapping(address => uint96) private _weight;
    uint256 private _totalWeight;
    /// @dev 0 = never set explicitly (or reset): threshold() is the default
    uint256 private _threshold;

    /// @dev weight per operator, total weight and effective threshold, keyed by block number
    mapping(address => Checkpoints.Trace208) private _weightHistory;
    Checkpoints.Trace256 private _totalHistory;
    Checkpoints.Trace256 private _thresholdHistory;

    struct Record {
        bytes32 stateRoot;
        bool recorded;
    }

    /// @dev _records[adapterKey][kind][blockNumber]
    mapping(bytes32 => mapping(uint8 => mapping(uint64 => Record))) private _records;

    event OperatorAdded(address indexed operator, uint96 weight);
    event OperatorRemoved(address indexed operator);
    event WeightChanged(address indexed operator, uint96 oldWeight, uint96 newWeight);
    /// @notice `threshold` 0 means "back to the default"; `effective` is what threshold() now returns.
    event ThresholdChanged(uint256 threshold, uint256 effective);
    event CertificateSubmitted(
        bytes32 indexed adapterKey, uint64 indexed blockNumber, uint8 indexed kind, bytes32 stateRoot, bytes32 blockHash, bytes snapshotCid, uint256 weight
    );

    error ZeroAddress();
    error ZeroWeight(address operator);
    error AlreadyOperator(address operator);
    error NotOperator(address operator);
    error LengthMismatch(uint256 signers, uint256 signatures);
    /// @notice 2 * threshold <= totalWeight: two disjoint quorums could certify conflicting roots.
    error ThresholdTooLow(uint256 threshold, uint256 totalWeight);
    /// @notice threshold > totalWeight: no quorum could ever form.
    error ThresholdTooHigh(uint256 threshold, uint256 totalWeight);
    error WrongChain(uint256 attested, uint256 current);
    error BlockHashMismatch(uint64 blockNumber, bytes32 attested, bytes32 onChain);
    /// @notice The certificate names the current block or a later one: its operator set is not final yet
    /// (an eth_call at "latest" runs as the latest block, so simulate a certificate of the head at "pending").
    error FutureBlock(uint64 blockNumber, uint256 current);
    error NoSignatures();
    error UnsortedSigners(uint256 index, address signer, address previous);
    error DuplicateSigner(uint256 index, address signer);
    error UnknownSigner(uint256 index, address signer);
    /// @notice The signature does not recover to the claimed signer (or v is not 27/28, or it is malformed).
    error InvalidSignature(uint256 index, address signer);
    /// @notice The signature's s is in the upper half of the curve order: a malleable twin of a valid one.
    error HighSSignature(uint256 index, address signer);
    error BelowThreshold(uint256 weight, uint256 threshold);
    error ConflictingRoot(bytes32 adapterKey, uint8 kind, uint64 blockNumber, bytes32 recorded, bytes32 submitted);

    /// @param initialOwner governance
    /// @param addrs initial operators (may be empty)
    /// @param weights their weights (same length, each > 0)
    /// @param threshold_ explicit threshold, or 0 for the default
    constructor(address initialOwner, address[] memory addrs, uint96[] memory weights, uint256 threshold_) Ownable(initialOwner) {
        if (addrs.length != weights.length) revert LengthMismatch(addrs.length, weights.length);
        for (uint256 i = 0; i < addrs.length; i++) _add(addrs[i], weights[i]);
        _threshold = threshold_;
        if (threshold_ != 0) emit ThresholdChanged(threshold_, threshold());
        _checkThreshold();
    }

    /// @dev Key of the checkpoints a change writes now: 0 during construction (the initial set applies to
    /// every earlier block, see the contract notes), else the current block.
    function _now() private view returns (uint48) {
        return address(this).code.length == 0 ? 0 : SafeCast.toUint48(block.number);
    }

    function _checkpointWeight(address operator, uint96 weight) private {
        _weightHistory[operator].push(_now(), weight);
    }

    // ------------------------------------------------------------------ governance

    function addOperator(address operator, uint96 weight) external onlyOwner {
        _add(operator, weight);
        _checkThreshold();
    }

    function removeOperator(address operator) external onlyOwner {
        uint256 pos = _position[operator];
        if (pos == 0) revert NotOperator(operator);
        address last = _operators[_operators.length - 1];
        _operators[pos - 1] = last;
        _position[last] = pos;
        _operators.pop();
        _totalWeight -= _weight[operator];
        delete _position[operator];
        delete _weight[operator];
        _checkpointWeight(operator, 0);
        emit OperatorRemoved(operator);
        _checkThreshold();
    }

    function setWeight(address operator, uint96 weight) external onlyOwner {
        if (_position[operator] == 0) revert NotOperator(operator);
        if (weight == 0) revert ZeroWeight(operator);
        uint96 old = _weight[operator];
        _weight[operator] = weight;
        _totalWeight = _totalWeight - old + weight;
        _checkpointWeight(operator, weight);
        emit WeightChanged(operator, old, weight);
        _checkThreshold();
    }

    /// @param threshold_ the new threshold, or 0 to return to the default floor(2 * total / 3) + 1
    function setThreshold(uint256 threshold_) external onlyOwner {
        _threshold = threshold_;
        _checkThreshold();
        emit ThresholdChanged(threshold_, threshold());
    }

    function _add(address operator, uint96 weight) private {
        if (operator == address(0)) revert ZeroAddress();
        if (weight == 0) revert ZeroWeight(operator);
        if (_position[operator] != 0) revert AlreadyOperator(operator);
        _operators.push(operator);
        _position[operator] = _operators.length;
        _weight[operator] = weight;
        _totalWeight += weight;
        _checkpointWeight(operator, weight);
        emit OperatorAdded(operator, weight);
    }

    /// @dev Runs after every change: checks the rules, then checkpoints the total and the effective threshold.
    function _checkThreshold() private {
        uint256 total = _totalWeight;
        uint256 t = threshold();
        if (total != 0) {
            if (t > total) revert ThresholdTooHigh(t, total);
            if (2 * t <= total) revert ThresholdTooLow(t, total);
        }
        uint48 key = _now();
        _totalHistory.push(key, total);
        _thresholdHistory.push(key, t);
    }

    // ------------------------------------------------------------------ views

    function operators() external view returns (address[] memory addrs, uint96[] memory weights) {
        addrs = _operators;
        weights = new uint96[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) weights[i] = _weight[addrs[i]];
    }

    /// @notice The explicit threshold, or floor(2 * totalWeight / 3) + 1 if none is set.
    function threshold() public view returns (uint256) {
        return _threshold != 0 ? _threshold : (2 * _totalWeight) / 3 + 1;
    }

    /// @notice Whether threshold() is an explicit value rather than the default.
    function thresholdIsExplicit() external view returns (bool) {
        return _threshold != 0;
    }

    function totalWeight() external view returns (uint256) {
        return _totalWeight;
    }

    /// @notice 0 for non-operators.
    function weightOf(address operator) external view returns (uint96) {
        return _weight[operator];
    }

    /// @notice The operator's weight in the set in effect after `blockNumber` (0 = not an operator then).
    function weightAt(address operator, uint64 blockNumber) public view returns (uint256) {
        return _weightHistory[operator].upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @notice The total weight in effect after `blockNumber`.
    function totalWeightAt(uint64 blockNumber) external view returns (uint256) {
        return _totalHistory.upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @notice The effective threshold in effect after `blockNumber` (what threshold() returned then).
    function thresholdAt(uint64 blockNumber) public view returns (uint256) {
        return _thresholdHistory.upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @notice The recorded stateRoot of a kind-0 (scheduled) snapshot, or zero. Kept for callers of the
    /// first registry; a zero result is ambiguous since the empty snapshot is recordable (use isRecorded).
    function recordedRoot(string calldata adapterId, bytes32 configHash, uint64 blockNumber) external view returns (bytes32) {
        return _records[adapterKey(adapterId, configHash)][0][blockNumber].stateRoot;
    }

    /// @notice The recorded stateRoot for (adapterId, configHash, kind, blockNumber), or zero.
    function recordedRoot(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bytes32) {
        return _records[adapterKey(adapterId, configHash)][kind][blockNumber].stateRoot;
    }

    /// @notice Whether a certificate for (adapterId, configHash, kind, blockNumber) was recorded (its root may be zero).
    function isRecorded(string calldata adapterId, bytes32 configHash, uint8 kind, uint64 blockNumber) external view returns (bool) {
        return _records[adapterKey(adapterId, configHash)][kind][blockNumber].recorded;
    }

    /// @notice The record under an adapter key: (stateRoot, recorded).
    function recordOf(bytes32 key, uint8 kind, uint64 blockNumber) external view returns (bytes32 stateRoot, bool recorded) {
        Record storage r = _records[key][kind][blockNumber];
        return (r.stateRoot, r.recorded);
    }

    function adapterKey(string calldata adapterId, bytes32 configHash) public pure returns (bytes32) {
        return keccak256(abi.encode(adapterId, configHash));
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid));
    }

    /// @notice The EIP-712 digest operators sign (protocol/attestation.ts attestationDigest).
    function attestationDigest(Attestation calldata a) public view returns (bytes32) {
        // two halves: ten words in one abi.encode is too deep for the legacy pipeline; both halves are
        // static words, so the concatenation equals abi.encode of all ten
        bytes memory head = abi.encode(ATTESTATION_TYPEHASH, a.chainId, keccak256(bytes(a.adapterId)), a.configHash, a.blockNumber);
        bytes memory tail = abi.encode(a.blockHash, keccak256(a.snapshotCid), a.stateRoot, a.specVersion, a.kind);
        return MessageHashUtils.toTypedDataHash(domainSeparator(), keccak256(bytes.concat(head, tail)));
    }

    // ------------------------------------------------------------------ certificates

    /// @notice Accept a certificate: signers strictly increasing, each an operator of the set in effect
    /// at the attested block with a valid low-s signature over the attestation, summed weight >= that
    /// set's threshold. Records the state root (zero allowed: the empty snapshot) under (adapter, kind,
    /// block); the same root again is a no-op (no event), a different root for the same key reverts.
    /// If the attested block is among the last 256, its hash must match the chain's.
    function submitCertificate(Attestation calldata a, address[] calldata signers, bytes[] calldata signatures) external {
        if (a.chainId != block.chainid) revert WrongChain(a.chainId, block.chainid);
        if (a.blockNumber >= block.number) revert FutureBlock(a.blockNumber, block.number);
        bytes32 onChain = blockhash(a.blockNumber);
        if (onChain != bytes32(0) && onChain != a.blockHash) revert BlockHashMismatch(a.blockNumber, a.blockHash, onChain);
        if (signers.length != signatures.length) revert LengthMismatch(signers.length, signatures.length);
        if (signers.length == 0) revert NoSignatures();

        uint256 weight = _signedWeight(attestationDigest(a), a.blockNumber, signers, signatures);
        uint256 t = thresholdAt(a.blockNumber);
        // t == 0 only if the set was empty at that block: no certificate can pass
        if (weight < t || t == 0) revert BelowThreshold(weight, t);

        bytes32 key = adapterKey(a.adapterId, a.configHash);
        Record storage r = _records[key][a.kind][a.blockNumber];
        if (r.recorded) {
            if (r.stateRoot == a.stateRoot) return;
            revert ConflictingRoot(key, a.kind, a.blockNumber, r.stateRoot, a.stateRoot);
        }
        r.stateRoot = a.stateRoot;
        r.recorded = true;
        emit CertificateSubmitted(key, a.blockNumber, a.kind, a.stateRoot, a.blockHash, a.snapshotCid, weight);
    }

    function _signedWeight(bytes32 digest, uint64 blockNumber, address[] calldata signers, bytes[] calldata signatures) private view returns (uint256 weight) {
        address prev = address(0);
        for (uint256 i = 0; i < signers.length; i++) {
            address signer = signers[i];
            if (i > 0) {
                if (signer == prev) revert DuplicateSigner(i, signer);
                if (signer < prev) revert UnsortedSigners(i, signer, prev);
            }
            prev = signer;
            uint256 w = weightAt(signer, blockNumber);
            if (w == 0) revert UnknownSigner(i, signer);
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err == ECDSA.RecoverError.InvalidSignatureS) revert HighSSignature(i, signer);
            if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignature(i, signer);
            weight += w;
        }
    }
}
