/**
 * A checkpoint that fails (here: a spot check that disagrees) must not stop the node's schedule:
 * a transient failure is retried and the checkpoint still certified; a persistent one is skipped,
 * counted, never signed, and the next checkpoint is certified as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import type { Adapter, AdapterState } from '../../snapshot/adapters/types.ts'
import { SpotCheckError } from '../../snapshot/chain/errors.ts'
import { blockNumber } from '../support/chain.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture

beforeAll(async () => {
  fx = await archiveFixture({ name: 'retry', seed: 31, traders: 4, steps: 12 })
}, 180_000)

afterAll(async () => {
  await fx?.stop()
})

/** Fails the spot check of `flaky` once and of `broken` every time. */
function faulty(flaky: bigint, broken: bigint, calls: Map<bigint, number>): Adapter {
  const wrap = <R, M>(state: AdapterState<R, M>): AdapterState<R, M> => ({
    load: (r, m) => state.load(r, m),
    fold: (l, ctx) => state.fold(l, ctx),
    takeChanges: () => state.takeChanges(),
    records: () => state.records(),
    markets: (ctx) => state.markets(ctx),
    spotCheck: async (ctx, accounts, markets) => {
      const n = (calls.get(ctx.block.number) ?? 0) + 1
      calls.set(ctx.block.number, n)
      if (ctx.block.number === broken || (ctx.block.number === flaky && n === 1)) {
        throw new SpotCheckError(`spot check failed at block ${ctx.block.number} (injected)`, { block: ctx.block.number.toString() })
      }
      return state.spotCheck(ctx, accounts, markets)
    },
    clone: () => wrap(state.clone()),
  })
  return { ...perpReferenceAdapter, createState: (c: unknown) => wrap(perpReferenceAdapter.createState(c as never)) } as unknown as Adapter
}

describe('checkpoint failures', () => {
  it('retries a transient failure, skips a persistent one, and keeps certifying', { timeout: 300_000 }, async () => {
    const interval = 4n
    const start = await blockNumber(fx.chain)
    const first = ((start / interval) + 1n) * interval
    // the doppelganger quiet period covers the first checkpoint; the faults hit the next two
    const flaky = first + interval
    const broken = flaky + interval
    const after = broken + interval
    const [config] = await writeClusterConfigs(fx.dir, fx.chain, 1, { firstBlock: first, interval: Number(interval) })
    const calls = new Map<bigint, number>()
    const node = await fx.start(config!, { adapter: faulty(flaky, broken, calls) })
    fx.mine({ seed: 32, traders: 4, steps: 8, sameTraders: true, pauseMs: 200 })
    await until(`a certificate for block ${after}`, () => (node.certificates.get(after) !== undefined) || node.fatal, 200_000)
    expect(node.fatal).toBeUndefined()
    // transient: failed once, derived again, signed and certified
    expect(calls.get(flaky)).toBe(2)
    expect((node.certificates.get(flaky) !== undefined)).toBe(true)
    // persistent: tried three times, never signed, skipped
    expect(calls.get(broken)).toBe(3)
    expect((node.certificates.get(broken) !== undefined)).toBe(false)
    expect(node.counters.checkpointsSkipped).toBe(1)
    expect(node.counters.checkpointFailures).toBe(4)
    expect((node.certificates.get(after) !== undefined)).toBe(true)
  })
})
