import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runWorkload, type WorkloadResult } from '../../node/devnet/workload.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { ChainError } from '../../snapshot/chain/errors.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { CheckpointCache, deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import { derivativesSchema, type AccountRecord, type DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import { ZERO_ADDRESS } from '../../snapshot/schema/derivatives-v2.ts'
import type { DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { exchangeAbi, feedAbi } from '../../snapshot/adapters/perp-reference/abi.ts'
import { decodeFunctionResult, encodeFunctionData, type Hex } from 'viem'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))
type Cp = Checkpoint<AccountRecord, DerivativesMarketsV3>

let f: ChainFixture
let w1: WorkloadResult
const adapter = perpReferenceAdapter

async function derive(at: bigint, prev?: Cp, source = f.source()): Promise<Cp> {
  const target = await source.checkpointHeader(at)
  const { checkpoint } = await deriveCheckpoint({ adapter, config: f.config, source, target, prev, store: prev?.snapshot.store ?? new MemoryBlockStore() })
  return checkpoint
}

beforeAll(async () => {
  f = await startChain()
  w1 = await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 7, traders: 24, steps: 400 })
}, 180_000)

afterAll(async () => {
  await f?.stop()
})

describe('perp-reference adapter on a real chain', () => {
  it('derives a snapshot that matches the contracts account by account and market by market (all accounts)', async () => {
    const b = await blockNumber(f)
    const cp = await derive(b)
    const ctx = { source: f.source(), block: cp.block }
    const all: { key: Uint8Array; record: AccountRecord }[] = []
    for await (const e of cp.snapshot.entries()) all.push(e)
    expect(all.length).toBeGreaterThan(10)
    // every snapshot account, every market
    await cp.state.spotCheck(ctx, all, await cp.snapshot.markets())
    // and every trader the workload touched that is absent from the snapshot really holds nothing
    const present = new Set(all.map((e) => Buffer.from(e.key).toString('hex')))
    const absent = [...w1.traders, w1.keeper, f.deployment.options].filter((a) => !present.has(a.slice(2).toLowerCase()))
    const empty = absent.map((a) => ({ key: hexToBytes(a.toLowerCase()), record: { collateral: [], perps: [], options: [] } }))
    await cp.state.spotCheck(ctx, empty, await cp.snapshot.markets())
    const markets = await cp.snapshot.markets()
    expect(markets.markets.length).toBe(2)
    expect(markets.assets.length).toBe(2)
    expect(all.some((e) => e.record.options.length > 0)).toBe(true)
    expect(all.some((e) => e.record.perps.some((p) => p.size < 0n))).toBe(true)
  })

  it('incremental derivation over several checkpoints equals derivation from the deployment block', async () => {
    let prev = await derive(await blockNumber(f))
    for (let round = 0; round < 3; round++) {
      await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 100 + round, traders: 24, steps: 120 })
      const b = await blockNumber(f)
      const inc = await derive(b, prev)
      const scratch = await derive(b)
      expect(inc.snapshot.cid.toString()).toBe(scratch.snapshot.cid.toString())
      expect(inc.snapshot.root.stateRoot).toBe(scratch.snapshot.root.stateRoot)
      prev = inc
    }
  })

  it('a spot-check mismatch names the account and field and stops the checkpoint', async () => {
    const cp = await derive(await blockNumber(f))
    const [first] = await (async () => {
      const out: { key: Uint8Array; record: AccountRecord }[] = []
      for await (const e of cp.snapshot.entries()) if (e.record.collateral.length > 0) out.push(e)
      return out
    })()
    const wrong = { ...first!.record, collateral: first!.record.collateral.map((c, i) => (i === 0 ? { ...c, amount: c.amount + 1n } : c)) }
    const err = await cp.state.spotCheck({ source: f.source(), block: cp.block }, [{ key: first!.key, record: wrong }], await cp.snapshot.markets()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).chainCode).toBe('SPOT_CHECK_FAILED')
    expect((err as Error).message).toContain(Buffer.from(first!.key).toString('hex'))
    expect((err as Error).message).toMatch(/collateral\[0x[0-9a-f]{40}\]/)
  })

  it('record schema v3: every asset\'s pricing and symbol and every market\'s feed and lastFundingTime are the contracts\' at the block; a wrong one fails the spot check', async () => {
    const cp = await derive(await blockNumber(f))
    expect(cp.snapshot.root.schema).toMatchObject({ id: 'ark.derivatives.account', version: 3 })
    expect(cp.snapshot.root.adapter.version).toBe('3.0.0')
    const markets = await cp.snapshot.markets()
    const at = `0x${cp.block.number.toString(16)}`
    const read = async <T>(to: string, abi: readonly unknown[], functionName: string, args: unknown[] = []): Promise<T> => {
      const data = encodeFunctionData({ abi: abi as never, functionName, args } as never)
      return decodeFunctionResult({ abi: abi as never, functionName, data: await f.rpc<Hex>('eth_call', [{ to, data }, at]) } as never) as T
    }
    for (const a of f.deployment.assets) {
      const ours = markets.assets.find((x) => x.asset === a.token.toLowerCase())!
      expect(ours.symbol).toBe(a.symbol)
      if (a.feed === null) {
        expect(ours).toMatchObject({ feed: ZERO_ADDRESS, price: 0n, roundId: 0n, updatedAt: 0n, priceDecimals: 0n })
        continue
      }
      const [roundId, answer, , updatedAt] = await read<[bigint, bigint, bigint, bigint]>(a.feed, feedAbi, 'latestRoundData')
      expect(ours).toMatchObject({ feed: a.feed.toLowerCase(), price: answer, roundId, updatedAt, priceDecimals: BigInt(await read<number>(a.feed, feedAbi, 'decimals')) })
    }
    for (const m of markets.markets) {
      const view = await read<{ feed: string; lastFundingTime: bigint }>(f.config.exchange, exchangeAbi, 'getMarket', [m.id])
      expect({ feed: m.feed, lastFundingTime: m.lastFundingTime }).toEqual({ feed: view.feed.toLowerCase(), lastFundingTime: BigInt(view.lastFundingTime) })
      expect(m.feed).toBe(f.deployment.markets[Number(m.id)]!.feed.toLowerCase())
      expect(m.lastFundingTime).toBeLessThanOrEqual(cp.block.timestamp)
    }
    const wrong = { ...markets, assets: markets.assets.map((a) => (a.feed === ZERO_ADDRESS ? a : { ...a, price: a.price + 1n })) }
    const err = await cp.state.spotCheck({ source: f.source(), block: cp.block }, [], wrong).catch((e: unknown) => e)
    expect((err as ChainError).chainCode).toBe('SPOT_CHECK_FAILED')
    expect((err as Error).message).toMatch(/asset 0x[0-9a-f]{40} field price/)
    const late = { ...markets, markets: markets.markets.map((m, i) => (i === 0 ? { ...m, lastFundingTime: m.lastFundingTime - 1n } : m)) }
    await expect(cp.state.spotCheck({ source: f.source(), block: cp.block }, [], late)).rejects.toThrow(/market 0 field lastFundingTime/)
    const renamed = { ...markets, assets: markets.assets.map((a, i) => (i === 0 ? { ...a, symbol: 'FAKE' } : a)) }
    await expect(cp.state.spotCheck({ source: f.source(), block: cp.block }, [], renamed)).rejects.toThrow(/asset 0x[0-9a-f]{40} field symbol/)
  })

  it('an adapter upgrade: a previous checkpoint of record schema v1 is folded onto and rebuilt as the current version (v3), equal to a derivation from scratch', async () => {
    const base = await derive(await blockNumber(f))
    const records: { key: Uint8Array; record: AccountRecord }[] = []
    for await (const e of base.snapshot.entries()) records.push(e)
    const m = await base.snapshot.markets()
    const v1Markets: DerivativesMarkets = {
      assets: m.assets.map((a) => ({ asset: a.asset, haircutBps: a.haircutBps, decimals: a.decimals })),
      markets: m.markets.map(({ feed, lastFundingTime, ...rest }) => (void feed, void lastFundingTime, rest)),
    }
    const meta = { block: { ...base.snapshot.root.block }, adapter: { ...base.snapshot.root.adapter, version: '1.0.0' } }
    const store = new MemoryBlockStore()
    const v1 = (await buildSnapshot({ schema: derivativesSchema, meta, markets: v1Markets, records, store })).snapshot
    expect(v1.root.stateRoot).toBe(base.snapshot.root.stateRoot) // same records, same leaves
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 300, traders: 24, steps: 40 })
    const b = await blockNumber(f)
    const upgraded = await derive(b, { block: base.block, snapshot: v1 as unknown as Cp['snapshot'], state: base.state })
    const scratch = await derive(b)
    expect(upgraded.snapshot.root.schema.version).toBe(3)
    expect(upgraded.snapshot.cid.toString()).toBe(scratch.snapshot.cid.toString())
  })

  it('two independent processes deriving the same block produce the same CID (CLI, through files)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-build-'))
    try {
      const b = await blockNumber(f)
      await writeFile(join(dir, 'adapter.json'), JSON.stringify(adapter.configJSON(f.config)))
      const run = (out: string) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(process.execPath, ['node/cli/bin.js', 'snapshot', 'build', '--rpc', f.anvil.rpcUrl, '--adapter', 'perp-reference', '--config', join(dir, 'adapter.json'), '--block', b.toString(), '--out', join(dir, out), '--confirmations', '0', '--json'], { cwd: repo })
          let stdout = ''
          let stderr = ''
          p.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
          p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
          p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))
        })
      const [a, c] = await Promise.all([run('a.car'), run('b.car')])
      expect(a.code, a.stderr).toBe(0)
      expect(c.code, c.stderr).toBe(0)
      const ja = JSON.parse(a.stdout) as { root: string; stateRoot: string }
      const jb = JSON.parse(c.stdout) as { root: string; stateRoot: string }
      expect(ja.root).toBe(jb.root)
      expect(ja.root).toBe((await derive(b)).snapshot.cid.toString())
      // not final yet: refused with a clear error and no file
      const late = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['node/cli/bin.js', 'snapshot', 'build', '--rpc', f.anvil.rpcUrl, '--adapter', 'perp-reference', '--config', join(dir, 'adapter.json'), '--block', b.toString(), '--out', join(dir, 'late.car'), '--json'], { cwd: repo })
        let stderr = ''
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
        p.on('exit', (code) => resolve({ code: code ?? 1, stderr }))
      })
      expect(late.code).toBe(1)
      expect(late.stderr).toMatch(/not final/)
      expect((await readdir(dir)).filter((n) => n.startsWith('late'))).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a reorg below the cached head discards the derived state after the fork and the next snapshot is correct', async () => {
    const cache = new CheckpointCache<AccountRecord, DerivativesMarketsV3>()
    const base = await derive(await blockNumber(f))
    cache.push(base)
    const snap = await f.rpc<string>('evm_snapshot')
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 500, traders: 24, steps: 60 })
    const onOldFork = await derive(await blockNumber(f), base)
    cache.push(onOldFork)
    await f.rpc('evm_revert', [snap])
    // a different history of the same length and more
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 501, traders: 24, steps: 90 })
    const { base: canonical, dropped } = await cache.canonicalBase(f.source())
    expect(dropped).toEqual([onOldFork.block.number])
    expect(canonical?.block.hash).toBe(base.block.hash)
    const b = await blockNumber(f)
    const next = await derive(b, canonical)
    const scratch = await derive(b)
    expect(next.snapshot.cid.toString()).toBe(scratch.snapshot.cid.toString())
    expect(next.snapshot.cid.toString()).not.toBe(onOldFork.snapshot.cid.toString())
    // deriving on top of the orphaned checkpoint directly is refused, never silently mixed
    const err = await derive(b, onOldFork).catch((e: unknown) => e)
    expect((err as ChainError).chainCode).toBe('REORG')
  })

  it('the finality rule refuses blocks above the finalized tag', async () => {
    const src = new ChainSource({ rpcUrls: [f.anvil.rpcUrl], chainId: 31337n })
    const head = await blockNumber(f)
    const err = await src.checkpointHeader(head).catch((e: unknown) => e)
    expect((err as ChainError).chainCode).toBe('NOT_FINAL')
    const fin = await src.finalizedHead()
    expect(fin.number).toBeLessThan(head)
  })
})
