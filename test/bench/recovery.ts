/**
 * Recovery benchmark for one size: fetch + verify a certified synthetic
 * snapshot from an archive node's serving side on loopback (real libp2p +
 * Helia on disk, the node HTTP API and gateway), over bitswap and over the
 * gateway CAR path, against the floor of a plain HTTP download of the same
 * CAR bytes in the same run; then proof generation and verification per
 * account, and the diff of two snapshots that differ in 1% of accounts.
 * Then the incremental fetch of the next checkpoint (1% changed) from an
 * earlier fetch's directory vs a full fetch of it.
 * Targets (reported, not asserted): 100k accounts fetched and verified in
 * under 1 s; 1M within 3x the plain download floor; incremental <= 15% of
 * the bytes and <= 20% of the time of a full fetch.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { applyChanges } from '../../snapshot/state/build.ts'
import { diffSnapshots } from '../../snapshot/state/diff.ts'
import { synthChanges, synthMarkets } from '../../snapshot/synth/synth.ts'
import { makeOperatorSet } from '../../protocol/operator-set.ts'
import { fetchCertified, type Fetched } from '../../node/recovery/fetch.ts'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { peerSource } from '../../node/recovery/peer-source.ts'
import { openReusable } from '../../node/recovery/incremental.ts'
import { addr, OP } from '../protocol/support.ts'
import { writeSnapshotDir } from '../../node/recovery/snapshot-dir.ts'
import { createHash } from 'node:crypto'
import { openCertifiedSnapshot } from '../../node/recovery/verify.ts'
import { breakdown } from './breakdown.ts'

const { values } = parseArgs({ options: { accounts: { type: 'string' }, runs: { type: 'string' }, proofs: { type: 'string' }, disk: { type: 'string' }, only: { type: 'string' } } })
// `--only incremental`: just the incremental case (one full fetch of the earlier checkpoint to start from)
const only = values.only
const accounts = Number(values.accounts ?? 100000)
const runs = Number(values.runs ?? (accounts > 200_000 ? 1 : 3))
const proofs = Number(values.proofs ?? 1000)
// the disk-backed archive node (gateway and bitswap; its blocks in the packed LevelDB store): on by default up to 200k accounts, `--disk yes` (run.ts --disk) at 1M
const disk = only !== 'incremental' && (values.disk ?? (accounts > 200_000 ? 'no' : 'yes')) === 'yes'
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const mb = (b: number): number => Math.round(b / 2 ** 20)
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

const dir = await mkdtemp(join(tmpdir(), 'ark-bench-recovery-'))
const server = spawn(process.execPath, ['--max-old-space-size=6144', fileURLToPath(new URL('recovery-serve.ts', import.meta.url)), '--accounts', String(accounts), '--disk', disk ? 'yes' : 'no'], { stdio: ['pipe', 'pipe', 'inherit'] })
const served = await new Promise<{ block: string; nextBlock: string; blocks: number; carBytes: number; plainUrl: string; memoryUrl: string; nodeUrl?: string; multiaddr?: string; diskSetupMs: number }>((resolve, reject) => {
  let buf = ''
  server.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))))
  })
  server.on('exit', (code) => reject(new Error(`serving process exited with ${code}`)))
})
const trust = makeOperatorSet(new Map(OP.map((o) => [addr(o), 1n])))
const block = BigInt(served.block)

const bd = breakdown()
const floorCpus: number[] = []
async function floor(): Promise<number> {
  return bd.timeAsync('io:plainDownload', floorOnce)
}
async function floorOnce(): Promise<number> {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const res = await fetch(served.plainUrl)
  const got = new Uint8Array(await res.arrayBuffer())
  if (got.length !== served.carBytes) throw new Error('plain download is short')
  const cpu = process.cpuUsage(cpu0)
  floorCpus.push((cpu.user + cpu.system) / 1000)
  return performance.now() - t0
}

type Path = 'gateway' | 'diskGateway' | 'bitswap'
/** client CPU time (user + system) per fetch: on a loaded machine wall time says more about the neighbours */
const cpus: Record<Path, number[]> = { gateway: [], diskGateway: [], bitswap: [] }

async function fetchOnce(kind: Path, i: number): Promise<{ ms: number; r: Fetched }> {
  const staging = join(dir, `.${kind}-${i}.partial`)
  gc()
  const source = kind === 'gateway' ? gatewaySource(served.memoryUrl) : kind === 'diskGateway' ? gatewaySource(served.nodeUrl!) : peerSource(served.multiaddr!)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const r = await bd.timeAsync(`fetch:${kind}`, () => fetchCertified({ sources: [source], chainId: 31337n, adapterId: 'synth', query: { kind: 'number', block }, trust, staging, stallMs: 120_000 }))
  const ms = performance.now() - t0
  bd.add(`fetch:${kind}:blocksPhase`, r.stats.ms.blocks)
  bd.add(`fetch:${kind}:verifyAfterLastBlock`, r.stats.ms.verify)
  const cpu = process.cpuUsage(cpu0)
  cpus[kind].push((cpu.user + cpu.system) / 1000)
  await r.staging.remove()
  return { ms, r }
}

