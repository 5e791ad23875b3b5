// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ArkStateV4} from "./ArkStateV4.sol";

/// @title Escape valuation of an account of the reference venue at a certified block (snapshot/SPEC.md §1.5.2)
/// @notice The same exact-integer arithmetic as snapshot/valuation/escape-value.ts (and PerpExchange._margin):
///   equity  = Σ haircut collateral value (feed 0: amount × haircut / 1e4; else amount × price × haircut / (10^priceDecimals × 1e4))
///           + Σ size × (mark − entryPrice) / 10^priceDecimals
///           − Σ size × (fundingIndex + fundingRate × (timestamp − lastFundingTime) − positionFundingIndex) / 1e18
///   fees    = 0 (the reference venue charges no trading fee; its liquidation fee applies only to a liquidation)
///   options = Σ ± intrinsic(mark) × |size| / 10^priceDecimals (+ bought, − written; no time value)
///   value   = max(0, equity − fees + options)
/// Division truncates toward zero at each term, as the venue's does. Every input comes from v4 leaves, so a
/// contract can take them from proofs against a certified stateRoot (`verifiedValue`).
library EscapeValuation {
    uint256 internal constant ONE = 1e18;
    uint256 internal constant BPS = 10_000;

    struct Result {
        int256 collateralValue;
        int256 unrealizedPnl;
        int256 fundingOwed;
        /// PerpExchange.equity at the block
        int256 equity;
        int256 fees;
        int256 optionsValue;
        /// equity − fees + optionsValue, before the floor
        int256 total;
        /// max(0, total)
        uint256 value;
    }

    /// @notice Proofs against the stateRoot for each input leaf (assets[i] with assets[i], and so on).
    struct Proofs {
        bytes32[] account;
        bytes32[][] assets;
        bytes32[][] markets;
        bytes32[] blockInfo;
    }

    error UnknownAsset(address asset);
    error UnknownMarket(uint64 market);
    error InvalidPrice(int256 price);
    error FundingTimeAfterBlock(uint64 market, uint64 lastFundingTime, uint64 timestamp);
    error LengthMismatch();
    error InvalidAccountProof(address account);
    error InvalidAssetProof(uint256 index);
    error InvalidMarketProof(uint256 index);
    error InvalidBlockProof();

    function _asset(ArkStateV4.Asset[] memory assets, address a) private pure returns (ArkStateV4.Asset memory) {
        for (uint256 i; i < assets.length; ++i) if (assets[i].asset == a) return assets[i];
        revert UnknownAsset(a);
    }

    function _market(ArkStateV4.Market[] memory markets, uint64 id) private pure returns (ArkStateV4.Market memory m) {
        for (uint256 i; i < markets.length; ++i) {
            if (markets[i].id == id) {
                m = markets[i];
                if (m.price <= 0) revert InvalidPrice(m.price);
                return m;
            }
        }
        revert UnknownMarket(id);
    }

    function collateralValue(ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets) internal pure returns (int256 v) {
        if (a.assets.length != a.amounts.length) revert LengthMismatch();
        for (uint256 i; i < a.assets.length; ++i) {
            ArkStateV4.Asset memory x = _asset(assets, a.assets[i]);
            uint256 amount = a.amounts[i];
            if (x.feed == address(0)) {
                v += int256(amount * x.haircutBps / BPS);
            } else {
                if (x.price <= 0) revert InvalidPrice(x.price);
                v += int256(amount * uint256(x.price) * x.haircutBps / (10 ** x.priceDecimals * BPS));
            }
        }
    }

    /// @notice The market's funding index accrued to `timestamp`, as PerpExchange._currentIndex at that block.
    function currentIndex(ArkStateV4.Market memory m, uint64 timestamp) internal pure returns (int256) {
        if (m.lastFundingTime > timestamp) revert FundingTimeAfterBlock(m.id, m.lastFundingTime, timestamp);
        return m.fundingIndex + m.fundingRate * int256(uint256(timestamp - m.lastFundingTime));
    }

    function perpTerms(ArkStateV4.Account memory a, ArkStateV4.Market[] memory markets, uint64 timestamp) internal pure returns (int256 pnl, int256 funding) {
        uint256 n = a.perpMarkets.length;
        if (a.perpSizes.length != n || a.perpEntryPrices.length != n || a.perpFundingIndexes.length != n) revert LengthMismatch();
        for (uint256 j; j < n; ++j) {
            ArkStateV4.Market memory m = _market(markets, a.perpMarkets[j]);
            int256 size = a.perpSizes[j];
            pnl += size * (m.price - int256(a.perpEntryPrices[j])) / int256(10 ** m.priceDecimals);
            funding += size * (currentIndex(m, timestamp) - a.perpFundingIndexes[j]) / int256(ONE);
        }
    }

    function optionsValue(ArkStateV4.Account memory a, ArkStateV4.Market[] memory markets) internal pure returns (int256 v) {
        uint256 n = a.optionMarkets.length;
        if (a.optionIsCall.length != n || a.optionStrikes.length != n || a.optionExpiries.length != n || a.optionSizes.length != n) revert LengthMismatch();
        for (uint256 k; k < n; ++k) {
            ArkStateV4.Market memory m = _market(markets, a.optionMarkets[k]);
            uint256 price = uint256(m.price);
            uint256 strike = a.optionStrikes[k];
            uint256 intrinsic = a.optionIsCall[k] ? (price > strike ? price - strike : 0) : (strike > price ? strike - price : 0);
            int256 size = a.optionSizes[k];
            uint256 absSize = size >= 0 ? uint256(size) : uint256(-size);
            int256 amount = int256(intrinsic * absSize / 10 ** m.priceDecimals);
            v += size >= 0 ? amount : -amount;
        }
    }

    /// @notice The valuation from leaf values alone (the caller vouches for them; see verifiedValue).
    function value(ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets, ArkStateV4.Market[] memory markets, uint64 timestamp) internal pure returns (Result memory r) {
        r.collateralValue = collateralValue(a, assets);
        (r.unrealizedPnl, r.fundingOwed) = perpTerms(a, markets, timestamp);
        r.equity = r.collateralValue + r.unrealizedPnl - r.fundingOwed;
        r.fees = 0;
        r.optionsValue = optionsValue(a, markets);
        r.total = r.equity - r.fees + r.optionsValue;
        r.value = r.total < 0 ? 0 : uint256(r.total);
    }

    /// @notice Reverts unless every leaf is in the certified state: the account, each asset and market given, the block.
    function verifyInputs(bytes32 stateRoot, ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets, ArkStateV4.Market[] memory markets, ArkStateV4.BlockInfo memory blk, Proofs memory proofs) internal pure {
        if (!ArkStateV4.verifyAccount(stateRoot, a, proofs.account)) revert InvalidAccountProof(a.account);
        if (proofs.assets.length != assets.length || proofs.markets.length != markets.length) revert LengthMismatch();
        for (uint256 i; i < assets.length; ++i) if (!ArkStateV4.verifyAsset(stateRoot, assets[i], proofs.assets[i])) revert InvalidAssetProof(i);
        for (uint256 i; i < markets.length; ++i) if (!ArkStateV4.verifyMarket(stateRoot, markets[i], proofs.markets[i])) revert InvalidMarketProof(i);
        if (!ArkStateV4.verifyBlock(stateRoot, blk, proofs.blockInfo)) revert InvalidBlockProof();
    }

    /// @notice The valuation of a certified account: every input proven against `stateRoot` first.
    function verifiedValue(bytes32 stateRoot, ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets, ArkStateV4.Market[] memory markets, ArkStateV4.BlockInfo memory blk, Proofs memory proofs) internal pure returns (Result memory) {
        verifyInputs(stateRoot, a, assets, markets, blk, proofs);
        return value(a, assets, markets, blk.timestamp);
    }
}

/// @notice The library as a deployable view contract.
contract EscapeValuator {
    function value(ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets, ArkStateV4.Market[] memory markets, uint64 timestamp) external pure returns (EscapeValuation.Result memory) {
        return EscapeValuation.value(a, assets, markets, timestamp);
    }

    function verifiedValue(bytes32 stateRoot, ArkStateV4.Account memory a, ArkStateV4.Asset[] memory assets, ArkStateV4.Market[] memory markets, ArkStateV4.BlockInfo memory blk, EscapeValuation.Proofs memory proofs) external pure returns (EscapeValuation.Result memory) {
        return EscapeValuation.verifiedValue(stateRoot, a, assets, markets, blk, proofs);
    }
}
