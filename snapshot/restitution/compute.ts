import { ArkError } from '../ark-error.ts'
import { bytesToHex, parseAddress } from '../codec/hex.ts'
import { InvalidInputError } from '../errors.ts'
import type { RecordSchema } from '../schema/types.ts'
import type { Snapshot } from '../state/snapshot.ts'
import type { Entry } from '../tree/node.ts'
import { isExcluded, type Exclusions } from './exclusions.ts'
import { TOTAL_ACCOUNT, type RestitutionEntry } from './leaf.ts'

/**
 * What an account holds, per asset (20-byte asset address, amount >= 0), in
 * one snapshot. The loss in an asset is max(0, before - after) of this.
 *
 * The default reads the schema's per-asset balances (for the reference
 * derivatives schema: collateral). This is the valuation hook: a schema with
 * an escape valuation (snapshot/valuation/, schema v4) supplies a function
 * returning its quote asset with the account's equity at the snapshot's
 * certified prices, and losses become quote-valued. Whatever it returns is
 * consensus: every node of a quorum must use the same function, which is why
 * the root block names the schema.
 */
export type Holdings<R, M> = (record: R, markets: M) => Iterable<readonly [asset: Uint8Array, amount: bigint]>

/** The schema's `balances` as holdings; its asset labels must be addresses. */
export function balanceHoldings<R, M>(schema: RecordSchema<R, M>): Holdings<R, M> {
  const balances = schema.balances
  if (balances === undefined) {
    throw new ArkError('INVALID_INPUT', `record schema ${schema.id} v${schema.version} declares no per-asset balances, so it has no default restitution valuation; pass a holdings function`)
  }
  return (record) =>
    balances(record).map(([label, amount]): [Uint8Array, bigint] => {
      const asset = parseAddress(label)
      if (asset === undefined) throw new ArkError('INVALID_INPUT', `record schema ${schema.id} labels a balance ${JSON.stringify(label)}, not an asset address; pass a holdings function that maps it to the token's address`)
      return [asset, amount]
    })
}

/** Summed per asset, sorted by asset bytes; negative amounts are a bug in the valuation, never silently clamped. */
function holdingsMap<R, M>(holdings: Holdings<R, M>, record: R, markets: M, account: Uint8Array): Map<string, { asset: Uint8Array; amount: bigint }> {
  const out = new Map<string, { asset: Uint8Array; amount: bigint }>()
  for (const [asset, amount] of holdings(record, markets)) {
    if (amount < 0n) throw new InvalidInputError(`the restitution valuation gave ${bytesToHex(account)} a negative amount of ${bytesToHex(asset)}; holdings are never below zero`)
    const k = bytesToHex(asset)
    const prev = out.get(k)
    out.set(k, { asset, amount: (prev?.amount ?? 0n) + amount })
  }
  return out
}

export interface LossInput<R, M> {
  before: Snapshot<R, M>
  after: Snapshot<R, M>
  exclusions: Exclusions
  /** default: balanceHoldings(after.schema) */
  holdings?: Holdings<R, M>
}

/** Both snapshots must be one scope (chain, adapter, configuration, schema) and in block order. */
export function checkScope(before: Snapshot<unknown, unknown>['root'], after: Snapshot<unknown, unknown>['root']): void {
  const same = (a: unknown, b: unknown, what: string): void => {
    if (a !== b) throw new InvalidInputError(`the before and after snapshots differ in ${what} (${String(a)} vs ${String(b)}); a restitution table compares two snapshots of one scope`)
  }
  same(before.block.chainId, after.block.chainId, 'chainId')
  same(before.adapter.id, after.adapter.id, 'adapter id')
  same(before.adapter.configHash, after.adapter.configHash, 'adapter configHash')
  same(before.schema.id, after.schema.id, 'record schema')
  same(before.schema.version, after.schema.version, 'record schema version')
  if (before.block.number >= after.block.number) {
    throw new InvalidInputError(`the before snapshot (block ${before.block.number}) must be older than the after snapshot (block ${after.block.number}); swap --before and --after`)
  }
}

/** Pull-based cursor over a snapshot's entries in key order. */
async function cursor(s: Snapshot<unknown, unknown>): Promise<{ peek: () => Entry | undefined; next: () => Promise<void> }> {
  const it = s.rawEntries()[Symbol.asyncIterator]()
  let cur: Entry | undefined
  const next = async (): Promise<void> => {
    const r = await it.next()
    cur = r.done === true ? undefined : r.value
  }
  await next()
  return { peek: () => cur, next }
}

/**
 * The deterministic loss set: for every account (not excluded, not
 * address(0)) and asset, max(0, before - after); zero rows omitted. Rows come
 * out sorted by (account, asset) bytes. Both snapshots are read once, merged
 * in key order, so memory holds the losses only.
 */
export async function computeLosses<R, M>(input: LossInput<R, M>): Promise<RestitutionEntry[]> {
  const { before, after, exclusions } = input
  checkScope(before.root, after.root)
  if (before.schema.keyLength !== 20) throw new InvalidInputError(`record schema ${before.schema.id} keys are ${before.schema.keyLength} bytes; restitution tables need account addresses (20 bytes)`)
  const holdings = input.holdings ?? balanceHoldings(after.schema)
  const [mb, ma] = [await before.markets(), await after.markets()]
  const b = await cursor(before as Snapshot<unknown, unknown>)
  const a = await cursor(after as Snapshot<unknown, unknown>)
  const out: RestitutionEntry[] = []
  const schema = before.schema
  for (;;) {
    const eb = b.peek()
    if (eb === undefined) break
    const ea = a.peek()
    const c = ea === undefined ? -1 : Buffer.compare(eb.key, ea.key)
    if (c > 0) {
      await a.next() // only after: nothing was lost
      continue
    }
    const account = eb.key
    const skip = Buffer.compare(account, TOTAL_ACCOUNT) === 0 || isExcluded(exclusions, account)
    if (!skip) {
      const held = holdingsMap(holdings, schema.decode(eb.value, `record of ${bytesToHex(account)}`), mb, account)
      const now = c === 0 ? holdingsMap(holdings, schema.decode(ea!.value, `record of ${bytesToHex(account)}`), ma, account) : new Map<string, { amount: bigint }>()
      for (const k of [...held.keys()].sort()) {
        const loss = held.get(k)!.amount - (now.get(k)?.amount ?? 0n)
        if (loss > 0n) out.push({ account: Uint8Array.from(account), asset: held.get(k)!.asset, amount: loss })
      }
    }
    await b.next()
    if (c === 0) await a.next()
  }
  return out
}
