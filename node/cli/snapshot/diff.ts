import { resolve } from 'node:path'
import { diffSnapshots, emptySummary } from '../../../snapshot/state/diff.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { openCar } from '../open-car.ts'
import type { Command } from '../command.ts'

export const diffCommand: Command = {
  name: 'diff',
  summary: 'Accounts added, removed or changed between two snapshots (JSONL, one account per line), then a summary with totals moved per asset.',
  usage: 'ark snapshot diff a.car b.car [--out changes.jsonl] [--json]',
  options: { out: { type: 'string', description: 'write the per-account changes here (atomically) and print only the summary' } },
  positionals: [2, 2],
  async run({ values, positionals, json, io, signal }) {
    const a = await openCar(positionals[0]!)
    const b = await openCar(positionals[1]!)
    if (a.root.schema.id !== b.root.schema.id) throw new ArkError('INVALID_INPUT', `the snapshots use different record schemas (${a.root.schema.id} vs ${b.root.schema.id}); diff snapshots of the same protocol`)
    const summary = emptySummary(a, b)
    const lines = (async function* () {
      for await (const d of diffSnapshots(a, b, summary)) yield `${JSON.stringify(d)}\n`
    })()
    const out = values.out as string | undefined
    if (out !== undefined) await writeFileAtomic(resolve(out), lines, signal)
    else await io.pipe(lines)
    if (json || out === undefined) io.stdout(`${JSON.stringify({ summary })}\n`)
    else io.stdout(`${summary.added} added, ${summary.removed} removed, ${summary.changed} changed (block ${summary.from.block} -> ${summary.to.block})\nmoved per asset: ${JSON.stringify(summary.moved)}\nchanges written to ${out}\n`)
  },
}
