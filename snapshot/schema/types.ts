import type { BlockRef } from '../state/root.ts'

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
  /**
   * Optional fast check used by verification: true only if decode(bytes)
   * would accept them, computed without building the record; false means
   * "not sure" and the caller runs decode (which accepts or throws). Optional.
   */
  isCanonical?(bytes: Uint8Array): boolean
  /** Values of the proof leaf, in `leafEncoding` order, for a decoded (canonical) record. */
  leaf(key: Uint8Array, record: R, recordHash: Uint8Array): unknown[]
  /** Plain-JSON form (integers as decimal strings) for export. */
  toJSON(key: Uint8Array, record: R): Record<string, unknown>
  /** Inverse of toJSON, for tools that read exports back. */
  fromJSON(json: unknown): { key: Uint8Array; record: R }
  /** Balances per asset (e.g. collateral), summed by diff to show what moved. Optional. */
  balances?(record: R): [string, bigint][]
  /**
   * Signed position sizes per market (positive long/bought, negative short/written), summed by
   * diff per market. Optional; not consensus.
   */
  positions?(record: R): { market: MarketId; size: bigint; option: boolean }[]
  /**
   * For field-level diffs of `toJSON` output: the fields that identify an item of each list, by
   * the list's field name ("" = the record itself, whose identity fields are its key). Lists not
   * named here are compared by index. Optional; not consensus.
   */
  readonly identity?: Readonly<Record<string, readonly string[]>>
  readonly csvHeader: readonly string[]
  toCsvRows(key: Uint8Array, record: R): string[][]
  readonly markets: MarketCodec<M>
  /**
   * Optional (schema v4 on, SPEC §1.5): the market state's proof leaves. When present the
   * stateRoot commits to them too: stateRoot = hashPair(accountsRoot, marketsRoot), both
   * §5 trees (snapshot/merkle/composed-root.ts). `markets` is the decoded (canonical) state.
   */
  marketLeaves?(markets: M, block: BlockRef): MarketLeaf[]
}

/** One leaf of the market tree: its kind (for tools), ABI encoding and values. */
export interface MarketLeaf {
  kind: string
  encoding: readonly string[]
  values: unknown[]
}

export interface MarketCodec<M> {
  /** Validate and convert to the IPLD value stored in the market-state block. */
  encode(markets: M): unknown
  /**
   * Strict inverse of `encode`. `bytes`, when given, is the stored block the
   * value was decoded from: a codec may require it to be exactly the
   * canonical encoding (version 1's codec ignores it; SPEC §6.3).
   */
  decode(value: unknown, bytes?: Uint8Array): M
  toJSON(markets: M): unknown
  /** As RecordSchema.identity, for the lists in `toJSON(markets)`. Optional; not consensus. */
  readonly identity?: Readonly<Record<string, readonly string[]>>
  /** Open interest per market (long and short, both non-negative), for diff summaries. Optional. */
  openInterest?(markets: M): { market: MarketId; long: bigint; short: bigint }[]
}

/**
 * A market's identity in the diff hooks: a number (an index, shown in decimal) or bytes of any
 * length the schema uses (a 32-byte market id, an address; shown as 0x-hex). Not consensus.
 */
export type MarketId = bigint | Uint8Array

export interface EncodedRecord {
  /** canonical dag-cbor bytes */
  bytes: Uint8Array
  /** proof-leaf values given keccak256(bytes) */
  leaf(key: Uint8Array, recordHash: Uint8Array): unknown[]
}
