/**
 * `npm run chaos [-- SCENARIO …] [--minutes N] [--nodes N] [--short] [--rpc-fault-rate R] [--out results.jsonl] [--no-results-md]`
 * `npm run chaos -- --from results.jsonl` writes RESULTS.md from earlier runs' JSON lines, running nothing.
 *
 * Runs the chaos scenarios one after the other (each on a fresh cluster), prints one JSON line per
 * scenario on stdout (progress on stderr), appends them to --out as they come (default: rewrites
 * test/chaos/results.jsonl), and writes test/chaos/RESULTS.md from this run at the end.
 * Defaults: all scenarios, 7 nodes, a 60-minute churn soak (`npm run chaos`: about 2.5-3 hours). Exit code 0 only if every scenario met its goals and passed the safety check.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises'
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
    'rpc-fault-rate': { type: 'string' },
    short: { type: 'boolean' },
    out: { type: 'string' },
    from: { type: 'string' },
    note: { type: 'string' },
    'no-results-md': { type: 'boolean' },
    help: { type: 'boolean' },
  },
})

if (values.help === true) {
  process.stdout.write(`usage: npm run chaos [-- SCENARIO …] [--minutes N] [--nodes N] [--short] [--rpc-fault-rate R] [--out F]\nscenarios: ${SCENARIOS.map((s) => s.id).join(', ')}\n`)
  process.exit(0)
}
const resultsPath = fileURLToPath(new URL('./RESULTS.md', import.meta.url))
if (values.from !== undefined) {
  const lines = (await readFile(values.from, 'utf8')).split('\n').filter((l) => l.trim().length > 0)
  const results = lines.map((l) => JSON.parse(l) as ScenarioResult)
  await writeFile(resultsPath, resultsMarkdown(results, { command: `npm run chaos (JSON lines from ${values.from})`, started: results.length === 0 ? '?' : new Date(Math.min(...results.map((r) => Date.parse(r.at) - r.ms))).toISOString(), host: `a ${cpus().length}-core machine, Node ${process.version}`, ...(values.note === undefined ? {} : { note: values.note }) }))
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
const rpcFaultRate = values['rpc-fault-rate'] === undefined ? undefined : Number(values['rpc-fault-rate'])
if (rpcFaultRate !== undefined && !(rpcFaultRate > 0 && rpcFaultRate <= 1)) {
  process.stderr.write(`--rpc-fault-rate must be in (0, 1], got ${values['rpc-fault-rate']}\n`)
  process.exit(2)
}
const chosen = positionals.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => positionals.includes(s.id))
const started = new Date().toISOString()
const results: ScenarioResult[] = []
// the JSON lines go to a file as each scenario ends (a long unattended run keeps what it measured even
// if it is cut short): --out appends to the named file; by default test/chaos/results.jsonl is rewritten
const out = values.out ?? fileURLToPath(new URL('./results.jsonl', import.meta.url))
if (values.out === undefined) await writeFile(out, '')
process.stderr.write(`JSON lines to ${out}\n`)
for (const s of chosen) {
  process.stderr.write(`== ${s.id}: ${s.title}\n`)
  const r = await s.run({ short: values.short === true, minutes, nodes, ...(rpcFaultRate === undefined ? {} : { rpcFaultRate }), log: (l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`) })
  results.push(r)
  const line = JSON.stringify(r)
  process.stdout.write(`${line}\n`)
  await appendFile(out, `${line}\n`)
}
if (values['no-results-md'] !== true) {
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim()
  await writeFile(resultsPath, resultsMarkdown(results, { command, started, host: `a ${cpus().length}-core machine, Node ${process.version}`, ...(values.note === undefined ? {} : { note: values.note }) }))
}
process.exit(results.every((r) => r.ok) ? 0 : 1)
