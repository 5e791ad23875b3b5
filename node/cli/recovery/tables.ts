import type { RecoveryDiffSummary } from '../../../snapshot/state/diff-summary.ts'
import type { AccountDiff } from '../../../snapshot/state/diff.ts'
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

/** Columns padded to their widest cell; numbers (last columns) right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()
  return `${[line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`
}

export interface AssetInfo {
  decimals: bigint
}

/**
 * The rule: tables for a person at a terminal (stdout a tty) who asked for no
 * machine format (--format), file (--out) or --json; exact integers otherwise,
 * so a pipe always gets the machine format.
 */
export function forPeople(values: Record<string, unknown>, json: boolean, io: { tty: boolean }): boolean {
  return io.tty && !json && values.format === undefined && values.out === undefined
}

/** Decimals per asset (lower-case address) from a market state that lists assets, if it does. */
export function assetInfo(markets: unknown): Map<string, AssetInfo> {
  const out = new Map<string, AssetInfo>()
  const assets = (markets as { assets?: unknown } | null)?.assets
  if (!Array.isArray(assets)) return out
  for (const a of assets as { asset?: unknown; decimals?: unknown }[]) {
    if (typeof a?.asset === 'string' && typeof a.decimals === 'bigint') out.set(a.asset.toLowerCase(), { decimals: a.decimals })
  }
  return out
}

function assetLabel(asset: string, info: ReadonlyMap<string, AssetInfo>): string {
  return info.has(asset.toLowerCase()) ? `${asset} (${info.get(asset.toLowerCase())!.decimals} dec)` : `${asset} (raw)`
}

const UNKNOWN_NOTE = 'amounts of assets marked (raw) are integers: the snapshot\'s market state does not list their decimals'

/** The accounts that gained and lost most of each asset, kept to `top` each while the diff streams. */
export class Movers {
  private readonly top: number
  readonly byAsset = new Map<string, { gained: [string, bigint][]; lost: [string, bigint][] }>()

  constructor(top = 5) {
    this.top = top
  }

  add(d: AccountDiff): void {
    for (const [asset, s] of Object.entries(d.moved)) {
      const v = BigInt(s)
      let e = this.byAsset.get(asset)
      if (e === undefined) this.byAsset.set(asset, (e = { gained: [], lost: [] }))
      const list = v > 0n ? e.gained : e.lost
      list.push([d.account, v])
      list.sort((x, y) => (v > 0n ? (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : 0) : x[1] > y[1] ? 1 : x[1] < y[1] ? -1 : 0))
      if (list.length > this.top) list.pop()
    }
  }
}

export function diffTables(s: RecoveryDiffSummary, movers: Movers, info: ReadonlyMap<string, AssetInfo>): string {
  const out: string[] = [`${s.added} added, ${s.removed} removed, ${s.changed} changed accounts (chain ${s.chainId}, ${s.adapter}, block ${s.from.block} -> ${s.to.block})\n`]
  const assets = [...new Set([...Object.keys(s.moved), ...Object.keys(s.increased), ...Object.keys(s.decreased)])].sort()
  const dec = (a: string): bigint | undefined => info.get(a.toLowerCase())?.decimals
  out.push(`\nmoved per asset\n${table(['asset', 'net', 'gained', 'lost'], assets.map((a) => [assetLabel(a, info), units(s.moved[a] ?? '0', dec(a)), units(s.increased[a] ?? '0', dec(a)), units(s.decreased[a] ?? '0', dec(a))]))}`)
  if (s.positions.length > 0) {
    out.push(`\nmoved per market (sizes in 1e18 units)\n${table(['market', 'long', 'short', 'options bought', 'options written', 'OI long', 'OI short'], s.positions.map((p) => [p.market, units(p.longDelta, 18n), units(p.shortDelta, 18n), units(p.optionsBoughtDelta, 18n), units(p.optionsWrittenDelta, 18n), p.longOpenInterest === null ? '-' : units(p.longOpenInterest.delta, 18n), p.shortOpenInterest === null ? '-' : units(p.shortOpenInterest.delta, 18n)]))}`)
  }
  for (const [asset, m] of [...movers.byAsset].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rows = [...m.gained.map(([acc, v]) => ['gained', acc, units(v, dec(asset))]), ...m.lost.map(([acc, v]) => ['lost', acc, units(v, dec(asset))])]
    out.push(`\nlargest moves of ${assetLabel(asset, info)}\n${table(['', 'account', 'amount'], rows)}`)
  }
  if (s.marketChanges.length > 0) out.push(`\nmarket state: ${s.marketChanges.length} field(s) changed\n`)
  if (assets.some((a) => !info.has(a.toLowerCase()))) out.push(`\nnote: ${UNKNOWN_NOTE}\n`)
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

/** `quote`: decimals of the unit risk values are in (the par-priced asset), if known. */
export function riskTables(block: bigint, t: RiskTotals, markets: MarketRisk[], below: BelowMaintenance, quote: bigint | undefined): string {
  const q = (v: string | null): string => (v === null ? '-' : units(v, quote))
  const out: string[] = [`risk at block ${block}: ${t.accounts} accounts, ${t.withPerps} with perps, ${t.liquidatable} below maintenance margin\n`]
  out.push(`\ntotals${quote === undefined ? ' (raw quote units)' : ` (quote units, ${quote} decimals)`}\n${table(['collateral', 'equity', 'under water', 'unrealized PnL', 'funding owed', 'notional', 'maintenance'], [[q(t.collateralValue), q(t.equity), q(t.negativeEquity), q(t.unrealizedPnl), q(t.fundingOwed), q(t.notional), q(t.maintenanceRequirement)]])}`)
  out.push(`\nper market (sizes in 1e18 units)\n${table(['market', 'price', 'long', 'short', 'notional', 'unrealized PnL', 'maintenance', 'accounts', 'below maint.'], markets.map((m) => [m.market, units(m.price, BigInt(m.priceDecimals)), units(m.longSize, 18n), units(m.shortSize, 18n), q(m.notional), q(m.unrealizedPnl), q(m.maintenanceRequirement), String(m.accounts), String(m.liquidatable)]))}`)
  if (below.count > 0) {
    out.push(`\nBELOW MAINTENANCE MARGIN: ${below.count} account(s)${below.count > below.rows.length ? `, first ${below.rows.length} shown` : ''}\n${table(['account', 'equity', 'maintenance', 'distance'], below.rows.map((a) => [`! ${a.account}`, q(a.equity), q(a.maintenanceRequirement), q(a.distanceToLiquidation)]))}`)
  }
  if (quote === undefined) out.push(`\nnote: ${UNKNOWN_NOTE}\n`)
  out.push('\n(exact integers: --format json|csv)\n')
  return out.join('')
}
