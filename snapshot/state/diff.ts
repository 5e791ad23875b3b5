import { bytesToHex } from '../codec/hex.ts'
import { diffTrees } from '../tree/diff.ts'
import { fieldChanges, type FieldChange } from './field-diff.ts'
import type { RecordSchema } from '../schema/types.ts'
import type { Snapshot } from './snapshot.ts'

export interface AccountDiff {
  account: string
  kind: 'added' | 'removed' | 'changed'
  /** top-level record fields whose value differs */
  fields: string[]
  before: Record<string, unknown> | null
  after: Record<string, unknown> | null
  /** every leaf that differs, with its old and new value (see field-diff.ts) */
  changes: FieldChange[]
  /** this account's balance change per asset (after - before), non-zero only, by asset */
  moved: Record<string, string>
}

export interface DiffSummary {
  from: { snapshot: string; block: string }
  to: { snapshot: string; block: string }
  added: number
  removed: number
  changed: number
  /** per asset: total balance in `to` minus total in `from`, over the differing accounts */
  moved: Record<string, string>
}

/** One account's records on both sides (null: absent), decoded. */
export interface RecordChange<R> {
  key: Uint8Array
  before: R | null
  after: R | null
}

/**
 * Records that differ between two snapshots, in key order, opening only
 * subtrees whose CIDs differ. Each side is decoded with its own schema (two
 * versions of one record schema); when those differ, a record whose JSON
 * view is the same on both sides (only its encoding changed) is not a change.
 */
export async function* diffRecords<R>(a: Snapshot<R, unknown>, b: Snapshot<R, unknown>): AsyncGenerator<RecordChange<R>> {
  const sameSchema = a.schema === b.schema
  for await (const ch of diffTrees(a.reader, await a.rootRef(), b.reader, await b.rootRef())) {
    const what = `record of ${bytesToHex(ch.key)}`
    const before = ch.before === null ? null : a.schema.decode(ch.before, what)
    const after = ch.after === null ? null : b.schema.decode(ch.after, what)
    if (!sameSchema && before !== null && after !== null && JSON.stringify(a.schema.toJSON(ch.key, before)) === JSON.stringify(b.schema.toJSON(ch.key, after))) continue
    yield { key: ch.key, before, after }
  }
}

/** Balance change per asset of one account (after - before), zeros included; `schemaAfter` reads `after` (another version of the schema). */
export function balanceDeltas<R>(schema: RecordSchema<R, unknown>, before: R | null, after: R | null, schemaAfter: RecordSchema<R, unknown> = schema): Map<string, bigint> {
  const mine = new Map<string, bigint>()
  if (schema.balances === undefined || schemaAfter.balances === undefined) return mine
  for (const [asset, v] of before === null ? [] : schema.balances(before)) mine.set(asset, (mine.get(asset) ?? 0n) - v)
  for (const [asset, v] of after === null ? [] : schemaAfter.balances(after)) mine.set(asset, (mine.get(asset) ?? 0n) + v)
  return mine
}

/** The JSON view of one account's change: kind, differing fields, both records, leaf changes, balance deltas; `schemaAfter` reads `after`. */
export function accountDiff<R>(schema: RecordSchema<R, unknown>, key: Uint8Array, before: R | null, after: R | null, deltas = balanceDeltas(schema, before, after), schemaAfter: RecordSchema<R, unknown> = schema): AccountDiff {
  const bj = before === null ? null : schema.toJSON(key, before)
  const aj = after === null ? null : schemaAfter.toJSON(key, after)
  const kind = bj === null ? 'added' : aj === null ? 'removed' : 'changed'
  const fields = [...new Set([...Object.keys(bj ?? {}), ...Object.keys(aj ?? {})])].filter((f) => JSON.stringify(bj?.[f]) !== JSON.stringify(aj?.[f]))
  return { account: bytesToHex(key), kind, fields, before: bj, after: aj, changes: fieldChanges(bj, aj, schemaAfter.identity), moved: sortedNonZero(deltas) }
}

/**
 * Accounts that differ between two snapshots of the same schema, in key order,
 * opening only subtrees whose CIDs differ. `summary` is filled as it runs.
 */
export async function* diffSnapshots<R>(a: Snapshot<R, unknown>, b: Snapshot<R, unknown>, summary: DiffSummary = emptySummary(a, b)): AsyncGenerator<AccountDiff> {
  const moved = new Map<string, bigint>()
  for await (const { key, before, after } of diffRecords(a, b)) {
    const deltas = balanceDeltas(a.schema, before, after)
    for (const [asset, v] of deltas) moved.set(asset, (moved.get(asset) ?? 0n) + v)
    const d = accountDiff(a.schema, key, before, after, deltas)
    summary[d.kind]++
    summary.moved = sortedNonZero(moved)
    yield d
  }
}

/** Non-zero entries sorted by key, as decimal strings. */
export function sortedNonZero(m: ReadonlyMap<string, bigint>): Record<string, string> {
  return Object.fromEntries([...m].filter(([, v]) => v !== 0n).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, v.toString()]))
}

export function emptySummary(a: Snapshot<unknown, unknown> | Snapshot<never, unknown>, b: Snapshot<unknown, unknown> | Snapshot<never, unknown>): DiffSummary {
  return {
    from: { snapshot: a.cid.toString(), block: a.root.block.number.toString() },
    to: { snapshot: b.cid.toString(), block: b.root.block.number.toString() },
    added: 0,
    removed: 0,
    changed: 0,
    moved: {},
  }
}
