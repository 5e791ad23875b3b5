import { compareMarketKeys, marketKey, type RecoveryDiffSummary } from '../../../snapshot/state/diff-summary.ts'
import type { MarketId } from '../../../snapshot/schema/types.ts'
import { Movers, Top } from '../../recovery/movers.ts'
import type { AccountRisk, MarketRisk, RiskTotals } from '../../../snapshot/risk/report.ts'

/**
 * Output for people (issue 18): on a terminal `ark diff` and `ark risk` print
 * tables, amounts in token units with the asset's decimals (from the
 * snapshot's market state; raw integers, with a note, when it does not list
 * the asset). Exact: integer arithmetic on decimal strings, no floats.
 */

/** `raw` (an integer) as a decimal number of token units; `decimals` undefined: the raw integer. */
export function units(raw: string | bigint, decimals: bigint | undefined): string {
  const v = BigInt(raw)
  if (decimals === undefined || decimals === 0n) return group(v.toString())
  const neg = v < 0n
  const digits = (neg ? -v : v).toString().padStart(Number(decimals) + 1, '0')
  const whole = digits.slice(0, digits.length - Number(decimals))
  const frac = digits.slice(digits.length - Number(decimals)).replace(/0+$/, '')
  return `${neg ? '-' : ''}${group(whole)}${frac === '' ? '' : `.${frac}`}`
}

function group(whole: string): string {
  const neg = whole.startsWith('-')
  const d = neg ? whole.slice(1) : whole
  return `${neg ? '-' : ''}${d.replace(/\B(?=(\d{3})+(?!\d))/g, '_')}`
}

/** A string from a file (adapter id and the like) made safe for a terminal: control and non-ASCII characters become "?". */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?')
}

const NUMBER = /^(-|-?[0-9][0-9_]*(\.[0-9]+)?( %)?)$/

/** Columns padded to their widest cell; columns of numbers right-aligned, text left-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => NUMBER.test(r[i] ?? '')))
  const line = (cells: string[]): string => cells.map((c, i) => (right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return `${[line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`
}

/**
 * The rule: tables for a person at a terminal (stdout a tty) who asked for no
 * machine format (--format), file (--out) or --json; exact integers otherwise,
 * so a pipe always gets the machine format.
 */
export function forPeople(values: Record<string, unknown>, json: boolean, io: { tty: boolean }): boolean {
  return io.tty && !json && values.format === undefined && values.out === undefined
}

/** What labels an asset's amounts: from the snapshot's market state, or read from the token over --rpc. */
export interface AssetInfo {
  /** the token (lower-case); the erc20 schema's balances are keyed "token" */
  address?: string
  decimals?: bigint
  /** printable ASCII, at most 32 characters (schema v3's rule, enforced on decode and on the RPC read) */
  symbol?: string
}

/**
 * Per asset key (lower-case address; "token" for the erc20 schema), what the
 * market state says: v1/v2 list decimals, v3 also the symbol ("" = unknown).
 */
export function assetInfo(markets: unknown): Map<string, AssetInfo> {
  const out = new Map<string, AssetInfo>()
  const m = markets as { assets?: unknown; token?: unknown } | null
  if (typeof m?.token === 'string') out.set('token', { address: m.token.toLowerCase() })
  if (!Array.isArray(m?.assets)) return out
  for (const a of m.assets as { asset?: unknown; decimals?: unknown; symbol?: unknown }[]) {
    if (typeof a?.asset !== 'string') continue
    const i: AssetInfo = { address: a.asset.toLowerCase() }
    if (typeof a.decimals === 'bigint') i.decimals = a.decimals
    if (typeof a.symbol === 'string' && a.symbol !== '') i.symbol = a.symbol
    out.set(a.asset.toLowerCase(), i)
  }
  return out
}

/** "USDC 0xa0b8…", "0xa0b8… (6 dec)" without a symbol, "0xa0b8… (raw)" when amounts stay integers. */
export function assetLabel(asset: string, info: ReadonlyMap<string, AssetInfo>): string {
  const i = info.get(asset.toLowerCase())
  const name = i?.address !== undefined && i.address !== asset.toLowerCase() ? `${asset} ${i.address}` : asset
  if (i?.decimals === undefined) return `${i?.symbol === undefined ? '' : `${i.symbol} `}${name} (raw)`
  return i.symbol === undefined ? `${name} (${i.decimals} dec)` : `${i.symbol} ${name}`
}

const dec = (info: ReadonlyMap<string, AssetInfo>, asset: string): bigint | undefined => info.get(asset.toLowerCase())?.decimals

function rawNote(keys: readonly string[], info: ReadonlyMap<string, AssetInfo>): string {
  return keys.some((a) => dec(info, a) === undefined) ? `\nnote: ${UNKNOWN_NOTE}\n` : ''
}

const UNKNOWN_NOTE = 'amounts of assets marked (raw) are integers: the snapshot\'s market state does not give their decimals (--rpc URL reads them from the token)'

