// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title Ark operator registry and certificate sink
/// @notice Holds the weighted Ark operator set (governed by the owner) and accepts quorum certificates:
/// EIP-712 attestations over a snapshot, signed by distinct operators whose weight reaches the threshold.
/// An accepted certificate records the attested state root per (adapterId, configHash, blockNumber).
/// Off-chain nodes read the set with pinned `eth_call`s at the certificate's block, so the set history
/// is the chain's state history; no snapshots of the set are kept here.
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

    /// @notice stateRootOf[keccak256(abi.encode(adapterId, configHash))][blockNumber]
    mapping(bytes32 => mapping(uint64 => bytes32)) public stateRootOf;

    event OperatorAdded(address indexed operator, uint96 weight);
    event OperatorRemoved(address indexed operator);
    event WeightChanged(address indexed operator, uint96 oldWeight, uint96 newWeight);
    /// @notice `threshold` 0 means "back to the default"; `effective` is what threshold() now returns.
    event ThresholdChanged(uint256 threshold, uint256 effective);
    event CertificateSubmitted(
        bytes32 indexed adapterKey, uint64 indexed blockNumber, bytes32 stateRoot, bytes32 blockHash, bytes snapshotCid, uint256 weight
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
    error ZeroStateRoot();
    error NoSignatures();
    error UnsortedSigners(uint256 index, address signer, address previous);
    error DuplicateSigner(uint256 index, address signer);
    error UnknownSigner(uint256 index, address signer);
    /// @notice The signature does not recover to the claimed signer (or v is not 27/28, or it is malformed).
    error InvalidSignature(uint256 index, address signer);
    /// @notice The signature's s is in the upper half of the curve order: a malleable twin of a valid one.
    error HighSSignature(uint256 index, address signer);
    error BelowThreshold(uint256 weight, uint256 threshold);
    error ConflictingRoot(bytes32 adapterKey, uint64 blockNumber, bytes32 recorded, bytes32 submitted);

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
        emit OperatorRemoved(operator);
        _checkThreshold();
    }

    function setWeight(address operator, uint96 weight) external onlyOwner {
        if (_position[operator] == 0) revert NotOperator(operator);
        if (weight == 0) revert ZeroWeight(operator);
        uint96 old = _weight[operator];
        _weight[operator] = weight;
        _totalWeight = _totalWeight - old + weight;
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
        emit OperatorAdded(operator, weight);
    }

    function _checkThreshold() private view {
        uint256 total = _totalWeight;
        if (total == 0) return;
        uint256 t = threshold();
        if (t > total) revert ThresholdTooHigh(t, total);
        if (2 * t <= total) revert ThresholdTooLow(t, total);
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

    function recordedRoot(string calldata adapterId, bytes32 configHash, uint64 blockNumber) external view returns (bytes32) {
        return stateRootOf[adapterKey(adapterId, configHash)][blockNumber];
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

    /// @notice Accept a certificate: signers strictly increasing, each a current operator with a valid
    /// low-s signature over the attestation, summed weight >= threshold. Records the state root; the same
    /// root again is a no-op (no event), a different root for the same adapter/config/block reverts.
    /// If the attested block is among the last 256, its hash must match the chain's.
    function submitCertificate(Attestation calldata a, address[] calldata signers, bytes[] calldata signatures) external {
        if (a.chainId != block.chainid) revert WrongChain(a.chainId, block.chainid);
        if (a.stateRoot == bytes32(0)) revert ZeroStateRoot();
        bytes32 onChain = blockhash(a.blockNumber);
        if (onChain != bytes32(0) && onChain != a.blockHash) revert BlockHashMismatch(a.blockNumber, a.blockHash, onChain);
        if (signers.length != signatures.length) revert LengthMismatch(signers.length, signatures.length);
        if (signers.length == 0) revert NoSignatures();

        uint256 weight = _signedWeight(attestationDigest(a), signers, signatures);
        uint256 t = threshold();
        if (weight < t) revert BelowThreshold(weight, t);

        bytes32 key = adapterKey(a.adapterId, a.configHash);
        bytes32 recorded = stateRootOf[key][a.blockNumber];
        if (recorded == a.stateRoot) return;
        if (recorded != bytes32(0)) revert ConflictingRoot(key, a.blockNumber, recorded, a.stateRoot);
        stateRootOf[key][a.blockNumber] = a.stateRoot;
        emit CertificateSubmitted(key, a.blockNumber, a.stateRoot, a.blockHash, a.snapshotCid, weight);
    }

    function _signedWeight(bytes32 digest, address[] calldata signers, bytes[] calldata signatures) private view returns (uint256 weight) {
        address prev = address(0);
        for (uint256 i = 0; i < signers.length; i++) {
            address signer = signers[i];
            if (i > 0) {
                if (signer == prev) revert DuplicateSigner(i, signer);
                if (signer < prev) revert UnsortedSigners(i, signer, prev);
            }
            prev = signer;
            uint96 w = _weight[signer];
            if (w == 0) revert UnknownSigner(i, signer);
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err == ECDSA.RecoverError.InvalidSignatureS) revert HighSSignature(i, signer);
            if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignature(i, signer);
            weight += w;
        }
    }
}