const paths: Path[] = disk ? ['gateway', 'diskGateway', 'bitswap'] : ['gateway']
const floors: number[] = []
const times: Record<Path, number[]> = { gateway: [], diskGateway: [], bitswap: [] }
const stats: Partial<Record<Path, Fetched['stats']>> = {}
let last: Fetched | undefined
for (let i = 0; i < (only === 'incremental' ? 1 : runs); i++) {
  floors.push(await floor())
  for (const p of paths) {
    const f = await fetchOnce(p, i)
    times[p].push(f.ms)
    stats[p] = f.r.stats
    if (p === 'gateway') last = f.r
    else f.r.store.blocks.clear()
  }
}

// incremental fetch (issue 18): the next checkpoint (1% of the accounts changed) from an earlier
// fetch's directory (read back and checked as `ark fetch --from` does) vs a full fetch of it
/** ARK_BENCH_PROFILE_INC=FILE: a CPU profile of the incremental fetch alone (open the .cpuprofile in Chrome devtools) */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises')
  const { writeFile } = await import('node:fs/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async (file) => {
    const { profile } = await session.post('Profiler.stop')
    await writeFile(file, JSON.stringify(profile))
    session.disconnect()
  }
}
const nextQuery = { kind: 'number' as const, block: BigInt(served.nextBlock) }
const earlier = join(dir, 'earlier')
await writeSnapshotDir(earlier, last!, 'bench')
const incFull: number[] = []
const incTimes: number[] = []
const incOpen: number[] = []
const incCpu: number[] = []
const fullCpu: number[] = []
let incStats: { full?: Fetched['stats']; inc?: Fetched['stats'] } = {}
for (let i = 0; i < runs; i++) {
  gc()
  let t0 = performance.now()
  let cpu0 = process.cpuUsage()
  const full = await fetchCertified({ sources: [gatewaySource(served.memoryUrl)], chainId: 31337n, adapterId: 'synth', query: nextQuery, trust, staging: join(dir, `.next-full-${i}.partial`), stallMs: 120_000 })
  incFull.push(performance.now() - t0)
  let cpu = process.cpuUsage(cpu0)
  fullCpu.push((cpu.user + cpu.system) / 1000)
  await full.staging.remove()
  gc()
  t0 = performance.now()
  cpu0 = process.cpuUsage()
  const prof = process.env.ARK_BENCH_PROFILE_INC === undefined ? undefined : await startProfile()
  const reuse = await openReusable(earlier, trust, 31337n, 'synth')
  incOpen.push(performance.now() - t0)
  const inc = await fetchCertified({ sources: [gatewaySource(served.memoryUrl)], chainId: 31337n, adapterId: 'synth', query: nextQuery, trust, staging: join(dir, `.next-inc-${i}.partial`), stallMs: 120_000, reuse })
  incTimes.push(performance.now() - t0)
  if (prof !== undefined) await prof(process.env.ARK_BENCH_PROFILE_INC!)
  cpu = process.cpuUsage(cpu0)
  incCpu.push((cpu.user + cpu.system) / 1000)
  if (!inc.snapshot.cid.equals(full.snapshot.cid)) throw new Error('incremental and full fetch disagree')
  await inc.staging.remove()
  incStats = { full: full.stats, inc: inc.stats }
}
server.stdin!.end()
// the next checkpoint after 1% of the accounts changed: gateway, from an earlier fetch's directory (its
// read and checks included in ms) vs a full fetch; targets <= 15% of the bytes, <= 20% of the time
const round = (x: number): number => Math.round(x)
const incremental = {
  fullBytes: incStats.full!.fetchedBytes,
  bytes: incStats.inc!.fetchedBytes,
  blocks: incStats.inc!.fetchedBlocks,
  reusedBlocks: incStats.inc!.reusedBlocks,
  bytesRatio: +(incStats.inc!.fetchedBytes / incStats.full!.fetchedBytes).toFixed(3),
  fullMs: round(median(incFull)),
  ms: round(median(incTimes)),
  openEarlierMs: round(median(incOpen)),
  timeRatio: +(median(incTimes) / median(incFull)).toFixed(3),
  // where the time goes (the verification overlaps the blocks phase), and client CPU (wall time on a loaded machine says more about the neighbours)
  fullSplit: incStats.full!.ms,
  split: incStats.inc!.ms,
  fullClientCpuMs: round(median(fullCpu)),
  clientCpuMs: round(median(incCpu)),
  cpuRatio: +(median(incCpu) / median(fullCpu)).toFixed(3),
  runsMs: incTimes.map(round),
  fullRunsMs: incFull.map(round),
  targets: { bytesUnder15pct: incStats.inc!.fetchedBytes <= 0.15 * incStats.full!.fetchedBytes, timeUnder20pct: median(incTimes) <= 0.2 * median(incFull) },
}
if (only === 'incremental') {
  await rm(dir, { recursive: true, force: true })
  process.stdout.write(`${JSON.stringify({ bench: 'recovery', only, accounts, runs, incremental1pct: incremental, loadAverage1m: +loadavg()[0]!.toFixed(1) })}\n`)
  process.exit(0)
}

