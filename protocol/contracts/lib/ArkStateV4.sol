// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Leaves of an Ark snapshot under record schema ark.derivatives.account v4 (snapshot/SPEC.md §1.5)
/// @notice stateRoot = hashPair(accountsRoot, marketsRoot) (OpenZeppelin's commutative keccak), so every leaf
/// below is checked with a plain `MerkleProof.verify(proof, stateRoot, leaf)`: an account proof ends with
/// marketsRoot, a market-tree proof with accountsRoot. Every leaf is an OpenZeppelin StandardMerkleTree leaf,
/// keccak256(bytes.concat(keccak256(abi.encode(values...)))). Market-tree leaves start with a tag (keccak256 of
/// a name), which an account leaf (first word: an address) can never equal.
library ArkStateV4 {
    bytes32 internal constant ASSET_TAG = keccak256("ark.derivatives.v4.asset");
    bytes32 internal constant MARKET_TAG = keccak256("ark.derivatives.v4.market");
    bytes32 internal constant BLOCK_TAG = keccak256("ark.derivatives.v4.block");

    /// @notice An account's leaf values, in leaf order. Lists are as in the record: collateral sorted by asset,
    /// perps by market, options by (market, put before call, strike, expiry); parallel arrays have equal length.
    struct Account {
        address account;
        bytes32 recordHash;
        address[] assets;
        uint256[] amounts;
        uint64[] perpMarkets;
        int256[] perpSizes;
        uint256[] perpEntryPrices;
        int256[] perpFundingIndexes;
        uint64[] optionMarkets;
        bool[] optionIsCall;
        uint256[] optionStrikes;
        uint64[] optionExpiries;
        int256[] optionSizes;
    }

    /// @notice A collateral asset: haircut and how it is priced (feed 0: par, 1:1 in quote units).
    struct Asset {
        address asset;
        uint16 haircutBps;
        uint8 decimals;
        address feed;
        int256 price;
        uint80 roundId;
        uint64 updatedAt;
        uint8 priceDecimals;
    }

    /// @notice A perp market at the block: mark price, open interest, funding and margin rules (1e18-scaled).
    struct Market {
        uint64 id;
        address feed;
        int256 price;
        uint80 roundId;
        uint64 updatedAt;
        uint8 priceDecimals;
        uint256 longOpenInterest;
        uint256 shortOpenInterest;
        int256 fundingIndex;
        int256 fundingRate;
        uint64 lastFundingTime;
        uint256 initialMarginRatio;
        uint256 maintenanceMarginRatio;
        uint256 liquidationFee;
    }

    /// @notice The certified block (its timestamp is what funding accrues to).
    struct BlockInfo {
        uint64 chainId;
        uint64 number;
        bytes32 hash;
        uint64 timestamp;
    }

    /// @dev abi.encode of a struct with dynamic members is (0x20 offset word, tuple); the leaf is over the tuple
    /// alone, which is exactly abi.encode(account, recordHash, assets, ...).
    function accountLeaf(Account memory a) internal pure returns (bytes32 leaf) {
        bytes memory enc = abi.encode(a);
        bytes32 inner;
        assembly ("memory-safe") {
            inner := keccak256(add(enc, 64), sub(mload(enc), 32))
        }
        leaf = keccak256(bytes.concat(inner));
    }

    function assetLeaf(Asset memory x) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(ASSET_TAG, x))));
    }

    function marketLeaf(Market memory m) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(MARKET_TAG, m))));
    }

    function blockLeaf(BlockInfo memory b) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(BLOCK_TAG, b))));
    }

    function verifyAccount(bytes32 stateRoot, Account memory a, bytes32[] memory proof) internal pure returns (bool) {
        return MerkleProof.verify(proof, stateRoot, accountLeaf(a));
    }

    function verifyAsset(bytes32 stateRoot, Asset memory x, bytes32[] memory proof) internal pure returns (bool) {
        return MerkleProof.verify(proof, stateRoot, assetLeaf(x));
    }

    function verifyMarket(bytes32 stateRoot, Market memory m, bytes32[] memory proof) internal pure returns (bool) {
        return MerkleProof.verify(proof, stateRoot, marketLeaf(m));
    }

    function verifyBlock(bytes32 stateRoot, BlockInfo memory b, bytes32[] memory proof) internal pure returns (bool) {
        return MerkleProof.verify(proof, stateRoot, blockLeaf(b));
    }
}

/// @notice The library as a deployable view contract, for off-chain checks and for contracts that prefer a call.
contract ArkStateV4Verifier {
    function accountLeaf(ArkStateV4.Account calldata a) external pure returns (bytes32) {
        return ArkStateV4.accountLeaf(a);
    }

    function assetLeaf(ArkStateV4.Asset calldata x) external pure returns (bytes32) {
        return ArkStateV4.assetLeaf(x);
    }

    function marketLeaf(ArkStateV4.Market calldata m) external pure returns (bytes32) {
        return ArkStateV4.marketLeaf(m);
    }

    function blockLeaf(ArkStateV4.BlockInfo calldata b) external pure returns (bytes32) {
        return ArkStateV4.blockLeaf(b);
    }

    function verifyAccount(bytes32 stateRoot, ArkStateV4.Account calldata a, bytes32[] calldata proof) external pure returns (bool) {
        return ArkStateV4.verifyAccount(stateRoot, a, proof);
    }

    function verifyAsset(bytes32 stateRoot, ArkStateV4.Asset calldata x, bytes32[] calldata proof) external pure returns (bool) {
        return ArkStateV4.verifyAsset(stateRoot, x, proof);
    }

    function verifyMarket(bytes32 stateRoot, ArkStateV4.Market calldata m, bytes32[] calldata proof) external pure returns (bool) {
        return ArkStateV4.verifyMarket(stateRoot, m, proof);
    }

    function verifyBlock(bytes32 stateRoot, ArkStateV4.BlockInfo calldata b, bytes32[] calldata proof) external pure returns (bool) {
        return ArkStateV4.verifyBlock(stateRoot, b, proof);
    }
}
