import { resolve } from 'node:path'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { asDerivatives, riskCsv, riskJson, riskReport } from '../../../snapshot/risk/export.ts'
import { resolveRiskInputs, type RiskInputs } from '../../../snapshot/risk/inputs.ts'
import type { AssetPricing } from '../../../snapshot/risk/margin.ts'
import { RISK_DEFAULTS, type RiskParams } from '../../../snapshot/risk/report.ts'
import type { DerivativesMarkets } from '../../../snapshot/schema/derivatives.ts'
import { readDeployment } from '../devnet/deployment-file.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { UsageError, type Command } from '../command.ts'
import { openSnapshotInput } from './input.ts'
import { ADDRESS_PATTERN as ADDRESS } from '../../../snapshot/codec/address.ts'
import { assetInfo, BelowMaintenance, forPeople, riskTables } from './tables.ts'
import { LABEL_RPC_OPTION, labelsFromChain } from './token-labels.ts'

const UINT = /^[0-9]{1,78}$/

function list(v: unknown): string[] {
  return (v as string[] | undefined) ?? []
}

function pair(s: string, flag: string, shape: string): [string, string] {
  const i = s.indexOf('=')
  if (i <= 0 || i === s.length - 1) throw new UsageError(`--${flag} must be ${shape}, got ${JSON.stringify(s)}`)
  return [s.slice(0, i), s.slice(i + 1)]
}

function marketId(s: string, flag: string): bigint {
  if (!/^[0-9]{1,19}$/.test(s)) throw new UsageError(`--${flag}: market id must be an integer, got ${JSON.stringify(s)}`)
  return BigInt(s)
}

function volatility(s: string, flag: string): number {
  const v = Number(s)
  if (!/^[0-9]*\.?[0-9]+(e-?[0-9]+)?$/i.test(s) || !(v > 0) || !Number.isFinite(v)) throw new UsageError(`--${flag} must be a positive annualised volatility such as 0.8 (80 %), got ${JSON.stringify(s)}`)
  return v
}

/** `ADDR=par`, `ADDR=market:ID` or `ADDR=PRICE@DECIMALS`. */
export function parseAssetPrice(s: string): [string, AssetPricing] {
  const shape = 'ADDR=par, ADDR=market:ID or ADDR=PRICE@DECIMALS'
  const [addr, how] = pair(s, 'asset-price', shape)
  if (!ADDRESS.test(addr)) throw new UsageError(`--asset-price: ${JSON.stringify(addr)} is not a 0x-prefixed 20-byte address`)
  if (how === 'par') return [addr.toLowerCase(), { kind: 'par' }]
  if (how.startsWith('market:')) return [addr.toLowerCase(), { kind: 'market', market: marketId(how.slice(7), 'asset-price') }]
  const m = /^([0-9]{1,78})@([0-9]{1,2})$/.exec(how)
  if (m === null) throw new UsageError(`--asset-price must be ${shape}, got ${JSON.stringify(s)}`)
  return [addr.toLowerCase(), { kind: 'fixed', price: BigInt(m[1]!), decimals: BigInt(m[2]!) }]
}

/** Pricing from the devnet's deployment.json: no feed = par, else the perp market with the same feed. */
async function deploymentPricing(path: string): Promise<Map<string, AssetPricing>> {
  const d = await readDeployment(path)
  const out = new Map<string, AssetPricing>()
  for (const a of d.assets ?? []) {
    if (a.feed === null) {
      out.set(a.token.toLowerCase(), { kind: 'par' })
      continue
    }
    const m = d.markets.find((x) => x.feed.toLowerCase() === a.feed!.toLowerCase())
    if (m === undefined) throw new InvalidInputError(`${path}: asset ${a.symbol} (${a.token}) is priced by feed ${a.feed}, which no perp market uses; pass --asset-price ${a.token}=PRICE@DECIMALS instead`)
    out.set(a.token.toLowerCase(), { kind: 'market', market: BigInt(m.id) })
  }
  return out
}

/**
 * The snapshot's own inputs (schema v2: collateral pricing, lastFundingTime),
 * with --deployment, --asset-price and --funding-time on top as overrides; a
 * v1 snapshot needs the flags for every asset it lists.
 */
async function inputsFor(values: Record<string, unknown>, markets: DerivativesMarkets, fundingTimes: ReadonlyMap<bigint, bigint>): Promise<RiskInputs> {
  const pricing = typeof values.deployment === 'string' ? await deploymentPricing(values.deployment) : new Map<string, AssetPricing>()
  for (const s of list(values['asset-price'])) {
    const [k, v] = parseAssetPrice(s)
    pricing.set(k, v)
  }
  const inputs = resolveRiskInputs(markets, { pricing, fundingTimes })
  const missing = markets.assets.map((a) => a.asset.toLowerCase()).filter((a) => !inputs.pricing.has(a))
  if (missing.length > 0) {
    throw new InvalidInputError(`the snapshot lists collateral assets but not their price feeds (record schema v1); say how to value ${missing.join(', ')}: --asset-price ADDR=par (the quote asset, 1:1), --asset-price ADDR=market:ID (valued by that perp market's feed) or ADDR=PRICE@DECIMALS, or --deployment deployment.json (the devnet's)`)
  }
  return inputs
}