// what verification costs when nothing else runs: every block's sha256 alone, then the whole check with and without it
{
  const blocks = [...last!.store.blocks.values()]
  gc()
  bd.time('hash:sha256EveryBlock', () => {
    for (const b of blocks) createHash('sha256').update(b).digest()
  })
  gc()
  await bd.timeAsync('verify:offlineBlocksChecked', () => openCertifiedSnapshot(last!.certificate, last!.store, { blocksChecked: true }))
  gc()
  await bd.timeAsync('verify:offlineEveryBlockHashed', () => openCertifiedSnapshot(last!.certificate, last!.store))
}

let t = 0
// proofs from the fetched (verified) snapshot: generation and verification per account
const s = last!.snapshot
const keys: Uint8Array[] = []
const step = Math.max(1, Math.floor(accounts / proofs))
let n = 0
for await (const e of s.rawEntries()) if (n++ % step === 0 && keys.length < proofs) keys.push(e.key)
await proveAccount(s, keys[0]!) // first proof builds the cached Merkle tree
t = performance.now()
const made = []
for (const k of keys) made.push(await proveAccount(s, k))
const proveUs = ((performance.now() - t) * 1000) / keys.length
t = performance.now()
for (const p of made) verifyAccountProof(p, { expectedRoot: s.root.stateRoot })
const verifyUs = ((performance.now() - t) * 1000) / made.length

// diff against the same snapshot with 1% of accounts changed
const opts = { accounts, seed: 'bench-recovery' }
const changes = synthChanges(opts, 0.01, 1)
const meta2 = { ...s.root, block: { ...s.root.block, number: s.root.block.number + 100n } }
const changed = await applyChanges(s, changes, { meta: { block: meta2.block, adapter: s.root.adapter }, markets: synthMarkets(opts) })
gc()
t = performance.now()
let differing = 0
for await (const _ of diffSnapshots(s, changed.snapshot)) differing++
const diffMs = performance.now() - t
await rm(dir, { recursive: true, force: true })

const floorMs = median(floors)
const path = (p: Path): Record<string, unknown> | null => {
  if (times[p].length === 0) return null
  const ms = median(times[p])
  const st = stats[p]!
  return { ms: round(ms), ratioToPlain: +(ms / floorMs).toFixed(2), clientCpuMs: round(median(cpus[p])), split: st.ms, runsMs: times[p].map(round), blocksPerSec: round(st.blocks / Math.max(0.001, st.ms.blocks / 1000)) }
}
const gwMs = median(times.gateway)
const out = {
  bench: 'recovery',
  accounts,
  runs,
  snapshot: { blocks: served.blocks, carBytes: served.carBytes, carMiB: mb(served.carBytes), diskNodeSetupMs: disk ? served.diskSetupMs : null },
  plainDownload: { ms: round(floorMs), MiBps: round(served.carBytes / 2 ** 20 / (floorMs / 1000)), clientCpuMs: round(median(floorCpus)), runsMs: floors.map(round) },
  // node HTTP gateway over an in-memory block store (the client path); then a disk-backed archive node (packed blockstore).
  // Targets (issue 14): disk gateway within 2x of the in-memory gateway, disk bitswap within 3x
  gateway: path('gateway'),
  diskNodeGateway: path('diskGateway'),
  diskNodeBitswap: path('bitswap'),
  diskVsMemory: disk
    ? {
        gateway: +(median(times.diskGateway) / median(times.gateway)).toFixed(2),
        bitswap: +(median(times.bitswap) / median(times.gateway)).toFixed(2),
        targets: { gatewayWithin2x: median(times.diskGateway) <= 2 * median(times.gateway), bitswapWithin3x: median(times.bitswap) <= 3 * median(times.gateway) },
      }
    : null,
  proof: { accounts: keys.length, generateUsPerAccount: +proveUs.toFixed(1), verifyUsPerAccount: +verifyUs.toFixed(1) },
  diff1pct: { changes: changes.length, differing, ms: round(diffMs) },
  incremental1pct: incremental,
  loadAverage1m: +loadavg()[0]!.toFixed(1),
  targets: { fetchVerifyUnder1sAt100k: accounts <= 100_000 ? gwMs < 1000 : null, within3xPlain: gwMs <= 3 * floorMs },
  peakRssMiB: mb(process.resourceUsage().maxRSS * 1024),
  // phases (ms wall summed over runs, gcMs: GC pauses inside them); fetch:*:blocksPhase and verifyAfterLastBlock are fetchCertified's own split
  breakdown: bd.finish(),
}
process.stdout.write(`${JSON.stringify(out)}\n`)
process.exit(0)
