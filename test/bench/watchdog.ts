/**
 * Watchdog benchmark: 4 archive nodes with watchdogs (one process, real TCP
 * on loopback, real anvil) over a protocol with ~10k accounts. For each run:
 * feeds are fresh, then one block is mined past the heartbeat (the moment the
 * heartbeat is exceeded); measured is the time from that block being mined to
 * the emergency certificate (kind 1, block sinceBlock − 1) held by every
 * node — detection (poll), alert gossip and quorum, the snapshot's
 * incremental derivation, attestation and aggregation included. The
 * liquidation-backlog monitor is off (BENCH_BACKLOG=16 turns it on): the
 * workload leaves accounts under water, which would (rightly) trigger an
 * emergency of its own at a block before the first cached checkpoint.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { ArchiveNode } from '../../node/archive/node.ts'
import { runWorkload } from '../../node/devnet/workload.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { derivativesSchemaV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { until, writeClusterConfigs } from '../support/archive-cluster.ts'
import { blockNumber, startChain } from '../support/chain.ts'
import { mineAfter, setPrice, watchdogOptions } from '../support/watchdog.ts'

const { values } = parseArgs({ options: { traders: { type: 'string' }, steps: { type: 'string' }, runs: { type: 'string' }, poll: { type: 'string' } } })
const TRADERS = Number(values.traders ?? 10_000)
const STEPS = Number(values.steps ?? 20_000)
const RUNS = Number(values.runs ?? 3)
const POLL = Number(values.poll ?? 100)
const HEARTBEAT = 600
const progress = (msg: string): void => void process.stderr.write(`[bench watchdog] ${msg}\n`)
const f = await startChain()
const dir = await mkdtemp(join(tmpdir(), 'ark-bench-watchdog-'))
const nodes: ArchiveNode[] = []
try {
  let t = performance.now()
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 7, traders: TRADERS, steps: STEPS })
  const workloadMs = Math.round(performance.now() - t)
  progress(`workload done in ${workloadMs} ms`)
  const fresh = async (): Promise<void> => {
    await setPrice(f, f.deployment.markets[0]!.feed, 2000n * 10n ** 8n)
    await setPrice(f, f.deployment.markets[1]!.feed, 60_000n * 10n ** 8n)
  }
  await fresh()
  const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: await blockNumber(f), interval: 10, quorumTimeoutMs: 60_000 })
  const events: { type: string; block: bigint; at: number; ms?: number; node: number }[] = []
  const opts = watchdogOptions({ pollMs: POLL, oracle: { heartbeatSec: HEARTBEAT }, chain: { maxBlockGapMs: 3_600_000 }, emergency: { cooldownBlocks: 0, maxPerHour: 100 }, engine: { backlogCandidates: Number(process.env.BENCH_BACKLOG ?? 0) } })
  for (let i = 0; i < 4; i++) {
    configs[i]!.checkpoint.pollMs = 50
    configs[i]!.watchdog = { options: opts, secretFiles: [] }
    if (i > 0) configs[i]!.p2p.bootstrap = nodes[0]!.network.multiaddrs().map(String)
    const node = new ArchiveNode({ config: configs[i]!, devKey: true, logger: pino({ level: process.env.BENCH_LOG ?? 'silent' }), onEvent: (e) => events.push({ ...e, node: i }) })
    await node.start()
    nodes.push(node)
  }
  await until('every node connected', () => nodes[0]!.network.libp2p.getPeers().length >= 3, 30_000)
  // past every node's quiet period: a scheduled certificate each node signed
  t = performance.now()
  await until(
    'a certificate signed by every node',
    async () => {
      await fresh()
      return nodes.every((n) => n.certificates.list().some((c) => c.certificate.signatures.some((s) => s.signer === n.operator)))
    },
    600_000,
  )
  const firstCheckpointMs = Math.round(performance.now() - t)
  progress(`every node signed a checkpoint (${firstCheckpointMs} ms)`)
  const runs: Record<string, number>[] = []
  for (let r = 0; r < RUNS; r++) {
    await fresh()
    await until('no active stale condition', () => nodes.every((n) => ![...n.watchdog!.tracker.active.keys()].some((k) => k.startsWith('oracle-stale/'))), 60_000)
    // steady state: every node has derived every scheduled checkpoint up to the head (no derivation backlog competing)
    const head = await blockNumber(f)
    await until(`every node past block ${head}`, () => nodes.every((n) => BigInt(String(n.status().nextCheckpoint ?? 0)) > head), 600_000)
    await mineAfter(f, HEARTBEAT + 1)
    const stale = performance.now()
    const staleWall = Date.now()
    const S = await blockNumber(f)
    const perNode = await Promise.all(
      nodes.map(async (n) => {
        await until(`emergency certificate for ${S - 1n}`, () => n.certificates.get(S - 1n, 1) !== undefined, 300_000)
        return performance.now() - stale
      }),
    )
    const raisedMs = Math.max(...nodes.map((n) => (n.watchdog!.tracker.active.get(`oracle-stale/${f.deployment.markets[0]!.feed.toLowerCase()}`)?.raisedAt ?? NaN) - staleWall))
    progress(`run ${r}: ${Math.round(Math.max(...perNode))} ms`)
    const ev = events.filter((e) => e.block === S - 1n && e.at >= stale)
    const at = (type: string, pick: (xs: number[]) => number): number => Math.round(pick(ev.filter((e) => e.type === type).map((e) => e.at - stale)))
    const phases = { derivedFirstMs: at('derived', (x) => Math.min(...x)), derivedLastMs: at('derived', (x) => Math.max(...x)), deriveMaxMs: Math.round(Math.max(...ev.filter((e) => e.type === 'derived').map((e) => e.ms ?? 0))), signedLastMs: at('signed', (x) => Math.max(...x)) }
    runs.push({ ...phases, block: Number(S - 1n), staleToAllCertifiedMs: Math.round(Math.max(...perNode)), staleToFirstCertifiedMs: Math.round(Math.min(...perNode)), staleToRaisedOnAllMs: Math.round(raisedMs) })
  }
  const cert = nodes[0]!.certificates.list().filter((c) => c.certificate.body.kind === 1).at(-1)!
  const snap = await Snapshot.open(nodes[0]!.store, cert.certificate.body.snapshotCid, derivativesSchemaV3, { verifyBlocks: false })
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const out = { bench: 'watchdog', nodes: 4, accounts: snap.root.accountCount, pollMs: POLL, workloadMs, firstCheckpointMs, runs, medianStaleToAllCertifiedMs: median(runs.map((x) => x.staleToAllCertifiedMs!)), targetMs: 5000 }
  process.stdout.write(`${JSON.stringify(out)}\n`)
} finally {
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  await f.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
}
