// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {PerpExchange} from "./PerpExchange.sol";

/// @title European cash-settled options against a pool
/// @notice The pool is this contract's own account on the PerpExchange (funded by depositFor); premiums
/// and settlements move exchange balances of the quote asset through transferCollateral.
/// @dev Deliberate simplifications of a reference protocol, not a pricing model:
/// - premium per unit = intrinsic + price * (expiry - now) / 365 days / 10 (price decimals);
/// - a write only checks, at write time, that the writer's quote balance covers the resulting short
///   position in that series (strike * size for puts, spot * size for calls); collateral is not locked
///   and option positions do not enter the exchange's margin;
/// - settlement is capped at what the payer holds; the shortfall is reported, not socialised.
contract OptionsMarket is Ownable {
    struct Series {
        uint64 market;
        bool isCall;
        bool settled;
        uint8 priceDecimals;
        address feed;
        uint64 expiry;
        uint256 strike;
        uint256 settlementPrice;
    }

    struct OptionPositionView {
        uint256 seriesId;
        uint64 market;
        bool isCall;
        uint256 strike;
        uint64 expiry;
        int256 size;
    }

    event SeriesListed(uint256 indexed seriesId, uint64 market, bool isCall, uint256 strike, uint64 expiry);
    event OptionPositionUpdated(address indexed account, uint256 indexed seriesId, int256 size);
    event SeriesSettled(uint256 indexed seriesId, uint256 settlementPrice);
    /// @notice The payer (the pool for a holder, the writer for a short) could not cover `amount`.
    event SettlementShortfall(address indexed account, uint256 indexed seriesId, uint256 amount);

    error UnknownSeries(uint256 seriesId);
    error InvalidSeries(uint256 strike, uint64 expiry);
    error SeriesExpired(uint256 seriesId, uint64 expiry);
    error SeriesNotExpired(uint256 seriesId, uint64 expiry);
    error SeriesAlreadySettled(uint256 seriesId);
    error SeriesNotSettled(uint256 seriesId);
    error ZeroSize();
    error NoOptionPosition(address account, uint256 seriesId);
    error InsufficientWriterCollateral(uint256 balance, uint256 required);
    error InsufficientMargin(int256 equity, uint256 required);
    error InvalidPrice(address feed, int256 answer);

    uint256 private constant YEAR = 365 days;

    PerpExchange public immutable exchange;
    address public immutable quoteAsset;

    Series[] private _series;
    mapping(address account => mapping(uint256 seriesId => int256)) private _positions;
    mapping(address account => uint256[]) private _open;
    mapping(address account => mapping(uint256 seriesId => uint256)) private _openSlot; // index + 1

    constructor(PerpExchange exchange_) Ownable(msg.sender) {
        exchange = exchange_;
        (quoteAsset,,,) = exchange_.assetAt(0);
    }

    function listSeries(uint64 market, bool isCall, uint256 strike, uint64 expiry) external onlyOwner returns (uint256 seriesId) {
        if (strike == 0 || expiry <= block.timestamp) revert InvalidSeries(strike, expiry);
        PerpExchange.MarketView memory m = exchange.getMarket(market);
        seriesId = _series.length;
        _series.push(
            Series({
                market: market,
                isCall: isCall,
                settled: false,
                priceDecimals: m.priceDecimals,
                feed: m.feed,
                expiry: expiry,
                strike: strike,
                settlementPrice: 0
            })
        );
        emit SeriesListed(seriesId, market, isCall, strike, expiry);
    }

    function buy(uint256 seriesId, uint256 size) external {
        if (size == 0) revert ZeroSize();
        Series storage s = _live(seriesId);
        uint256 cost = _premium(s, _price(s.feed), size);
        exchange.transferCollateral(msg.sender, address(this), quoteAsset, cost);
        _setPosition(msg.sender, seriesId, _positions[msg.sender][seriesId] + int256(size));
        int256 eq = exchange.equity(msg.sender);
        uint256 required = exchange.initialRequirement(msg.sender);
        if (eq < int256(required)) revert InsufficientMargin(eq, required);
    }

    function write(uint256 seriesId, uint256 size) external {
        if (size == 0) revert ZeroSize();
        Series storage s = _live(seriesId);
        uint256 price = _price(s.feed);
        int256 newSize = _positions[msg.sender][seriesId] - int256(size);
        if (newSize < 0) {
            uint256 required = uint256(-newSize) * (s.isCall ? price : s.strike) / (10 ** s.priceDecimals);
            uint256 balance = exchange.balanceOf(msg.sender, quoteAsset);
            if (balance < required) revert InsufficientWriterCollateral(balance, required);
        }
        exchange.transferCollateral(address(this), msg.sender, quoteAsset, _premium(s, price, size));
        _setPosition(msg.sender, seriesId, newSize);
    }

    /// @notice Fixes the settlement price from the oracle's latest answer once the series has expired.
    function settleSeries(uint256 seriesId) external {
        Series storage s = _get(seriesId);
        if (s.settled) revert SeriesAlreadySettled(seriesId);
        if (block.timestamp < s.expiry) revert SeriesNotExpired(seriesId, s.expiry);
        uint256 price = _price(s.feed);
        s.settled = true;
        s.settlementPrice = price;
        emit SeriesSettled(seriesId, price);
    }

    /// @notice Pays out one account's position in a settled series; callable by anyone.
    function settle(address account, uint256 seriesId) external {
        Series storage s = _get(seriesId);
        if (!s.settled) revert SeriesNotSettled(seriesId);
        int256 size = _positions[account][seriesId];
        if (size == 0) revert NoOptionPosition(account, seriesId);
        _setPosition(account, seriesId, 0);
        uint256 amount = _intrinsic(s, s.settlementPrice) * _abs(size) / (10 ** s.priceDecimals);
        if (amount == 0) return;
        address payer = size > 0 ? address(this) : account;
        address payee = size > 0 ? account : address(this);
        uint256 available = exchange.balanceOf(payer, quoteAsset);
        uint256 paid = amount > available ? available : amount;
        exchange.transferCollateral(payer, payee, quoteAsset, paid);
        if (paid < amount) emit SettlementShortfall(account, seriesId, amount - paid);
    }

    // ---------------------------------------------------------------- views

    function seriesCount() external view returns (uint256) {
        return _series.length;
    }

    function getSeries(uint256 seriesId)
        external
        view
        returns (uint64 market, bool isCall, uint256 strike, uint64 expiry, bool settled, uint256 settlementPrice)
    {
        Series storage s = _get(seriesId);
        return (s.market, s.isCall, s.strike, s.expiry, s.settled, s.settlementPrice);
    }

    /// @notice Premium for buying or writing `size` now (quote units, 18 decimals).
    function premium(uint256 seriesId, uint256 size) external view returns (uint256) {
        Series storage s = _live(seriesId);
        return _premium(s, _price(s.feed), size);
    }

    function getOptionPositions(address account) external view returns (OptionPositionView[] memory views) {
        uint256[] memory ids = _open[account];
        // insertion sort: an account holds few open series
        for (uint256 i = 1; i < ids.length; ++i) {
            uint256 key = ids[i];
            uint256 j = i;
            while (j > 0 && ids[j - 1] > key) {
                ids[j] = ids[j - 1];
                --j;
            }
            ids[j] = key;
        }
        views = new OptionPositionView[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            Series storage s = _series[ids[i]];
            views[i] = OptionPositionView({
                seriesId: ids[i],
                market: s.market,
                isCall: s.isCall,
                strike: s.strike,
                expiry: s.expiry,
                size: _positions[account][ids[i]]
            });
        }
    }

    // ---------------------------------------------------------------- internals

    function _get(uint256 seriesId) private view returns (Series storage) {
        if (seriesId >= _series.length) revert UnknownSeries(seriesId);
        return _series[seriesId];
    }

    function _live(uint256 seriesId) private view returns (Series storage s) {
        s = _get(seriesId);
        if (block.timestamp >= s.expiry) revert SeriesExpired(seriesId, s.expiry);
    }

    function _price(address feed) private view returns (uint256) {
        (, int256 answer,,,) = AggregatorV3Interface(feed).latestRoundData();
        if (answer <= 0) revert InvalidPrice(feed, answer);
        return uint256(answer);
    }

    function _intrinsic(Series storage s, uint256 price) private view returns (uint256) {
        if (s.isCall) return price > s.strike ? price - s.strike : 0;
        return s.strike > price ? s.strike - price : 0;
    }

    function _premium(Series storage s, uint256 price, uint256 size) private view returns (uint256) {
        uint256 perUnit = _intrinsic(s, price) + price * (s.expiry - block.timestamp) / YEAR / 10;
        return perUnit * size / (10 ** s.priceDecimals);
    }

    function _setPosition(address account, uint256 seriesId, int256 size) private {
        _positions[account][seriesId] = size;
        uint256 slot = _openSlot[account][seriesId];
        if (size != 0 && slot == 0) {
            _open[account].push(seriesId);
            _openSlot[account][seriesId] = _open[account].length;
        } else if (size == 0 && slot != 0) {
            uint256[] storage list = _open[account];
            uint256 last = list[list.length - 1];
            list[slot - 1] = last;
            _openSlot[account][last] = slot;
            list.pop();
            delete _openSlot[account][seriesId];
        }
        emit OptionPositionUpdated(account, seriesId, size);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
