import { riskReport } from '../../../snapshot/risk/export.ts'
import { resolveRiskInputs } from '../../../snapshot/risk/inputs.ts'
import { RISK_DEFAULTS, type RiskReport } from '../../../snapshot/risk/report.ts'
import { derivativesSchema, type AccountRecord, type DerivativesMarkets } from '../../../snapshot/schema/derivatives.ts'
import type { Snapshot } from '../../../snapshot/state/snapshot.ts'

/**
 * Risk from the snapshot alone, for flagging accounts below maintenance margin
 * in `export` and `diff` tables: only when the snapshot says how to value all
 * of its collateral (derivatives schema v2 and later, or a single asset);
 * otherwise undefined (`ark risk` with --asset-price is the way then).
 * `quote`: the par-valued asset the amounts are in.
 */
export async function ownRisk(s: Snapshot<unknown, unknown>, markets: unknown): Promise<{ report: RiskReport; quote: string | undefined } | undefined> {
  if (s.root.schema.id !== derivativesSchema.id) return undefined
  const m = markets as DerivativesMarkets
  const inputs = resolveRiskInputs(m)
  if (m.assets.some((a) => !inputs.pricing.has(a.asset.toLowerCase()))) return undefined
  const report = await riskReport(s as Snapshot<AccountRecord, DerivativesMarkets>, { pricing: inputs.pricing, timestamp: s.root.block.timestamp, vol: RISK_DEFAULTS.vol, volByMarket: new Map(), fundingTimes: inputs.fundingTimes, sources: inputs.sources })
  return { report, quote: [...inputs.pricing].find(([, p]) => p.kind === 'par')?.[0] }
}
