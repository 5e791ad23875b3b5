/**
 * `npm run bench [-- NAME ...] [--accounts N,N]`: runs benchmarks, each case in
 * a fresh child process (so peak RSS is per case), and prints one JSON object
 * per benchmark case on stdout. Not part of `npm test`: figures, not asserts.
 * `--profile DIR`: each case also writes a V8 CPU profile there (--cpu-prof;
 * open it in Chrome devtools) beside its JSON `breakdown` (breakdown.ts).
 * `--chart FILE`: after the snapshot cases, an SVG of time and memory
 * against accounts (chart.ts; the README's figure).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeFile } from 'node:fs/promises'
import { chartSvg, pointsFrom } from './chart.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

interface Bench {
  file: string
  cases: (opts: { accounts?: string; traders?: string; steps?: string; only?: string; disk?: boolean }) => string[][]
}

const benches: Record<string, Bench> = {
  snapshot: {
    file: 'snapshot.ts',
    cases: ({ accounts }) => (accounts ?? '100000,1000000').split(',').map((n) => ['--accounts', n]),
  },
  network: {
    file: 'network.ts',
    cases: () => [['--nodes', '7']],
  },
  watchdog: {
    file: 'watchdog.ts',
    cases: ({ traders, steps }) => [['--traders', traders ?? '10000', '--steps', steps ?? '20000']],
  },
  recovery: {
    file: 'recovery.ts',
    // 1M accounts takes minutes: opt in with --accounts 100000,1000000 or ARK_BENCH_RECOVERY_1M=1
    // --only incremental: just the incremental fetch case (minutes faster); --disk: the disk-backed node's gateway and bitswap at every size (by default only up to 200k accounts)
    cases: ({ accounts, only, disk }) => (accounts ?? (process.env.ARK_BENCH_RECOVERY_1M === '1' ? '100000,1000000' : '100000')).split(',').map((n) => ['--accounts', n, ...(only === undefined ? [] : ['--only', only]), ...(disk === true ? ['--disk', 'yes'] : [])]),
  },
  derive: {
    file: 'derive.ts',
    cases: ({ traders, steps }) => [['--traders', traders ?? '20000', '--steps', steps ?? '70000']],
  },
}

const { values, positionals } = parseArgs({ options: { accounts: { type: 'string' }, traders: { type: 'string' }, steps: { type: 'string' }, only: { type: 'string' }, disk: { type: 'boolean' }, profile: { type: 'string' }, chart: { type: 'string' } }, allowPositionals: true })
const names = positionals.length > 0 ? positionals : Object.keys(benches)
const results: Record<string, unknown>[] = []
for (const name of names) {
  const b = benches[name]
  if (b === undefined) {
    process.stderr.write(`unknown benchmark ${JSON.stringify(name)}; known: ${Object.keys(benches).join(', ')}\n`)
    process.exit(2)
  }
  for (const args of b.cases(values)) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=6144', ...(values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]), `${here}${b.file}`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        process.stdout.write(d)
        out += d.toString()
      })
      child.on('exit', (c) => {
        for (const line of out.split('\n')) if (line.startsWith('{')) results.push(JSON.parse(line) as Record<string, unknown>)
        resolve(c ?? 1)
      })
    })
    if (code !== 0) {
      process.stderr.write(`benchmark ${name} ${args.join(' ')} failed with exit code ${code}\n`)
      process.exitCode = 1
    }
  }
}
if (values.chart !== undefined) {
  const points = pointsFrom(results)
  const sizes = points.map((p) => p.accounts)
  const pending = [100_000, 1_000_000, 10_000_000].filter((n) => !sizes.includes(n))
  await writeFile(values.chart, chartSvg(points, `npm run bench -- snapshot, ${new Date().toISOString().slice(0, 10)}${pending.length > 0 ? `; pending: ${pending.map((n) => n.toLocaleString('en')).join(', ')} accounts` : ''}`))
  process.stderr.write(`chart written to ${values.chart}\n`)
}
