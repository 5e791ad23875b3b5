import { InvalidInputError } from '../errors.ts'
import { accountDiff, balanceDeltas, diffRecords, sortedNonZero, type AccountDiff } from './diff.ts'
import { fieldChanges, type FieldChange } from './field-diff.ts'
import type { Snapshot } from './snapshot.ts'
import { bytesToHex } from '../codec/hex.ts'
import type { MarketId } from '../schema/types.ts'

/**
 * The recovery view of a diff (`ark diff`): what a rollback vote needs to see
 * what changed between two certified snapshots of one protocol deployment.
 * Integers are decimal strings; every list is in a fixed order.
 */

export interface DiffSide {
  snapshot: string
  block: string
  blockHash: string
  timestamp: string
  stateRoot: string
}

export interface OpenInterestChange {
  before: string
  after: string
  delta: string
}

export interface MarketPositionDelta {
  market: string
  /** Σ over differing accounts of (long size after − before); sizes in the schema's units */
  longDelta: string
  /** the same for short sizes, counted as positive sizes (more short: positive) */
  shortDelta: string
  optionsBoughtDelta: string
  optionsWrittenDelta: string
  /** from the market state (null when the market is absent on a side or the schema has none) */
  longOpenInterest: OpenInterestChange | null
  shortOpenInterest: OpenInterestChange | null
}

export interface RecoveryDiffSummary {
  from: DiffSide
  to: DiffSide
  chainId: string
  adapter: string
  added: number
  removed: number
  changed: number
  /** per asset: Σ (after − before) over the differing accounts (non-zero only) */
  moved: Record<string, string>
  /** per asset: Σ of the positive per-account changes (what gainers received) */
  increased: Record<string, string>
  /** per asset: Σ of the negative per-account changes, as a positive amount (what losers lost) */
  decreased: Record<string, string>
  positions: MarketPositionDelta[]
  /** leaf changes of the market-state block (prices, open interest, funding, …) */
  marketChanges: FieldChange[]
}

function side(s: Snapshot<unknown, unknown>): DiffSide {
  const r = s.root
  return { snapshot: s.cid.toString(), block: r.block.number.toString(), blockHash: r.block.hash, timestamp: r.block.timestamp.toString(), stateRoot: r.stateRoot }
}

/**
 * Two snapshots are comparable only if they are of one deployment: same chain,
 * adapter id and configuration, and record schema id (versions of one schema
 * may differ: each side is read with its own). Throws naming what differs.
 */
export function checkComparable(a: Snapshot<unknown, unknown>, b: Snapshot<unknown, unknown>): void {
  const ra = a.root
  const rb = b.root
  const differ = (what: string, x: string, y: string): never => {
    throw new InvalidInputError(`the two snapshots are from different ${what} (${x} vs ${y}); diff two snapshots of the same deployment (same chain, adapter and adapter configuration)`)
  }
  if (ra.block.chainId !== rb.block.chainId) differ('chains', ra.block.chainId.toString(), rb.block.chainId.toString())
  if (ra.adapter.id !== rb.adapter.id) differ('adapters', ra.adapter.id, rb.adapter.id)
  if (ra.adapter.configHash !== rb.adapter.configHash) differ('adapter configurations (configHash)', ra.adapter.configHash, rb.adapter.configHash)
  if (ra.schema.id !== rb.schema.id) {
    throw new InvalidInputError(`the two snapshots use different record schemas (${ra.schema.id} v${ra.schema.version} vs ${rb.schema.id} v${rb.schema.version}): their records are not the same kind of thing and cannot be compared field by field; diff two snapshots of one schema (two versions of one schema, e.g. v2 against v3, are fine)`)
  }
}

export function emptyRecoverySummary(a: Snapshot<unknown, unknown>, b: Snapshot<unknown, unknown>): RecoveryDiffSummary {
  return { from: side(a), to: side(b), chainId: a.root.block.chainId.toString(), adapter: a.root.adapter.id, added: 0, removed: 0, changed: 0, moved: {}, increased: {}, decreased: {}, positions: [], marketChanges: [] }
}

/** Numeric ids in decimal (as before), byte ids of any length in 0x-hex. */
export function marketKey(m: MarketId): string {
  return typeof m === 'bigint' ? m.toString() : bytesToHex(m)
}

