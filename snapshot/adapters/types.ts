import type { BlockHeader, ChainSource, Hex, Log } from '../chain/source.ts'
import type { RecordSchema } from '../schema/types.ts'
import type { Change } from '../state/build.ts'

/** An account as the adapter API passes it: key bytes (exactly schema.keyLength) and its record. */
export interface AdapterRecord<R> {
  key: Uint8Array
  record: R
}

export interface DeriveContext {
  source: ChainSource
  /** every read is pinned to this block (by hash) */
  block: BlockHeader
  signal?: AbortSignal
}

/**
 * A protocol description (SPEC §7, the adapter guide): identity, validated
 * configuration, record schema, and a derivation that folds the logs of
 * (previous checkpoint, this checkpoint] into the previous state.
 */
export interface Adapter<C = unknown, R = unknown, M = unknown> {
  readonly id: string
  /** bump whenever derivation output could change for the same chain */
  readonly version: string
  readonly description: string
  readonly schema: RecordSchema<R, M>
  /** Validate a JSON config; errors name the key and the fix. */
  parseConfig(json: unknown): C
  /** Canonical plain form of the config; its dag-cbor keccak256 is the configHash in every snapshot. */
  configJSON(config: C): Record<string, unknown>
  startBlock(config: C): bigint
  /** Contracts whose logs feed the derivation (and that must exist at the checkpoint). */
  contracts(config: C): Hex[]
  createState(config: C): AdapterState<R, M>
}

export interface AdapterState<R, M> {
  /** Restore from a previous snapshot's records and markets (incremental derivation across restarts). */
  load(records: AsyncIterable<AdapterRecord<R>>, markets: M): Promise<void>
  /** Fold logs in chain order. May make calls pinned to ctx.block. */
  fold(logs: readonly Log[], ctx: DeriveContext): Promise<void>
  /** Keys touched since the last call (as bytes), with their current record (null: the account is gone). */
  takeChanges(): Change<R>[]
  /** Every current record (keys as bytes), any order. */
  records(): Iterable<AdapterRecord<R>>
  /** Market-level state at ctx.block, read with pinned calls. */
  markets(ctx: DeriveContext): Promise<M>
  /** Compare these accounts (and every market) with the contracts' own views at ctx.block; throw SpotCheckError naming account and field. */
  spotCheck(ctx: DeriveContext, accounts: AdapterRecord<R>[], markets: M): Promise<void>
  /** Independent copy (the previous checkpoint's state must survive a failed or reorged derivation). */
  clone(): AdapterState<R, M>
}
