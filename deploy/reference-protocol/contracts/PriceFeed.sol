// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @notice A push oracle with Chainlink's read interface and events: one updater writes answers, every
/// answer opens a new round, and all rounds stay readable through getRoundData.
contract PriceFeed is AggregatorV3Interface, Ownable {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    /// @dev Same signatures as Chainlink's AggregatorInterface so existing indexers recognise them.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event UpdaterChanged(address indexed previousUpdater, address indexed newUpdater);

    error NotUpdater(address caller);
    error NoDataPresent(uint80 roundId);

    uint8 public immutable override decimals;
    string public override description;
    uint256 public constant override version = 4;

    address public updater;
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer, address updater_) Ownable(msg.sender) {
        decimals = decimals_;
        description = description_;
        updater = updater_;
        emit UpdaterChanged(address(0), updater_);
        _record(initialAnswer);
    }

    function setUpdater(address newUpdater) external onlyOwner {
        emit UpdaterChanged(updater, newUpdater);
        updater = newUpdater;
    }

    function updateAnswer(int256 answer) external {
        if (msg.sender != updater) revert NotUpdater(msg.sender);
        _record(answer);
    }

    function getRoundData(uint80 roundId)
        external
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        if (roundId == 0 || roundId > latestRound) revert NoDataPresent(roundId);
        Round storage r = _rounds[roundId];
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        uint80 roundId = latestRound;
        Round storage r = _rounds[roundId];
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function _record(int256 answer) private {
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round({answer: answer, startedAt: uint64(block.timestamp), updatedAt: uint64(block.timestamp)});
        emit NewRound(roundId, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, roundId, block.timestamp);
    }
}
