import { resolve } from 'node:path'
import { exportCsv, exportJsonl } from '../../../snapshot/export/records.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { openCar } from '../open-car.ts'
import { UsageError, type Command } from '../command.ts'

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export every account of a snapshot as JSONL or CSV (to stdout, or atomically to --out).',
  usage: 'ark snapshot export state.car --format jsonl|csv [--out FILE]',
  options: {
    format: { type: 'string', description: 'jsonl (default) or csv' },
    out: { type: 'string', description: 'output file; stdout when omitted' },
  },
  positionals: [1, 1],
  async run({ values, positionals, io, signal }) {
    const format = (values.format as string | undefined) ?? 'jsonl'
    if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format must be jsonl or csv, got ${JSON.stringify(format)}`)
    const s = await openCar(positionals[0]!)
    const lines = format === 'csv' ? exportCsv(s) : exportJsonl(s)
    const out = values.out as string | undefined
    if (out !== undefined) await writeFileAtomic(resolve(out), lines, signal)
    else await io.pipe(lines)
  },
}
