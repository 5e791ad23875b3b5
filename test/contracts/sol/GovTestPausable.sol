// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// @notice Test-only venue stand-in for "end recovery mode": starts paused, the owner (the timelock) unpauses.
contract GovTestPausable is Ownable, Pausable {
    constructor(address owner_) Ownable(owner_) {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }
}
