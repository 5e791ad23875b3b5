/**
 * What an adapter supplies to the generic engine (SPEC §1): how one record is
 * validated and encoded canonically, what its proof leaf is, and how the
 * market-level state block is encoded. Everything here is pure.
 */
export interface RecordSchema<R = unknown, M = unknown> {
  /** Stable identifier written into every snapshot root, e.g. "ark.derivatives.account". */
  readonly id: string
  readonly version: number
  /** Every key has exactly this many bytes (20 for account addresses). */
  readonly keyLength: number
  /** ABI types of the proof leaf, as given to StandardMerkleTree.of. */
  readonly leafEncoding: readonly string[]
  /**
   * Validate and encode canonically; throws InvalidInputError naming the field.
   * Also returns the proof-leaf values, computed from the validated form so
   * the build path never parses a record twice.
   */
  encode(record: R, what: string): EncodedRecord
  /** Strict decode of canonical bytes; throws MalformedBlockError on anything else. */
  decode(bytes: Uint8Array, what: string): R
  /** Values of the proof leaf, in `leafEncoding` order, for a decoded (canonical) record. */
  leaf(key: Uint8Array, record: R, recordHash: Uint8Array): unknown[]
  /** Plain-JSON form (integers as decimal strings) for export. */
  toJSON(key: Uint8Array, record: R): Record<string, unknown>
  /** Inverse of toJSON, for tools that read exports back. */
  fromJSON(json: unknown): { key: Uint8Array; record: R }
  /** Balances per asset (e.g. collateral), summed by diff to show what moved. Optional. */
  balances?(record: R): [string, bigint][]
  readonly csvHeader: readonly string[]
  toCsvRows(key: Uint8Array, record: R): string[][]
  readonly markets: MarketCodec<M>
}

export interface MarketCodec<M> {
  /** Validate and convert to the IPLD value stored in the market-state block. */
  encode(markets: M): unknown
  decode(value: unknown): M
  toJSON(markets: M): unknown
}

export interface EncodedRecord {
  /** canonical dag-cbor bytes */
  bytes: Uint8Array
  /** proof-leaf values given keccak256(bytes) */
  leaf(key: Uint8Array, recordHash: Uint8Array): unknown[]
}
