import { resolve } from 'node:path'
import { bytesToHex } from '../../../snapshot/codec/hex.ts'
import { exportCsv, exportJsonl } from '../../../snapshot/export/records.ts'
import type { AccountRecord } from '../../../snapshot/schema/derivatives.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { openCar } from '../open-car.ts'
import { UsageError, type Command } from '../command.ts'
import { assetInfo, exportTables, forPeople, Holdings, printable, type AssetInfo } from '../recovery/tables.ts'
import { LABEL_RPC_OPTION, labelsFromChain } from '../recovery/token-labels.ts'
import { ownRisk } from '../recovery/own-risk.ts'

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export every account of a snapshot as JSONL or CSV (to stdout, or atomically to --out); on a terminal, a summary in token units.',
  usage: 'ark snapshot export state.car [--format jsonl|csv] [--out FILE] [--rpc URL]',
  options: {
    format: { type: 'string', description: 'on a terminal without --format or --out: a summary (accounts, totals per asset and market, largest holders, accounts below maintenance margin); otherwise jsonl (default) or csv, every account' },
    out: { type: 'string', description: 'output file; stdout when omitted' },
    ...LABEL_RPC_OPTION,
  },
  positionals: [1, 1],
  async run({ values, positionals, json, io, signal }) {
    const format = (values.format as string | undefined) ?? 'jsonl'
    if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format must be jsonl or csv, got ${JSON.stringify(format)}`)
    const s = await openCar(positionals[0]!)
    if (forPeople(values, json, io)) {
      const markets = await s.markets()
      const risk = await ownRisk(s, markets)
      const h = new Holdings()
      for await (const { key, record } of s.entries()) {
        h.add(bytesToHex(key), s.schema.balances?.(record) ?? [], s.schema.positions?.(record) ?? [], risk?.report.account(key, record as AccountRecord))
      }
      const info = assetInfo(markets)
      const warning = await labelsFromChain(info, [...h.totals.keys()], s.root, values, signal)
      if (warning !== undefined) io.stderr(warning)
      const quote: AssetInfo | undefined = risk?.quote === undefined ? undefined : info.get(risk.quote)
      io.stdout(exportTables(`snapshot ${s.cid.toString()} (chain ${s.root.block.chainId}, ${printable(s.root.adapter.id)}, block ${s.root.block.number})`, h, info, risk === undefined ? undefined : { quote }))
      return
    }
    const lines = format === 'csv' ? exportCsv(s) : exportJsonl(s)
    const out = values.out as string | undefined
    if (out !== undefined) await writeFileAtomic(resolve(out), lines, signal)
    else await io.pipe(lines)
  },
}
