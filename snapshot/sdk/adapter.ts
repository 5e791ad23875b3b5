/**
 * `ark/adapter`: everything an adapter module needs (SPEC §7) — the Adapter and RecordSchema
 * contracts, the canonical integer and byte helpers, dag-cbor, pinned calls and log-word
 * decoding, config validation, and the errors a spot check or a decoder throws.
 */
export type { Adapter, AdapterRecord, AdapterState, DeriveContext } from '../adapters/types.ts'
export type { EncodedRecord, MarketCodec, MarketId, RecordSchema } from '../schema/types.ts'
export type { Change } from '../state/build.ts'
export type { BlockHeader, Hex, Log } from '../chain/source.ts'
export { ChainSource } from '../chain/source.ts'
export { pinnedCall, signedWord, topicAddress, word } from '../adapters/call.ts'
export { configAddress, configBlock, configObject } from '../adapters/config.ts'
export { checkInt, int, INT128, INT256, INT64, intFromIpld, intToIpld, rangeOf, uint, UINT128, UINT256, UINT32, UINT64, UINT8, type IntKind } from '../codec/int.ts'
export { addressToBytes, bytesToHex, compareBytes, equalBytes, hexToBytes } from '../codec/hex.ts'
export { keccak256 } from '../codec/keccak.ts'
export { ArkError } from '../ark-error.ts'
export { InvalidInputError, MalformedBlockError } from '../errors.ts'
export { ChainError, SpotCheckError } from '../chain/errors.ts'
export { encode as cborEncode, decode as cborDecode } from '@ipld/dag-cbor'
