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
import { join } from 'node:path'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'
import { startRpcProxy } from '../support/rpc-proxy.ts'

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

  // Fails on the code before the fix (found by the chaos rpc-faults scenario): the run loop read the
  // finalized head with no catch, so one refused head read (a non-retryable -32005 "limit exceeded")
  // stopped the node for good ("archive node stopped on an error").
  it('keeps its schedule through an RPC that refuses head reads for a while', { timeout: 300_000 }, async () => {
    const proxy = await startRpcProxy(fx.chain.anvil.rpcUrl)
    try {
      const interval = 4n
      const start = await blockNumber(fx.chain)
      const first = ((start / interval) + 1n) * interval
      const [config] = await writeClusterConfigs(join(fx.dir, 'head-failures'), fx.chain, 1, { firstBlock: first, interval: Number(interval) })
      const node = await fx.start({ ...config!, chain: { ...config!.chain, rpc: [proxy.url] } })
      let refuseUntil = Date.now() + 3_000
      proxy.setFault((r) => (r.method === 'eth_getBlockByNumber' && r.params[0] === 'latest' && Date.now() < refuseUntil ? { kind: 'rpc-error', code: -32005, message: 'limit exceeded' } : { kind: 'pass' }))
      fx.mine({ seed: 33, traders: 4, steps: 8, sameTraders: true, pauseMs: 200 })
      await until('a failed head read', () => node.counters.headReadFailures > 0 || node.fatal, 60_000)
      refuseUntil = 0
      // certifying goes on after the RPC recovers (whichever checkpoint comes first: one may be skipped
      // if its tries fell inside the refusal)
      const certifiedBefore = node.counters.certificates
      await until('a certificate after the RPC recovered', () => node.counters.certificates > certifiedBefore || node.fatal, 200_000)
      expect(node.fatal).toBeUndefined()
      expect(node.counters.headReadFailures).toBeGreaterThan(0)
    } finally {
      await proxy.close()
    }
  })
})
