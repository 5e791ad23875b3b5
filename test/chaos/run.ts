/**
 * `npm run chaos [-- SCENARIO …] [--minutes N] [--nodes N] [--short] [--out results.jsonl] [--no-results-md]`
 *
 * Runs the chaos scenarios one after the other (each on a fresh cluster), prints one JSON line per
 * scenario on stdout (progress on stderr), appends them to --out, and writes test/chaos/RESULTS.md
 * from this run. Exit code 0 only if every scenario met its goals and passed the safety check.
 */
import { appendFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { resultsMarkdown } from './results-md.ts'
import type { ScenarioResult } from './scenario.ts'
import { SCENARIOS } from './scenarios/index.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: 'string' },
    nodes: { type: 'string' },
    short: { type: 'boolean' },
    out: { type: 'string' },
    'no-results-md': { type: 'boolean' },
    help: { type: 'boolean' },
  },
})

if (values.help === true) {
  process.stdout.write(`usage: npm run chaos [-- SCENARIO …] [--minutes N] [--nodes N] [--short] [--out F]\nscenarios: ${SCENARIOS.map((s) => s.id).join(', ')}\n`)
  process.exit(0)
}
const unknown = positionals.filter((p) => !SCENARIOS.some((s) => s.id === p))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}\n`)
  process.exit(2)
}
const int = (v: string | undefined, name: string, d: number): number => {
  if (v === undefined) return d
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${v}\n`)
    process.exit(2)
  }
  return n
}
const minutes = int(values.minutes, 'minutes', 60)
const nodes = int(values.nodes, 'nodes', 7)
const chosen = positionals.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => positionals.includes(s.id))
const started = new Date().toISOString()
const results: ScenarioResult[] = []
for (const s of chosen) {
  process.stderr.write(`== ${s.id}: ${s.title}\n`)
  const r = await s.run({ short: values.short === true, minutes, nodes, log: (l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`) })
  results.push(r)
  const line = JSON.stringify(r)
  process.stdout.write(`${line}\n`)
  if (values.out !== undefined) await appendFile(values.out, `${line}\n`)
}
if (values['no-results-md'] !== true) {
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim()
  await writeFile(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), resultsMarkdown(results, { command, started, host: `a ${cpus().length}-core machine, Node ${process.version}` }))
}
process.exit(results.every((r) => r.ok) ? 0 : 1)