export const riskCommand: Command = {
  name: 'risk',
  summary: 'Recompute risk from a snapshot alone (no RPC): per-account equity, margin ratio, distance to liquidation, liquidation prices, unrealized PnL, funding owed, option greeks, and totals per market.',
  usage: 'ark risk DIR|snapshot.car [--format json|csv] [--out FILE] [--asset-price ADDR=par|market:ID|PRICE@DECIMALS ...] [--deployment deployment.json] [--vol 0.8] [--vol-market ID=VOL ...] [--funding-time ID=UNIX ...] [--json] [--rpc URL]',
  options: {
    format: { type: 'string', description: 'on a terminal without --format, --out or --json: tables in token units; otherwise json (default: one document) or csv (one table; column "row" = account, perp, option, market, total)' },
    out: { type: 'string', description: 'write the report here (atomically) and print only a summary' },
    'asset-price': { type: 'string', multiple: true, description: 'how a collateral asset is valued: par (quote asset), market:ID (that market\'s feed) or PRICE@DECIMALS; overrides the snapshot\'s pricing (schema v2 and later), required for v1 snapshots with several assets' },
    deployment: { type: 'string', description: 'devnet deployment.json: asset pricing from its feeds (quote = no feed); overrides the snapshot\'s pricing' },
    vol: { type: 'string', description: `annualised Black-Scholes volatility for option greeks (default ${RISK_DEFAULTS.vol})` },
    'vol-market': { type: 'string', multiple: true, description: 'per-market volatility override, ID=VOL' },
    'funding-time': { type: 'string', multiple: true, description: 'a market\'s lastFundingTime (ID=UNIX): accrues funding to the block as the contract\'s views do; overrides the snapshot\'s (schema v2 and later carry it)' },
    ...LABEL_RPC_OPTION,
  },
  positionals: [1, 1],
  async run({ values, positionals, json, io, signal }) {
    const format = (values.format as string | undefined) ?? 'json'
    if (format !== 'json' && format !== 'csv') throw new UsageError(`--format must be json or csv, got ${JSON.stringify(format)}`)
    const vol = values.vol === undefined ? RISK_DEFAULTS.vol : volatility(values.vol as string, 'vol')
    const volByMarket = new Map<bigint, number>()
    for (const s of list(values['vol-market'])) {
      const [id, v] = pair(s, 'vol-market', 'ID=VOL')
      volByMarket.set(marketId(id, 'vol-market'), volatility(v, 'vol-market'))
    }
    const fundingTimes = new Map<bigint, bigint>()
    for (const s of list(values['funding-time'])) {
      const [id, t] = pair(s, 'funding-time', 'ID=UNIX')
      if (!UINT.test(t)) throw new UsageError(`--funding-time: time must be Unix seconds, got ${JSON.stringify(t)}`)
      fundingTimes.set(marketId(id, 'funding-time'), BigInt(t))
    }
    const snapshot = asDerivatives((await openSnapshotInput(positionals[0]!)).snapshot)
    const markets = await snapshot.markets()
    const inputs = await inputsFor(values, markets, fundingTimes)
    const params: RiskParams = { pricing: inputs.pricing, timestamp: snapshot.root.block.timestamp, vol, volByMarket, fundingTimes: inputs.fundingTimes, sources: inputs.sources }
    const report = await riskReport(snapshot, params)
    if (forPeople(values, json, io)) {
      const below = new BelowMaintenance()
      for await (const { key, record } of snapshot.entries()) below.add(report.account(key, record))
      const par = [...inputs.pricing].find(([, p]) => p.kind === 'par')?.[0]
      const info = assetInfo(markets)
      const warning = par === undefined ? undefined : await labelsFromChain(info, [par], snapshot.root, values, signal)
      if (warning !== undefined) io.stderr(warning)
      io.stdout(riskTables(snapshot.root.block.number, report.grandTotals(), report.marketTotals(), below, par === undefined ? undefined : info.get(par)))
      return
    }
    const body = format === 'csv' ? riskCsv(snapshot, report) : riskJson(snapshot, report)
    const out = values.out as string | undefined
    if (out === undefined) {
      await io.pipe(body)
      return
    }
    await writeFileAtomic(resolve(out), body, signal)
    const t = report.grandTotals()
    if (json) io.stdout(`${JSON.stringify({ out: resolve(out), snapshot: snapshot.cid.toString(), block: snapshot.root.block.number.toString(), totals: t })}\n`)
    else io.stdout(`risk of ${t.accounts} accounts at block ${snapshot.root.block.number}: ${t.withPerps} with perps, ${t.liquidatable} liquidatable, equity ${t.equity}, under water ${t.negativeEquity}\nwrote ${resolve(out)}\n`)
  },
}