/** Numeric ids numerically, then byte ids in byte order (equal-length hex sorts as bytes). */
export function compareMarketKeys(x: string, y: string): number {
  const hx = x.startsWith('0x')
  const hy = y.startsWith('0x')
  if (hx !== hy) return hx ? 1 : -1
  if (hx) return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0)
  const bx = BigInt(x)
  const by = BigInt(y)
  return bx < by ? -1 : bx > by ? 1 : 0
}

interface Acc {
  long: bigint
  short: bigint
  bought: bigint
  written: bigint
}

const add = (m: Map<string, bigint>, k: string, v: bigint): void => {
  m.set(k, (m.get(k) ?? 0n) + v)
}

/**
 * Accounts that differ between `a` (from) and `b` (to), in key order, with
 * leaf-level changes; `summary` is filled as it runs (market-state parts
 * before the first account, totals as accounts go by).
 */
export async function* recoveryDiff<R, M>(a: Snapshot<R, M>, b: Snapshot<R, M>, summary: RecoveryDiffSummary = emptyRecoverySummary(a, b)): AsyncGenerator<AccountDiff> {
  checkComparable(a, b)
  // each side read with its own schema version (records and market state may be laid out differently)
  const sa = a.schema
  const sb = b.schema
  const [ma, mb] = await Promise.all([a.markets(), b.markets()])
  summary.marketChanges = fieldChanges(sa.markets.toJSON(ma), sb.markets.toJSON(mb), sb.markets.identity)
  const oiA = new Map((sa.markets.openInterest?.(ma) ?? []).map((x) => [marketKey(x.market), x]))
  const oiB = new Map((sb.markets.openInterest?.(mb) ?? []).map((x) => [marketKey(x.market), x]))
  const perMarket = new Map<string, Acc>()
  for (const m of [...oiA.keys(), ...oiB.keys()]) perMarket.set(m, { long: 0n, short: 0n, bought: 0n, written: 0n })
  const finishPositions = (): void => {
    summary.positions = [...perMarket]
      .sort(([x], [y]) => compareMarketKeys(x, y))
      .map(([market, acc]) => {
        const x = oiA.get(market)
        const y = oiB.get(market)
        const oi = (f: 'long' | 'short'): OpenInterestChange | null => (x === undefined || y === undefined ? null : { before: x[f].toString(), after: y[f].toString(), delta: (y[f] - x[f]).toString() })
        return { market, longDelta: acc.long.toString(), shortDelta: acc.short.toString(), optionsBoughtDelta: acc.bought.toString(), optionsWrittenDelta: acc.written.toString(), longOpenInterest: oi('long'), shortOpenInterest: oi('short') }
      })
  }
  finishPositions()
  const moved = new Map<string, bigint>()
  const increased = new Map<string, bigint>()
  const decreased = new Map<string, bigint>()
  for await (const { key, before, after } of diffRecords(a, b)) {
    const deltas = balanceDeltas(sa, before, after, sb)
    for (const [asset, v] of deltas) {
      add(moved, asset, v)
      if (v > 0n) add(increased, asset, v)
      else if (v < 0n) add(decreased, asset, -v)
    }
    if (sa.positions !== undefined && sb.positions !== undefined) {
      for (const [rec, sign, sch] of [[before, -1n, sa], [after, 1n, sb]] as const) {
        for (const p of rec === null ? [] : sch.positions!(rec)) {
          const m = marketKey(p.market)
          let acc = perMarket.get(m)
          if (acc === undefined) perMarket.set(m, (acc = { long: 0n, short: 0n, bought: 0n, written: 0n }))
          if (p.option) {
            if (p.size > 0n) acc.bought += sign * p.size
            else acc.written -= sign * p.size
          } else if (p.size > 0n) acc.long += sign * p.size
          else acc.short -= sign * p.size
        }
      }
    }
    const d = accountDiff(sa, key, before, after, deltas, sb)
    summary[d.kind]++
    summary.moved = sortedNonZero(moved)
    summary.increased = sortedNonZero(increased)
    summary.decreased = sortedNonZero(decreased)
    finishPositions()
    yield d
  }
}
