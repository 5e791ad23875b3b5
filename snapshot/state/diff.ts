import { bytesToHex } from '../codec/hex.ts'
import { diffTrees } from '../tree/diff.ts'
import type { Snapshot } from './snapshot.ts'

export interface AccountDiff {
  account: string
  kind: 'added' | 'removed' | 'changed'
  /** top-level record fields whose value differs */
  fields: string[]
  before: Record<string, unknown> | null
  after: Record<string, unknown> | null
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

/**
 * Accounts that differ between two snapshots of the same schema, in key order,
 * opening only subtrees whose CIDs differ. `summary` is filled as it runs.
 */
export async function* diffSnapshots<R>(a: Snapshot<R, unknown>, b: Snapshot<R, unknown>, summary: DiffSummary = emptySummary(a, b)): AsyncGenerator<AccountDiff> {
  const moved = new Map<string, bigint>()
  const schema = a.schema
  for await (const ch of diffTrees(a.reader, await a.rootRef(), b.reader, await b.rootRef())) {
    const what = `record of ${bytesToHex(ch.key)}`
    const before = ch.before === null ? null : schema.decode(ch.before, what)
    const after = ch.after === null ? null : schema.decode(ch.after, what)
    const bj = before === null ? null : schema.toJSON(ch.key, before)
    const aj = after === null ? null : schema.toJSON(ch.key, after)
    const kind = bj === null ? 'added' : aj === null ? 'removed' : 'changed'
    summary[kind]++
    const fields = [...new Set([...Object.keys(bj ?? {}), ...Object.keys(aj ?? {})])].filter((f) => JSON.stringify(bj?.[f]) !== JSON.stringify(aj?.[f]))
    if (schema.balances !== undefined) {
      for (const [asset, v] of before === null ? [] : schema.balances(before)) moved.set(asset, (moved.get(asset) ?? 0n) - v)
      for (const [asset, v] of after === null ? [] : schema.balances(after)) moved.set(asset, (moved.get(asset) ?? 0n) + v)
    }
    summary.moved = Object.fromEntries([...moved].filter(([, v]) => v !== 0n).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, v.toString()]))
    yield { account: bytesToHex(ch.key), kind, fields, before: bj, after: aj }
  }
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
