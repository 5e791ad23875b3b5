import { resolve } from 'node:path'
import { writeCar } from '../../../snapshot/car/car.ts'
import { buildSnapshot } from '../../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../../snapshot/store.ts'
import { derivativesSchema } from '../../../snapshot/schema/derivatives.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../../snapshot/synth/synth.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { positiveInt, required, type Command } from '../command.ts'

export const synthCommand: Command = {
  name: 'synth',
  summary: 'Write a deterministic synthetic protocol state as a snapshot CAR (same seed, same bytes, on every machine).',
  usage: 'ark snapshot synth --accounts N --seed S --out state.car [--json]',
  options: {
    accounts: { type: 'string', description: 'number of accounts (positive integer)' },
    seed: { type: 'string', description: 'any string; the same seed gives the same state' },
    out: { type: 'string', description: 'output CAR path (written atomically)' },
  },
  async run({ values, json, io, signal }) {
    const accounts = positiveInt(values.accounts as string | undefined, 'accounts')
    const seed = required(values, 'seed', this)
    const out = resolve(required(values, 'out', this))
    const opts = { accounts, seed }
    const store = new MemoryBlockStore()
    const t0 = performance.now()
    const { snapshot, stats } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store })
    const buildMs = performance.now() - t0
    await writeFileAtomic(out, writeCar([snapshot.cid], snapshot.blockCids(), store), signal)
    const result = { out, root: snapshot.cid.toString(), stateRoot: snapshot.root.stateRoot, accounts: snapshot.root.accountCount, blocks: stats.newBlocks, bytes: stats.newBytes, buildMs: Math.round(buildMs) }
    io.stdout(json ? `${JSON.stringify(result)}\n` : `wrote ${out}\n  root       ${result.root}\n  stateRoot  ${result.stateRoot}\n  accounts   ${result.accounts}\n  blocks     ${result.blocks} (${result.bytes} bytes)\n  build      ${result.buildMs} ms\n`)
  },
}
