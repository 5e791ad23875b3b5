import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { startAnvil } from '../../chain/anvil.ts'
import { deployReferenceProtocol } from '../../devnet/deploy.ts'
import { freshLine, startFresh } from '../../devnet/fresh.ts'
import { runWorkload } from '../../devnet/workload.ts'
import { perpReferenceAdapter } from '../../../snapshot/adapters/perp-reference/adapter.ts'
import { writeCar } from '../../../snapshot/car/car.ts'
import { ChainSource } from '../../../snapshot/chain/source.ts'
import { CheckpointCache, deriveCheckpoint } from '../../../snapshot/derive/derive.ts'
import type { AccountRecord, DerivativesMarkets } from '../../../snapshot/schema/derivatives.ts'
import { MemoryBlockStore } from '../../../snapshot/store.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { positiveInt, UsageError, type Command } from '../command.ts'
import { runCluster } from './cluster-run.ts'
import { writeDeployment } from './deployment-file.ts'

export const DEVNET_DEFAULTS = Object.freeze({ traders: 40, stepsPerRound: 120, interval: 5, seed: 1, dir: '.devnet', nodes: 4 })

export const startCommand: Command = {
  name: 'start',
  summary: 'Local devnet: anvil, the reference protocol deployed, the seeded workload running, and --nodes archive nodes (separate processes, quorum > 2/3) certifying a checkpoint every --interval blocks. With --nodes 0 one in-process deriver writes checkpoint CARs instead. A node that exits is reported and the others keep running; `ark devnet node stop|kill|pause|resume|restart N` acts on one node. Ctrl-C stops everything.',
  usage: 'ark devnet start [--nodes N] [--traders N] [--interval BLOCKS] [--seed S] [--dir DIR] [--checkpoints N] [--stop-on-node-exit] [--json]',
  options: {
    traders: { type: 'string', description: `trader accounts (default ${DEVNET_DEFAULTS.traders})` },
    interval: { type: 'string', description: `blocks between checkpoints (default ${DEVNET_DEFAULTS.interval})` },
    seed: { type: 'string', description: `workload seed (default ${DEVNET_DEFAULTS.seed})` },
    dir: { type: 'string', description: `where deployment.json, adapter.json and checkpoint CARs go (default ${DEVNET_DEFAULTS.dir})` },
    checkpoints: { type: 'string', description: 'stop after this many checkpoints (default: run until Ctrl-C)' },
    nodes: { type: 'string', description: `archive node processes (default ${DEVNET_DEFAULTS.nodes}; 0 = in-process deriver only)` },
    'stop-on-node-exit': { type: 'boolean', description: 'stop the devnet when a node exits by itself (default: report it, keep the others running)' },
  },
  async run({ values, json, io, signal }) {
    const traders = positiveInt(values.traders as string | undefined, 'traders', DEVNET_DEFAULTS.traders)
    const interval = BigInt(positiveInt(values.interval as string | undefined, 'interval', DEVNET_DEFAULTS.interval))
    const seed = BigInt(positiveInt(values.seed as string | undefined, 'seed', DEVNET_DEFAULTS.seed))
    const limit = values.checkpoints === undefined ? Infinity : positiveInt(values.checkpoints as string, 'checkpoints')
    const dir = resolve((values.dir as string | undefined) ?? DEVNET_DEFAULTS.dir)
    await mkdir(dir, { recursive: true })
    const say = (human: string, machine: Record<string, unknown>): void => io.stdout(json ? `${JSON.stringify(machine)}\n` : `${human}\n`)
    // anvil always starts a new chain: what an earlier run left here belongs to a chain that is gone
    const fresh = await startFresh(dir)
    say(freshLine(dir, fresh), { event: 'fresh-start', dir, removed: fresh.removed })

    const anvil = await startAnvil({ signal })
    try {
      const deployment = await deployReferenceProtocol({ rpcUrl: anvil.rpcUrl, signal })
      const config = perpReferenceAdapter.parseConfig({ exchange: deployment.exchange, options: deployment.options, startBlock: Number(deployment.deployBlock) })
      await writeDeployment(join(dir, 'deployment.json'), deployment)
      await writeFileAtomic(join(dir, 'adapter.json'), [`${JSON.stringify(perpReferenceAdapter.configJSON(config), null, 2)}\n`])
      say(`chain      ${anvil.rpcUrl} (anvil, chain 31337)\nexchange   ${deployment.exchange}\noptions    ${deployment.options}\nfiles      ${dir}/deployment.json, ${dir}/adapter.json`, { event: 'ready', rpc: anvil.rpcUrl, pid: anvil.process.pid, exchange: deployment.exchange, options: deployment.options, dir })

      const source = new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 2 } })
      const nodeCount = values.nodes === undefined ? DEVNET_DEFAULTS.nodes : Number(values.nodes)
      if (!Number.isSafeInteger(nodeCount) || nodeCount < 0 || nodeCount > 16) throw new UsageError('--nodes must be an integer from 0 to 16')
      if (nodeCount > 0) {
        const deployedAt = BigInt(await source.endpoints[0]!.request<string>('eth_blockNumber', [], signal))
        await runCluster({ dir, rpcUrl: anvil.rpcUrl, deployment, nodes: nodeCount, interval: Number(interval), firstBlock: deployedAt + interval, traders, seed, limit, stopOnNodeExit: values['stop-on-node-exit'] === true, say, signal })
        return
      }
      const cache = new CheckpointCache<AccountRecord, DerivativesMarkets>()
      const store = new MemoryBlockStore()
      // first checkpoint: after every contract exists (deployment spans several blocks)
      const deployedAt = BigInt(await source.endpoints[0]!.request<string>('eth_blockNumber', [], signal))
      let next = deployedAt + interval
      let made = 0
      for (let round = 0; made < limit && !signal.aborted; round++) {
        await runWorkload({ rpcUrl: anvil.rpcUrl, deployment, seed: seed * 1000n + BigInt(round), traders, steps: DEVNET_DEFAULTS.stepsPerRound, signal })
        const final = await source.finalizedHead(signal)
        while (next <= final.number && made < limit && !signal.aborted) {
          const { base } = await cache.canonicalBase(source, signal)
          const target = await source.checkpointHeader(next, signal)
          const { checkpoint, stats } = await deriveCheckpoint({ adapter: perpReferenceAdapter, config, source, target, prev: base, store, signal })
          cache.push(checkpoint)
          const s = checkpoint.snapshot
          const car = join(dir, `checkpoint-${target.number}.car`)
          await writeFileAtomic(car, writeCar([s.cid], s.blockCids(), store), signal)
          made++
          say(
            `checkpoint block ${target.number}: ${s.root.accountCount} accounts, ${stats.logs} events, ${stats.changedAccounts} changed, derived in ${stats.ms.total} ms\n  root ${s.cid.toString()}  stateRoot ${s.root.stateRoot}\n  try: npx ark snapshot inspect ${car} --verify`,
            { event: 'checkpoint', block: target.number.toString(), blockHash: target.hash, root: s.cid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, car, ...stats },
          )
          next += interval
        }
      }
    } finally {
      await anvil.stop()
      say('devnet stopped', { event: 'stopped' })
    }
  },
}
