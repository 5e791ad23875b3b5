import { runWorkload } from '../../devnet/workload.ts'
import { positiveInt, required, type Command } from '../command.ts'
import { readDeployment } from './deployment-file.ts'

export const loadCommand: Command = {
  name: 'load',
  summary: 'Run the seeded workload (deposits, trades, price moves, funding, liquidations, options) against a running devnet.',
  usage: 'ark devnet load --rpc URL --deployment deployment.json [--traders N] [--steps N] [--seed S] [--json]',
  options: {
    rpc: { type: 'string', description: 'the devnet chain RPC URL' },
    deployment: { type: 'string', description: 'deployment.json written by "ark devnet start"' },
    traders: { type: 'string', description: 'trader accounts (default 50)' },
    steps: { type: 'string', description: 'trader actions (default 500)' },
    seed: { type: 'string', description: 'same seed, same actions (default 1)' },
  },
  async run({ values, json, io, signal }) {
    const deployment = await readDeployment(required(values, 'deployment', this))
    const r = await runWorkload({
      rpcUrl: required(values, 'rpc', this),
      deployment,
      seed: BigInt(positiveInt(values.seed as string | undefined, 'seed', 1)),
      traders: positiveInt(values.traders as string | undefined, 'traders', 50),
      steps: positiveInt(values.steps as string | undefined, 'steps', 500),
      signal,
    })
    const out = { events: r.events, txs: r.txs, reverted: r.reverted, blocks: r.blocks, accounts: r.accounts, fromBlock: r.fromBlock.toString(), toBlock: r.toBlock.toString(), counts: r.counts, ms: Math.round(r.elapsedMs) }
    io.stdout(json ? `${JSON.stringify(out)}\n` : `workload: ${out.txs} txs (${out.reverted} reverted) in ${out.blocks} blocks, ${out.events} events, ${out.accounts} accounts, ${out.ms} ms\n`)
  },
}
