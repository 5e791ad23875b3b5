import { resolve } from 'node:path'
import { csvField } from '../../../snapshot/export/records.ts'
import { emptyRecoverySummary, recoveryDiff, type RecoveryDiffSummary } from '../../../snapshot/state/diff-summary.ts'
import type { AccountDiff } from '../../../snapshot/state/diff.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { UsageError, type Command } from '../command.ts'
import { openSnapshotInput } from './input.ts'
import { Movers } from '../../recovery/movers.ts'
import { assetInfo, diffTables, forPeople } from './tables.ts'
import { LABEL_RPC_OPTION, labelsFromChain } from './token-labels.ts'
import { ownRisk } from './own-risk.ts'
import { hexToBytes } from '../../../snapshot/codec/hex.ts'
import type { AccountRecord } from '../../../snapshot/schema/derivatives.ts'

export const DIFF_CSV_HEADER = ['account', 'kind', 'path', 'before', 'after'] as const

function csvRows(d: AccountDiff): string {
  let out = ''
  for (const c of d.changes) out += `${[d.account, d.kind, c.path, c.before === null ? '' : String(c.before), c.after === null ? '' : String(c.after)].map(csvField).join(',')}\r\n`
  return out
}

function human(s: RecoveryDiffSummary, out: string | undefined): string {
  const lines = [
    `${s.added} added, ${s.removed} removed, ${s.changed} changed (chain ${s.chainId}, ${s.adapter}, block ${s.from.block} -> ${s.to.block})`,
    `moved per asset (net):   ${JSON.stringify(s.moved)}`,
    `increased per asset:     ${JSON.stringify(s.increased)}`,
    `decreased per asset:     ${JSON.stringify(s.decreased)}`,
  ]
  for (const p of s.positions) {
    lines.push(`market ${p.market}: long ${p.longDelta}, short ${p.shortDelta}, options bought ${p.optionsBoughtDelta}, written ${p.optionsWrittenDelta}${p.longOpenInterest === null ? '' : `; open interest long ${p.longOpenInterest.delta}, short ${p.shortOpenInterest!.delta}`}`)
  }
  if (s.marketChanges.length > 0) lines.push(`market state: ${s.marketChanges.length} field(s) changed`)
  if (out !== undefined) lines.push(`changes written to ${out}`)
  return `${lines.join('\n')}\n`
}

export const recoveryDiffCommand: Command = {
  name: 'diff',
  summary: 'Every account that differs between two snapshots of one deployment (added, removed, changed leaves with old and new values), then totals moved per asset and per market.',
  usage: 'ark diff DIR_A|a.car DIR_B|b.car [--format jsonl|csv] [--out FILE] [--json] [--rpc URL]',
  options: {
    format: { type: 'string', description: 'on a terminal without --format, --out or --json: tables in token units; otherwise jsonl (default: one JSON object per account, then a {"summary": …} line) or csv (account,kind,path,before,after)' },
    out: { type: 'string', description: 'write the per-account changes here (atomically) and print only the summary' },
    ...LABEL_RPC_OPTION,
  },
  positionals: [2, 2],
  async run({ values, positionals, json, io, signal }) {
    const format = (values.format as string | undefined) ?? 'jsonl'
    if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format must be jsonl or csv, got ${JSON.stringify(format)}`)
    const { snapshot: a } = await openSnapshotInput(positionals[0]!)
    const { snapshot: b } = await openSnapshotInput(positionals[1]!)
    const summary = emptyRecoverySummary(a, b)
    const changes = recoveryDiff(a, b, summary)
    // the first step runs the checks (same deployment, market state) before any byte is written
    const first = await changes.next()
    if (forPeople(values, json, io)) {
      const movers = new Movers()
      for (let r = first; r.done !== true; r = await changes.next()) movers.add(r.value)
      const marketsB = await b.markets()
      const info = assetInfo(marketsB)
      const risk = await ownRisk(b, marketsB)
      let below: Set<string> | undefined
      if (risk !== undefined) {
        below = new Set()
        for (const { gained, lost } of movers.byAsset.values()) {
          for (const [acc] of [...gained.rows, ...lost.rows]) {
            const key = hexToBytes(acc)
            const record = await b.get(key)
            if (record !== undefined && risk.report.account(key, record as AccountRecord).liquidatable === true) below.add(acc)
          }
        }
      }
      const warning = await labelsFromChain(info, [...movers.byAsset.keys(), ...Object.keys(summary.moved)], b.root, values, signal)
      if (warning !== undefined) io.stderr(warning)
      io.stdout(diffTables(summary, movers, info, below))
      return
    }
    const lines = (async function* () {
      if (format === 'csv') yield `${DIFF_CSV_HEADER.join(',')}\r\n`
      for (let r = first; r.done !== true; r = await changes.next()) yield format === 'csv' ? csvRows(r.value) : `${JSON.stringify(r.value)}\n`
    })()
    const out = values.out as string | undefined
    if (out !== undefined) await writeFileAtomic(resolve(out), lines, signal)
    else await io.pipe(lines)
    const line = `${JSON.stringify({ summary })}\n`
    if (out === undefined) {
      if (format === 'csv') io.stderr(line)
      else io.stdout(line)
    } else io.stdout(json ? line : human(summary, resolve(out)))
  },
}
