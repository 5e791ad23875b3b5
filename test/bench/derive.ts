/**
 * Derivation benchmark on a real anvil: a seeded workload of many accounts
 * and events, then the first checkpoint (from the deployment block) and an
 * incremental one after ~1% of accounts changed. Baseline in the same run:
 * re-deriving the second checkpoint from scratch (what a node without
 * incremental derivation would pay).
 */
import { parseArgs } from 'node:util'
import { startAnvil } from '../../node/chain/anvil.ts'
import { deployReferenceProtocol } from '../../node/devnet/deploy.ts'
import { runWorkload } from '../../node/devnet/workload.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { deriveCheckpoint } from '../../snapshot/derive/derive.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

const { values } = parseArgs({ options: { traders: { type: 'string' }, steps: { type: 'string' } } })
const traders = Number(values.traders ?? 20000)
const steps = Number(values.steps ?? 70000)

const anvil = await startAnvil({ disableBlockGasLimit: true })
try {
  const deployment = await deployReferenceProtocol({ rpcUrl: anvil.rpcUrl })
  const config = perpReferenceAdapter.parseConfig({ exchange: deployment.exchange, options: deployment.options, startBlock: Number(deployment.deployBlock) })
  let t = performance.now()
  const w = await runWorkload({ rpcUrl: anvil.rpcUrl, deployment, seed: 1, traders, steps })
  const workloadMs = Math.round(performance.now() - t)
  const source = new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 }, maxLogRange: 100_000n })
  const store = new MemoryBlockStore()
  const first = await deriveCheckpoint({ adapter: perpReferenceAdapter, config, source, target: await source.checkpointHeader('finalized'), store })

  // ~1% of accounts change between the two checkpoints
  const w2 = await runWorkload({ rpcUrl: anvil.rpcUrl, deployment, seed: 2, traders: Math.max(1, Math.round(traders / 100)), steps: Math.max(10, Math.round(steps / 100)) })
  const target2 = await source.checkpointHeader('finalized')
  const inc = await deriveCheckpoint({ adapter: perpReferenceAdapter, config, source, target: target2, prev: first.checkpoint, store })
  t = performance.now()
  const scratch = await deriveCheckpoint({ adapter: perpReferenceAdapter, config, source, target: target2, store: new MemoryBlockStore() })
  const scratchMs = Math.round(performance.now() - t)
  const out = {
    bench: 'derive',
    workload: { traders, steps, events: w.events + w2.events, txs: w.txs + w2.txs, blocks: w.blocks + w2.blocks, accounts: w.accounts, ms: workloadMs },
    first: { ...first.stats, accounts: first.checkpoint.snapshot.root.accountCount, eventsPerSecond: Math.round(first.stats.logs / (first.stats.ms.total / 1000)) },
    incremental: { ...inc.stats, eventsPerSecond: Math.round(inc.stats.logs / (inc.stats.ms.total / 1000)) },
    scratchAtSecond: { ms: scratchMs, logs: scratch.stats.logs, rpcRequests: scratch.stats.rpcRequests },
    incrementalEqualsScratch: inc.checkpoint.snapshot.cid.equals(scratch.checkpoint.snapshot.cid),
    ratioIncrementalToScratch: +(inc.stats.ms.total / scratchMs).toFixed(3),
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
} finally {
  await anvil.stop()
}
