import { parseAbi, toEventSelector } from 'viem'

/** The slice of the reference protocol's ABI the adapter reads (see deploy/reference-protocol/contracts). */
export const exchangeAbi = parseAbi([
  'struct CollateralBalance { address asset; uint256 amount; }',
  'struct Position { uint64 market; int256 size; uint256 entryPrice; int256 fundingIndex; }',
  'struct MarketView { uint64 id; address feed; int256 price; uint80 roundId; uint256 updatedAt; uint8 priceDecimals; uint256 longOpenInterest; uint256 shortOpenInterest; int256 fundingIndex; int256 fundingRate; uint256 initialMarginRatio; uint256 maintenanceMarginRatio; uint256 liquidationFee; uint64 lastFundingTime; }',
  'function getAccount(address account) view returns (CollateralBalance[] collateral, Position[] positions)',
  'function getMarket(uint64 market) view returns (MarketView)',
  'function marketCount() view returns (uint64)',
  'function assetCount() view returns (uint256)',
  'function assetAt(uint256 index) view returns (address token, address feed, uint16 haircutBps, uint8 decimals)',
])

/** Chainlink AggregatorV3Interface: how the exchange prices markets and non-quote collateral. */
export const feedAbi = parseAbi([
  'function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)',
  'function decimals() view returns (uint8)',
])

export const optionsAbi = parseAbi([
  'struct OptionPositionView { uint256 seriesId; uint64 market; bool isCall; uint256 strike; uint64 expiry; int256 size; }',
  'function getSeries(uint256 seriesId) view returns (uint64 market, bool isCall, uint256 strike, uint64 expiry, bool settled, uint256 settlementPrice)',
  'function getOptionPositions(address account) view returns (OptionPositionView[])',
])

export const TOPICS = {
  CollateralUpdated: toEventSelector('CollateralUpdated(address,address,uint256)'),
  PositionUpdated: toEventSelector('PositionUpdated(address,uint64,int256,uint256,int256)'),
  OptionPositionUpdated: toEventSelector('OptionPositionUpdated(address,uint256,int256)'),
  SeriesListed: toEventSelector('SeriesListed(uint256,uint64,bool,uint256,uint64)'),
} as const