export function diffTables(s: RecoveryDiffSummary, movers: Movers, info: ReadonlyMap<string, AssetInfo>, belowAfter?: ReadonlySet<string>): string {
  const flag = (acc: string): string => (belowAfter?.has(acc) === true ? `! ${acc}` : acc)
  const out: string[] = [`${s.added} added, ${s.removed} removed, ${s.changed} changed accounts (chain ${s.chainId}, ${printable(s.adapter)}, block ${s.from.block} -> ${s.to.block})\n`]
  const assets = [...new Set([...Object.keys(s.moved), ...Object.keys(s.increased), ...Object.keys(s.decreased)])].sort()
  out.push(`\nmoved per asset\n${table(['asset', 'net', 'gained', 'lost'], assets.map((a) => [assetLabel(a, info), units(s.moved[a] ?? '0', dec(info, a)), units(s.increased[a] ?? '0', dec(info, a)), units(s.decreased[a] ?? '0', dec(info, a))]))}`)
  if (s.positions.length > 0) {
    out.push(`\nmoved per market (sizes in 1e18 units)\n${table(['market', 'long', 'short', 'options bought', 'options written', 'OI long', 'OI short'], s.positions.map((p) => [p.market, units(p.longDelta, 18n), units(p.shortDelta, 18n), units(p.optionsBoughtDelta, 18n), units(p.optionsWrittenDelta, 18n), p.longOpenInterest === null ? '-' : units(p.longOpenInterest.delta, 18n), p.shortOpenInterest === null ? '-' : units(p.shortOpenInterest.delta, 18n)]))}`)
  }
  for (const [asset, m] of [...movers.byAsset].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rows = [...m.gained.rows.map(([acc, v]) => ['gained', flag(acc), units(v, dec(info, asset))]), ...m.lost.rows.map(([acc, v]) => ['lost', flag(acc), units(v, dec(info, asset))])]
    out.push(`\nlargest moves of ${assetLabel(asset, info)}\n${table(['', 'account', 'amount'], rows)}`)
  }
  if (s.marketChanges.length > 0) out.push(`\nmarket state: ${s.marketChanges.length} field(s) changed\n`)
  if (belowAfter !== undefined && belowAfter.size > 0) out.push(`\n! below maintenance margin at block ${s.to.block}: ${belowAfter.size} of the accounts above (all of them: ark risk)\n`)
  out.push(rawNote(assets, info))
  out.push('\n(exact integers: --format jsonl|csv)\n')
  return out.join('')
}

/** Accounts below maintenance margin, up to `max` kept (with the count of all of them). */
export class BelowMaintenance {
  readonly rows: AccountRisk[] = []
  count = 0
  private readonly max: number

  constructor(max = 20) {
    this.max = max
  }

  add(a: AccountRisk): void {
    if (a.liquidatable !== true) return
    this.count++
    if (this.rows.length < this.max) this.rows.push(a)
  }
}

/** `quote`: the asset risk values are in (the par-priced one), if known. */
export function riskTables(block: bigint, t: RiskTotals, markets: MarketRisk[], below: BelowMaintenance, quoteInfo: AssetInfo | undefined): string {
  const quote = quoteInfo?.decimals
  const q = (v: string | null): string => (v === null ? '-' : units(v, quote))
  const out: string[] = [`risk at block ${block}: ${t.accounts} accounts, ${t.withPerps} with perps, ${t.liquidatable} below maintenance margin\n`]
  out.push(`\ntotals${quote === undefined ? ' (raw quote units)' : ` (quote units${quoteInfo?.symbol === undefined ? '' : `, ${quoteInfo.symbol}`}, ${quote} decimals)`}\n${table(['collateral', 'equity', 'under water', 'unrealized PnL', 'funding owed', 'notional', 'maintenance'], [[q(t.collateralValue), q(t.equity), q(t.negativeEquity), q(t.unrealizedPnl), q(t.fundingOwed), q(t.notional), q(t.maintenanceRequirement)]])}`)
  out.push(`\nper market (sizes in 1e18 units)\n${table(['market', 'price', 'long', 'short', 'notional', 'unrealized PnL', 'maintenance', 'accounts', 'below maint.'], markets.map((m) => [m.market, units(m.price, BigInt(m.priceDecimals)), units(m.longSize, 18n), units(m.shortSize, 18n), q(m.notional), q(m.unrealizedPnl), q(m.maintenanceRequirement), String(m.accounts), String(m.liquidatable)]))}`)
  if (below.count > 0) {
    out.push(`\nBELOW MAINTENANCE MARGIN: ${below.count} account(s)${below.count > below.rows.length ? `, first ${below.rows.length} shown` : ''}\n${table(['account', 'equity', 'maintenance', 'distance'], below.rows.map((a) => [`! ${a.account}`, q(a.equity), q(a.maintenanceRequirement), q(a.distanceToLiquidation)]))}`)
  }
  if (quote === undefined) out.push(`\nnote: ${UNKNOWN_NOTE}\n`)
  out.push('\n(exact integers: --format json|csv)\n')
  return out.join('')
}

