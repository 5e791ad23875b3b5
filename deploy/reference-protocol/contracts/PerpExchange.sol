// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title Reference cross-margined perpetual futures exchange
/// @notice Ark's reference protocol. Every state change emits the account's or market's absolute new
/// state, so an indexer reproduces the views by folding logs with last-write-wins.
/// @dev Units: token amounts have 18 decimals; sizes are 1e18 units of the underlying (+ long, - short);
/// prices carry the feed's decimals; ratios and fees are 1e18-scaled; the funding index is quote (18
/// decimals) per 1e18 of size and the funding rate is that per second. Asset 0 is the quote asset: PnL,
/// funding and fees settle in it. Integer rounding follows the formulas literally (division truncates
/// toward zero), so an off-chain recomputation must apply the operations in the same order.
contract PerpExchange is Ownable {
    using SafeERC20 for IERC20;

    struct CollateralBalance {
        address asset;
        uint256 amount;
    }

    struct Position {
        uint64 market;
        int256 size;
        uint256 entryPrice;
        int256 fundingIndex;
    }

    struct MarketView {
        uint64 id;
        address feed;
        int256 price;
        uint80 roundId;
        uint256 updatedAt;
        uint8 priceDecimals;
        uint256 longOpenInterest;
        uint256 shortOpenInterest;
        int256 fundingIndex;
        int256 fundingRate;
        uint256 initialMarginRatio;
        uint256 maintenanceMarginRatio;
        uint256 liquidationFee;
        uint64 lastFundingTime;
    }

    struct Asset {
        address token;
        address feed;
        uint16 haircutBps;
        uint8 decimals;
        uint8 feedDecimals;
    }

    struct Market {
        address feed;
        uint8 priceDecimals;
        uint64 lastFundingTime;
        uint256 initialMarginRatio;
        uint256 maintenanceMarginRatio;
        uint256 liquidationFee;
        int256 fundingFactor;
        uint256 longOpenInterest;
        uint256 shortOpenInterest;
        int256 fundingIndex;
        int256 fundingRate;
    }

    struct PositionData {
        int256 size;
        uint256 entryPrice;
        int256 fundingIndex;
    }

    event AssetListed(address indexed asset, address feed, uint16 haircutBps, uint8 decimals);
    event MarketListed(
        uint64 indexed market,
        address feed,
        uint256 initialMarginRatio,
        uint256 maintenanceMarginRatio,
        uint256 liquidationFee,
        int256 fundingFactor
    );
    event CollateralUpdated(address indexed account, address indexed asset, uint256 balance);
    event PositionUpdated(address indexed account, uint64 indexed market, int256 size, uint256 entryPrice, int256 fundingIndex);
    event MarketUpdated(
        uint64 indexed market,
        uint256 longOpenInterest,
        uint256 shortOpenInterest,
        int256 fundingIndex,
        int256 fundingRate,
        uint64 lastFundingTime
    );
    event Liquidated(address indexed account, uint64 indexed market, address indexed keeper, int256 size, uint256 price, uint256 fee);
    event BadDebt(address indexed account, uint256 amount);
    event Paused(address guardian);
    event Unpaused(address guardian);
    event GuardianUpdated(address indexed guardian);
    event ModuleUpdated(address indexed module, bool enabled);

    error ExchangePaused();
    error PauseUnchanged(bool paused);
    error NotGuardian(address caller);
    error NotModule(address caller);
    error AssetAlreadyListed(address token);
    error UnknownAsset(address token);
    error QuoteAssetMustHaveNoFeed();
    error UnsupportedDecimals(uint8 decimals);
    error InvalidHaircut(uint16 haircutBps);
    error InvalidMarginParameters(uint256 initialMarginRatio, uint256 maintenanceMarginRatio, uint256 liquidationFee);
    error UnknownMarket(uint64 market);
    error InvalidPrice(address feed, int256 answer);
    error ZeroAmount();
    error ZeroSize();
    error InsufficientBalance(address account, address asset, uint256 balance, uint256 amount);
    error InsufficientMargin(int256 equity, uint256 required);
    error NotLiquidatable(int256 equity, uint256 required);
    error NoPosition(address account, uint64 market);

    uint256 private constant ONE = 1e18;
    uint256 private constant BPS = 10_000;

    address public guardian;
    bool public paused;
    mapping(address module => bool) public isModule;

    Asset[] private _assets;
    mapping(address token => uint256) private _assetSlot; // index + 1
    Market[] private _markets;
    mapping(address account => mapping(uint256 assetIndex => uint256)) private _balances;
    mapping(address account => mapping(uint64 market => PositionData)) private _positions;

    modifier whenNotPaused() {
        if (paused) revert ExchangePaused();
        _;
    }

    constructor(address guardian_) Ownable(msg.sender) {
        guardian = guardian_;
        emit GuardianUpdated(guardian_);
    }

    // ---------------------------------------------------------------- administration

    function setGuardian(address newGuardian) external onlyOwner {
        guardian = newGuardian;
        emit GuardianUpdated(newGuardian);
    }

    function setModule(address module, bool enabled) external onlyOwner {
        isModule[module] = enabled;
        emit ModuleUpdated(module, enabled);
    }

    /// @notice Lists a collateral asset. The first asset listed is the quote asset: it has no feed and
    /// is valued 1:1. Only 18-decimal tokens are accepted so balances and quote amounts share one scale.
    function listAsset(address token, address feed, uint16 haircutBps) external onlyOwner {
        if (_assetSlot[token] != 0) revert AssetAlreadyListed(token);
        if (_assets.length == 0 && feed != address(0)) revert QuoteAssetMustHaveNoFeed();
        if (haircutBps > BPS) revert InvalidHaircut(haircutBps);
        uint8 tokenDecimals = IERC20Metadata(token).decimals();
        if (tokenDecimals != 18) revert UnsupportedDecimals(tokenDecimals);
        uint8 feedDecimals = feed == address(0) ? 0 : AggregatorV3Interface(feed).decimals();
        _assets.push(Asset({token: token, feed: feed, haircutBps: haircutBps, decimals: tokenDecimals, feedDecimals: feedDecimals}));
        _assetSlot[token] = _assets.length;
        emit AssetListed(token, feed, haircutBps, tokenDecimals);
    }

    function listMarket(
        address feed,
        uint256 initialMarginRatio,
        uint256 maintenanceMarginRatio,
        uint256 liquidationFee,
        int256 fundingFactor
    ) external onlyOwner returns (uint64 id) {
        if (
            maintenanceMarginRatio == 0 || maintenanceMarginRatio > initialMarginRatio || initialMarginRatio > ONE
                || liquidationFee > maintenanceMarginRatio
        ) revert InvalidMarginParameters(initialMarginRatio, maintenanceMarginRatio, liquidationFee);
        id = uint64(_markets.length);
        Market storage m = _markets.push();
        m.feed = feed;
        m.priceDecimals = AggregatorV3Interface(feed).decimals();
        m.lastFundingTime = uint64(block.timestamp);
        m.initialMarginRatio = initialMarginRatio;
        m.maintenanceMarginRatio = maintenanceMarginRatio;
        m.liquidationFee = liquidationFee;
        m.fundingFactor = fundingFactor;
        emit MarketListed(id, feed, initialMarginRatio, maintenanceMarginRatio, liquidationFee, fundingFactor);
        _emitMarket(id, m);
    }

    function pause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        if (paused) revert PauseUnchanged(true);
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        if (!paused) revert PauseUnchanged(false);
        paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------- collateral

    function deposit(address asset, uint256 amount) external {
        _deposit(msg.sender, asset, amount);
    }

    /// @notice Deposits the caller's tokens to another account's balance (funding bots, pools, faucets).
    function depositFor(address account, address asset, uint256 amount) external {
        _deposit(account, asset, amount);
    }

    function withdraw(address asset, uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        uint256 index = _assetIndex(asset);
        uint256 balance = _balances[msg.sender][index];
        if (balance < amount) revert InsufficientBalance(msg.sender, asset, balance, amount);
        balance -= amount;
        _balances[msg.sender][index] = balance;
        emit CollateralUpdated(msg.sender, asset, balance);
        _requireInitialMargin(msg.sender);
        IERC20(asset).safeTransfer(msg.sender, amount);
    }

    /// @notice Moves exchange balances between accounts for an authorised module (the options market
    /// pays premiums and settlements this way). No margin check here: the module decides.
    function transferCollateral(address from, address to, address asset, uint256 amount) external whenNotPaused {
        if (!isModule[msg.sender]) revert NotModule(msg.sender);
        if (amount == 0) return;
        uint256 index = _assetIndex(asset);
        uint256 fromBalance = _balances[from][index];
        if (fromBalance < amount) revert InsufficientBalance(from, asset, fromBalance, amount);
        fromBalance -= amount;
        _balances[from][index] = fromBalance;
        emit CollateralUpdated(from, asset, fromBalance);
        uint256 toBalance = _balances[to][index] + amount;
        _balances[to][index] = toBalance;
        emit CollateralUpdated(to, asset, toBalance);
    }

    // ---------------------------------------------------------------- trading

    function trade(uint64 marketId, int256 sizeDelta) external whenNotPaused {
        if (sizeDelta == 0) revert ZeroSize();
        Market storage m = _market(marketId);
        _accrue(m);
        uint256 price = _price(m.feed);
        PositionData storage p = _positions[msg.sender][marketId];
        int256 oldSize = p.size;
        int256 newSize = oldSize + sizeDelta;
        _settlePosition(msg.sender, m, p, price);
        _setOpenInterest(m, oldSize, newSize);
        _writePosition(msg.sender, marketId, p, newSize, price, m.fundingIndex);
        _refreshRate(m);
        _emitMarket(marketId, m);
        bool increasing = newSize != 0 && (oldSize == 0 || (oldSize > 0) != (newSize > 0) || _abs(newSize) > _abs(oldSize));
        if (increasing) _requireInitialMargin(msg.sender);
    }

    function liquidate(address account, uint64 marketId) external whenNotPaused {
        Market storage m = _market(marketId);
        PositionData storage p = _positions[account][marketId];
        int256 size = p.size;
        if (size == 0) revert NoPosition(account, marketId);
        _accrue(m);
        (int256 eq,, uint256 maintenance) = _margin(account);
        if (eq >= int256(maintenance)) revert NotLiquidatable(eq, maintenance);
        uint256 price = _price(m.feed);
        _settlePosition(account, m, p, price);
        _setOpenInterest(m, size, 0);
        _writePosition(account, marketId, p, 0, 0, 0);
        uint256 fee = _abs(size) * price / (10 ** m.priceDecimals) * m.liquidationFee / ONE;
        uint256 balance = _balances[account][0];
        if (fee > balance) fee = balance; // the keeper takes what is left; no bad debt for the fee
        if (fee > 0) {
            address quote = _assets[0].token;
            _balances[account][0] = balance - fee;
            emit CollateralUpdated(account, quote, balance - fee);
            uint256 keeperBalance = _balances[msg.sender][0] + fee;
            _balances[msg.sender][0] = keeperBalance;
            emit CollateralUpdated(msg.sender, quote, keeperBalance);
        }
        _refreshRate(m);
        _emitMarket(marketId, m);
        emit Liquidated(account, marketId, msg.sender, size, price, fee);
    }

    /// @notice Accrues funding up to now. Anyone may call it; it is not blocked by a pause because
    /// funding for the paused interval accrues on the next touch anyway.
    function updateFunding(uint64 marketId) external {
        Market storage m = _market(marketId);
        _accrue(m);
        _emitMarket(marketId, m);
    }

    // ---------------------------------------------------------------- views

    function getAccount(address account)
        external
        view
        returns (CollateralBalance[] memory collateral, Position[] memory positions)
    {
        uint256 assetCount_ = _assets.length;
        uint256 n;
        for (uint256 i; i < assetCount_; ++i) {
            if (_balances[account][i] != 0) ++n;
        }
        collateral = new CollateralBalance[](n);
        n = 0;
        for (uint256 i; i < assetCount_; ++i) {
            uint256 amount = _balances[account][i];
            if (amount != 0) collateral[n++] = CollateralBalance({asset: _assets[i].token, amount: amount});
        }
        uint64 marketCount_ = uint64(_markets.length);
        n = 0;
        for (uint64 j; j < marketCount_; ++j) {
            if (_positions[account][j].size != 0) ++n;
        }
        positions = new Position[](n);
        n = 0;
        for (uint64 j; j < marketCount_; ++j) {
            PositionData storage p = _positions[account][j];
            if (p.size != 0) {
                positions[n++] = Position({market: j, size: p.size, entryPrice: p.entryPrice, fundingIndex: p.fundingIndex});
            }
        }
    }

    function getMarket(uint64 marketId) external view returns (MarketView memory v) {
        Market storage m = _market(marketId);
        (uint80 roundId, int256 answer,, uint256 updatedAt,) = AggregatorV3Interface(m.feed).latestRoundData();
        v.id = marketId;
        v.feed = m.feed;
        v.price = answer;
        v.roundId = roundId;
        v.updatedAt = updatedAt;
        v.priceDecimals = m.priceDecimals;
        v.longOpenInterest = m.longOpenInterest;
        v.shortOpenInterest = m.shortOpenInterest;
        v.fundingIndex = m.fundingIndex;
        v.fundingRate = m.fundingRate;
        v.initialMarginRatio = m.initialMarginRatio;
        v.maintenanceMarginRatio = m.maintenanceMarginRatio;
        v.liquidationFee = m.liquidationFee;
        v.lastFundingTime = m.lastFundingTime;
    }

    function marketCount() external view returns (uint64) {
        return uint64(_markets.length);
    }

    function assetCount() external view returns (uint256) {
        return _assets.length;
    }

    function assetAt(uint256 index) external view returns (address token, address feed, uint16 haircutBps, uint8 decimals) {
        Asset storage a = _assets[index];
        return (a.token, a.feed, a.haircutBps, a.decimals);
    }

    function balanceOf(address account, address asset) external view returns (uint256) {
        return _balances[account][_assetIndex(asset)];
    }

    /// @notice Haircut collateral value plus unrealised PnL minus funding owed, in quote units. Funding
    /// is accrued to the current block (what a trade in this block would settle).
    function equity(address account) external view returns (int256 eq) {
        (eq,,) = _margin(account);
    }

    function maintenanceRequirement(address account) external view returns (uint256 required) {
        (,, required) = _margin(account);
    }

    function initialRequirement(address account) external view returns (uint256 required) {
        (, required,) = _margin(account);
    }

    // ---------------------------------------------------------------- internals

    function _deposit(address account, address asset, uint256 amount) private whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        uint256 index = _assetIndex(asset);
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        uint256 balance = _balances[account][index] + amount;
        _balances[account][index] = balance;
        emit CollateralUpdated(account, asset, balance);
    }

    function _assetIndex(address asset) private view returns (uint256) {
        uint256 slot = _assetSlot[asset];
        if (slot == 0) revert UnknownAsset(asset);
        return slot - 1;
    }

    function _market(uint64 marketId) private view returns (Market storage) {
        if (marketId >= _markets.length) revert UnknownMarket(marketId);
        return _markets[marketId];
    }

    function _price(address feed) private view returns (uint256) {
        (, int256 answer,,,) = AggregatorV3Interface(feed).latestRoundData();
        if (answer <= 0) revert InvalidPrice(feed, answer);
        return uint256(answer);
    }

    function _accrue(Market storage m) private {
        uint64 nowTs = uint64(block.timestamp);
        uint64 last = m.lastFundingTime;
        if (nowTs == last) return;
        m.fundingIndex += m.fundingRate * int256(uint256(nowTs - last));
        m.lastFundingTime = nowTs;
    }

    function _currentIndex(Market storage m) private view returns (int256) {
        return m.fundingIndex + m.fundingRate * int256(block.timestamp - m.lastFundingTime);
    }

    /// @dev rate = fundingFactor * (long - short) / (long + short): longs pay shorts while longs dominate.
    function _refreshRate(Market storage m) private {
        uint256 total = m.longOpenInterest + m.shortOpenInterest;
        m.fundingRate = total == 0
            ? int256(0)
            : m.fundingFactor * (int256(m.longOpenInterest) - int256(m.shortOpenInterest)) / int256(total);
    }

    function _setOpenInterest(Market storage m, int256 oldSize, int256 newSize) private {
        if (oldSize > 0) m.longOpenInterest -= uint256(oldSize);
        else if (oldSize < 0) m.shortOpenInterest -= uint256(-oldSize);
        if (newSize > 0) m.longOpenInterest += uint256(newSize);
        else if (newSize < 0) m.shortOpenInterest += uint256(-newSize);
    }

    /// @dev Realises PnL and funding since the position's last touch into the quote balance.
    function _settlePosition(address account, Market storage m, PositionData storage p, uint256 price) private {
        int256 size = p.size;
        if (size == 0) return;
        int256 pnl = size * (int256(price) - int256(p.entryPrice)) / int256(10 ** m.priceDecimals);
        int256 funding = size * (m.fundingIndex - p.fundingIndex) / int256(ONE);
        int256 delta = pnl - funding;
        if (delta == 0) return;
        uint256 balance = _balances[account][0];
        if (delta > 0) {
            balance += uint256(delta);
        } else {
            uint256 loss = uint256(-delta);
            if (loss > balance) {
                emit BadDebt(account, loss - balance);
                balance = 0;
            } else {
                balance -= loss;
            }
        }
        _balances[account][0] = balance;
        emit CollateralUpdated(account, _assets[0].token, balance);
    }

    function _writePosition(
        address account,
        uint64 marketId,
        PositionData storage p,
        int256 size,
        uint256 price,
        int256 fundingIndex
    ) private {
        if (size == 0) {
            delete p.size;
            delete p.entryPrice;
            delete p.fundingIndex;
            emit PositionUpdated(account, marketId, 0, 0, 0);
        } else {
            p.size = size;
            p.entryPrice = price;
            p.fundingIndex = fundingIndex;
            emit PositionUpdated(account, marketId, size, price, fundingIndex);
        }
    }

    function _emitMarket(uint64 marketId, Market storage m) private {
        emit MarketUpdated(
            marketId, m.longOpenInterest, m.shortOpenInterest, m.fundingIndex, m.fundingRate, m.lastFundingTime
        );
    }

    /// @dev Equity = sum of haircut collateral values (quote asset 1:1, others at their feed price)
    /// + unrealised PnL - funding owed; requirements = sum of |size| * price / 10^dec * ratio / 1e18.
    function _margin(address account) private view returns (int256 eq, uint256 initial, uint256 maintenance) {
        uint256 assetCount_ = _assets.length;
        for (uint256 i; i < assetCount_; ++i) {
            uint256 amount = _balances[account][i];
            if (amount == 0) continue;
            Asset storage a = _assets[i];
            uint256 value = a.feed == address(0)
                ? amount * a.haircutBps / BPS
                : amount * _price(a.feed) * a.haircutBps / (10 ** a.feedDecimals * BPS);
            eq += int256(value);
        }
        uint64 marketCount_ = uint64(_markets.length);
        for (uint64 j; j < marketCount_; ++j) {
            PositionData storage p = _positions[account][j];
            int256 size = p.size;
            if (size == 0) continue;
            Market storage m = _markets[j];
            uint256 price = _price(m.feed);
            uint256 scale = 10 ** m.priceDecimals;
            eq += size * (int256(price) - int256(p.entryPrice)) / int256(scale);
            eq -= size * (_currentIndex(m) - p.fundingIndex) / int256(ONE);
            uint256 notional = _abs(size) * price / scale;
            initial += notional * m.initialMarginRatio / ONE;
            maintenance += notional * m.maintenanceMarginRatio / ONE;
        }
    }

    function _requireInitialMargin(address account) private view {
        (int256 eq, uint256 initial,) = _margin(account);
        if (eq < int256(initial)) revert InsufficientMargin(eq, initial);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