/** `ark snapshot export` on a terminal: what a snapshot holds, accumulated while its accounts stream. */
export class Holdings {
  accounts = 0
  readonly totals = new Map<string, { amount: bigint; holders: number; largest: Top }>()
  readonly markets = new Map<string, { long: bigint; short: bigint; bought: bigint; written: bigint }>()
  readonly below = new BelowMaintenance()

  add(account: string, balances: [string, bigint][], positions: { market: MarketId; size: bigint; option: boolean }[], risk?: AccountRisk): void {
    this.accounts++
    for (const [asset, v] of balances) {
      let t = this.totals.get(asset)
      if (t === undefined) this.totals.set(asset, (t = { amount: 0n, holders: 0, largest: new Top(5) }))
      t.amount += v
      t.holders++
      t.largest.add(account, v)
    }
    for (const p of positions) {
      const market = marketKey(p.market)
      let m = this.markets.get(market)
      if (m === undefined) this.markets.set(market, (m = { long: 0n, short: 0n, bought: 0n, written: 0n }))
      if (p.option) {
        if (p.size > 0n) m.bought += p.size
        else m.written -= p.size
      } else if (p.size > 0n) m.long += p.size
      else m.short -= p.size
    }
    if (risk !== undefined) this.below.add(risk)
  }
}

/** `risk`: whether below-maintenance accounts were computed (the snapshot carries what risk needs), and the quote asset. */
export function exportTables(head: string, h: Holdings, info: ReadonlyMap<string, AssetInfo>, risk: { quote: AssetInfo | undefined } | undefined): string {
  const assets = [...h.totals.keys()].sort()
  const out = [`${head}: ${h.accounts} accounts\n`]
  out.push(`\ntotals per asset\n${table(['asset', 'total', 'holders'], assets.map((a) => [assetLabel(a, info), units(h.totals.get(a)!.amount, dec(info, a)), String(h.totals.get(a)!.holders)]))}`)
  if (h.markets.size > 0) {
    const ids = [...h.markets.keys()].sort(compareMarketKeys)
    out.push(`\npositions per market (sizes in 1e18 units)\n${table(['market', 'long', 'short', 'options bought', 'options written'], ids.map((id) => { const m = h.markets.get(id)!; return [String(id), units(m.long, 18n), units(m.short, 18n), units(m.bought, 18n), units(m.written, 18n)] }))}`)
  }
  const flagged = new Set(h.below.rows.map((r) => r.account.toLowerCase()))
  for (const a of assets) {
    out.push(`\nlargest holders of ${assetLabel(a, info)}\n${table(['account', 'amount'], h.totals.get(a)!.largest.rows.map(([acc, v]) => [`${flagged.has(acc.toLowerCase()) ? '! ' : ''}${acc}`, units(v, dec(info, a))]))}`)
  }
  if (risk === undefined) out.push('\nmaintenance margin not checked: the snapshot does not say how to value its collateral (ark risk with --asset-price does)\n')
  else if (h.below.count === 0) out.push('\nno account is below maintenance margin\n')
  else out.push(`\nBELOW MAINTENANCE MARGIN (!): ${h.below.count} account(s)${h.below.count > h.below.rows.length ? `, first ${h.below.rows.length} shown` : ''}; details: ark risk\n${table(['account', 'equity', 'maintenance'], h.below.rows.map((r) => [`! ${r.account}`, r.equity === null ? '-' : units(r.equity, risk.quote?.decimals), r.maintenanceRequirement === null ? '-' : units(r.maintenanceRequirement, risk.quote?.decimals)]))}`)
  out.push(rawNote(assets, info))
  out.push('\n(every account, exact integers: --format jsonl|csv)\n')
  return out.join('')
}

/** `ark snapshot inspect` on a terminal: the market state's assets and markets. */
export function marketTables(markets: unknown, info: ReadonlyMap<string, AssetInfo>): string {
  const m = markets as { assets?: { asset: string; haircutBps?: bigint; feed?: string }[]; markets?: { id: bigint; price: bigint; priceDecimals: bigint; longOpenInterest: bigint; shortOpenInterest: bigint; maintenanceMarginRatio: bigint }[] }
  const out: string[] = []
  if (Array.isArray(m.assets) && m.assets.length > 0) {
    out.push(`\ncollateral assets\n${table(['asset', 'symbol', 'decimals', 'haircut', 'valued'], m.assets.map((a) => { const i = info.get(a.asset.toLowerCase()); return [a.asset, i?.symbol ?? '-', i?.decimals === undefined ? '-' : String(i.decimals), a.haircutBps === undefined ? '-' : `${units(a.haircutBps, 2n)} %`, a.feed === undefined ? '-' : /^0x0{40}$/.test(a.feed) ? 'par' : `feed ${a.feed}`] }))}`)
  }
  if (Array.isArray(m.markets) && m.markets.length > 0) {
    out.push(`\nmarkets (open interest in 1e18 units)\n${table(['market', 'price', 'OI long', 'OI short', 'maintenance'], m.markets.map((x) => [String(x.id), units(x.price, x.priceDecimals), units(x.longOpenInterest, 18n), units(x.shortOpenInterest, 18n), `${units(x.maintenanceMarginRatio, 16n)} %`]))}`)
  }
  return out.join('')
}
