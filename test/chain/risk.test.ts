/**
 * `ark risk` against the reference protocol on a real anvil: after the seeded
 * workload, equity, maintenance and initial requirements recomputed from the
 * snapshot alone equal PerpExchange's view functions at the snapshot block,
 * for every account; liquidation prices are checked by moving the oracle to
 * them; and the CLI's JSON on a snapshot CAR agrees. The adapter writes record
 * schema v2, whose market state carries collateral pricing and every market's
 * lastFundingTime: with it `ark risk` needs no flags, even when funding is
 * stale (markets not touched in the snapshot block). The flags remain
 * overrides (and the only way for v1 snapshots), checked here too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFunctionResult, encodeFunctionData, parseAbi, type Hex } from 'viem'
import { runWorkload } from '../../node/devnet/workload.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { exchangeAbi } from '../../snapshot/adapters/perp-reference/abi.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import { resolveRiskInputs } from '../../snapshot/risk/inputs.ts'
import { accountMargin, liquidationPrice, marginContext, type AssetPricing, type MarginContext } from '../../snapshot/risk/margin.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { runArk } from '../support/recovery.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'

type Cp = Checkpoint<AccountRecord, DerivativesMarketsV3>

const viewsAbi = parseAbi([
  'function equity(address account) view returns (int256)',
  'function maintenanceRequirement(address account) view returns (uint256)',
  'function initialRequirement(address account) view returns (uint256)',
])
const feedAbi = parseAbi(['function updateAnswer(int256 answer)'])

let f: ChainFixture
let pricing: Map<string, AssetPricing>

async function call<T>(to: Hex, abi: readonly unknown[], functionName: string, args: unknown[], block: bigint): Promise<T> {
  const data = encodeFunctionData({ abi: abi as never, functionName, args } as never)
  const raw = await f.rpc<Hex>('eth_call', [{ to, data }, `0x${block.toString(16)}`])
  return decodeFunctionResult({ abi: abi as never, functionName, data: raw } as never) as T
}

async function derive(at: bigint): Promise<Cp> {
  const source = f.source()
  const target = await source.checkpointHeader(at)
  return (await deriveCheckpoint({ adapter: perpReferenceAdapter, config: f.config, source, target, store: new MemoryBlockStore() })).checkpoint
}

async function entries(cp: Cp): Promise<{ key: Uint8Array; record: AccountRecord }[]> {
  const out: { key: Uint8Array; record: AccountRecord }[] = []
  for await (const e of cp.snapshot.entries()) out.push(e)
  return out
}

/** lastFundingTime of every market at `block` (the snapshot does not carry it). */
async function fundingTimes(block: bigint, n: number): Promise<Map<bigint, bigint>> {
  const out = new Map<bigint, bigint>()
  for (let i = 0; i < n; i++) out.set(BigInt(i), BigInt((await call<{ lastFundingTime: bigint }>(f.config.exchange, exchangeAbi, 'getMarket', [BigInt(i)], block)).lastFundingTime))
  return out
}

/** Mines one block at `timestamp` holding the given transactions (automine off meanwhile). */
async function mineWith(txs: { from: Hex; to: Hex; data: Hex }[], timestamp: bigint): Promise<bigint> {
  await f.rpc('evm_setAutomine', [false])
  try {
    const hashes: Hex[] = []
    for (const tx of txs) hashes.push(await f.rpc<Hex>('eth_sendTransaction', [{ ...tx, gas: '0x7a1200' }]))
    await f.rpc('evm_mine', [Number(timestamp)])
    for (const h of hashes) expect((await f.rpc<{ status: Hex }>('eth_getTransactionReceipt', [h])).status).toBe('0x1')
  } finally {
    await f.rpc('evm_setAutomine', [true])
  }
  return blockNumber(f)
}

async function expectViewsEqual(cp: Cp, times: Map<bigint, bigint> | undefined, given?: MarginContext): Promise<number> {
  const b = cp.block.number
  const ctx = given ?? marginContext({ markets: await cp.snapshot.markets(), pricing, timestamp: cp.block.timestamp, fundingTimes: times })
  let withPerps = 0
  for (const { key, record } of await entries(cp)) {
    const addr = bytesToHex(key) as Hex
    const ours = accountMargin(ctx, record)
    const [eq, maint, init] = await Promise.all([
      call<bigint>(f.config.exchange, viewsAbi, 'equity', [addr], b),
      call<bigint>(f.config.exchange, viewsAbi, 'maintenanceRequirement', [addr], b),
      call<bigint>(f.config.exchange, viewsAbi, 'initialRequirement', [addr], b),
    ])
    expect({ account: addr, equity: ours.equity, maintenance: ours.maintenanceRequirement, initial: ours.initialRequirement }).toEqual({ account: addr, equity: eq, maintenance: maint, initial: init })
    if (record.perps.length > 0) withPerps++
  }
  return withPerps
}

beforeAll(async () => {
  f = await startChain()
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 23, traders: 24, steps: 300 })
  // the devnet's pricing: USDX at par, WETH by ETH-PERP's feed (deployment: same feed)
  pricing = new Map(f.deployment.assets.map((a) => [a.token.toLowerCase(), a.feed === null ? { kind: 'par' } : { kind: 'market', market: BigInt(f.deployment.markets.find((m) => m.feed === a.feed)!.id) }]))
}, 240_000)

afterAll(async () => {
  await f?.stop()
})

describe('risk recomputed from a snapshot equals the contract', () => {
  it('equity, maintenance and initial requirements of every account equal the views at the snapshot block (funding accrued with lastFundingTime)', async () => {
    const cp = await derive(await blockNumber(f))
    const times = await fundingTimes(cp.block.number, 2)
    const withPerps = await expectViewsEqual(cp, times)
    expect(withPerps).toBeGreaterThan(5)
    // a market last touched before the block accrues funding in the views: the snapshot's index alone would miss it
    const stale = (await cp.snapshot.markets()).markets.filter((m) => times.get(m.id)! < cp.block.timestamp && m.fundingRate !== 0n)
    if (stale.length > 0) {
      const ctx = marginContext({ markets: await cp.snapshot.markets(), pricing, timestamp: cp.block.timestamp })
      const exposed = (await entries(cp)).filter((e) => e.record.perps.some((p) => p.market === stale[0]!.id && p.size > 10n ** 15n))
      const differs = await Promise.all(exposed.map(async (e) => accountMargin(ctx, e.record).equity !== (await call<bigint>(f.config.exchange, viewsAbi, 'equity', [bytesToHex(e.key) as Hex], cp.block.number))))
      expect(differs.some((d) => d)).toBe(true)
    }
  })

  it('from the snapshot alone (no inputs but the collateral pricing) when the markets accrued funding in the snapshot block', async () => {
    const head = await f.rpc<{ timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
    const from = (await f.rpc<Hex[]>('eth_accounts'))[0]!
    const data = (m: bigint): Hex => encodeFunctionData({ abi: parseAbi(['function updateFunding(uint64 market)']), functionName: 'updateFunding', args: [m] })
    const b = await mineWith([{ from, to: f.config.exchange, data: data(0n) }, { from, to: f.config.exchange, data: data(1n) }], BigInt(head.timestamp) + 3_600n)
    const cp = await derive(b)
    // every market's lastFundingTime is the block's own timestamp: nothing left to accrue
    for (const t of (await fundingTimes(b, 2)).values()) expect(t).toBe(cp.block.timestamp)
    await expectViewsEqual(cp, undefined)
    // and the CLI, on the snapshot CAR, prints the same numbers
    const dir = await mkdtemp(join(tmpdir(), 'ark-risk-chain-'))
    try {
      const chunks: Uint8Array[] = []
      for await (const c of writeCar([cp.snapshot.cid], cp.snapshot.blockCids(), cp.snapshot.store)) chunks.push(c)
      await writeFile(join(dir, 's.car'), Buffer.concat(chunks))
      await writeFile(join(dir, 'deployment.json'), JSON.stringify(f.deployment, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
      const r = await runArk(['risk', join(dir, 's.car'), '--deployment', join(dir, 'deployment.json')])
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout) as { accounts: { account: string; equity: string; maintenanceRequirement: string }[] }
      const some = doc.accounts.slice(0, 8)
      for (const a of some) {
        expect(a.equity).toBe((await call<bigint>(f.config.exchange, viewsAbi, 'equity', [a.account as Hex], b)).toString())
        expect(a.maintenanceRequirement).toBe((await call<bigint>(f.config.exchange, viewsAbi, 'maintenanceRequirement', [a.account as Hex], b)).toString())
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('schema v2 and later (the adapter writes v3): with no flags at all, every account equals the views even when funding is stale; the flags still override', async () => {
    // an empty block an hour and a half later: no market is touched, every market's funding is stale
    const head = await f.rpc<{ timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
    const b = await mineWith([], BigInt(head.timestamp) + 5_400n)
    const cp = await derive(b)
    expect(cp.snapshot.root.schema).toMatchObject({ id: 'ark.derivatives.account', version: 3 })
    const markets = await cp.snapshot.markets()
    // the snapshot carries what the views use: each market's lastFundingTime and feed, each asset's pricing
    const times = await fundingTimes(b, 2)
    expect(new Map(markets.markets.map((m) => [m.id, m.lastFundingTime]))).toEqual(times)
    for (const m of markets.markets) expect(m.feed).toBe(f.deployment.markets[Number(m.id)]!.feed.toLowerCase())
    const stale = markets.markets.filter((m) => m.lastFundingTime < cp.block.timestamp && m.fundingRate !== 0n)
    expect(stale.length).toBeGreaterThan(0)
    const inputs = resolveRiskInputs(markets)
    expect(inputs.pricing).toEqual(pricing)
    expect(new Set(inputs.sources.pricing.values())).toEqual(new Set(['snapshot']))
    // the library: snapshot inputs only
    const ctx = marginContext({ markets, pricing: inputs.pricing, timestamp: cp.block.timestamp, fundingTimes: inputs.fundingTimes })
    expect(await expectViewsEqual(cp, undefined, ctx)).toBeGreaterThan(5)
    // (without lastFundingTime — what a v1 snapshot gave — an account exposed to a stale market would be off)
    const v1ctx = marginContext({ markets, pricing, timestamp: cp.block.timestamp })
    const exposed = (await entries(cp)).filter((e) => e.record.perps.some((p) => p.market === stale[0]!.id && p.size > 10n ** 15n))
    const off = await Promise.all(exposed.map(async (e) => accountMargin(v1ctx, e.record).equity !== (await call<bigint>(f.config.exchange, viewsAbi, 'equity', [bytesToHex(e.key) as Hex], b))))
    expect(off.some((d) => d)).toBe(true)
    // the CLI on the CAR, no flags: every account
    const dir = await mkdtemp(join(tmpdir(), 'ark-risk-v2-'))
    try {
      const chunks: Uint8Array[] = []
      for await (const c of writeCar([cp.snapshot.cid], cp.snapshot.blockCids(), cp.snapshot.store)) chunks.push(c)
      await writeFile(join(dir, 's.car'), Buffer.concat(chunks))
      const r = await runArk(['risk', join(dir, 's.car')])
      expect(r.code, r.stderr).toBe(0)
      type Doc = { inputs: { fundingTimes: Record<string, string>; sources: { assetPrices: Record<string, string>; fundingTimes: Record<string, string> } }; accounts: { account: string; equity: string; maintenanceRequirement: string; initialRequirement: string }[] }
      const doc = JSON.parse(r.stdout) as Doc
      expect(doc.inputs.fundingTimes).toEqual(Object.fromEntries([...times].map(([k, v]) => [k.toString(), v.toString()])))
      expect(new Set([...Object.values(doc.inputs.sources.assetPrices), ...Object.values(doc.inputs.sources.fundingTimes)])).toEqual(new Set(['snapshot']))
      expect(doc.accounts.length).toBe(cp.snapshot.root.accountCount)
      for (const a of doc.accounts) {
        const [eq, maint, init] = await Promise.all(['equity', 'maintenanceRequirement', 'initialRequirement'].map((fn) => call<bigint>(f.config.exchange, viewsAbi, fn, [a.account as Hex], b)))
        expect({ account: a.account, equity: a.equity, maintenance: a.maintenanceRequirement, initial: a.initialRequirement }).toEqual({ account: a.account, equity: eq!.toString(), maintenance: maint!.toString(), initial: init!.toString() })
      }
      // flags override the snapshot's inputs, market by market: a lastFundingTime of the block itself drops the accrual
      const frozen = stale[0]!.id
      const o = await runArk(['risk', join(dir, 's.car'), '--funding-time', `${frozen}=${cp.block.timestamp}`])
      expect(o.code, o.stderr).toBe(0)
      const od = JSON.parse(o.stdout) as Doc
      expect(od.inputs.sources.fundingTimes[frozen.toString()]).toBe('override')
      expect(od.inputs.fundingTimes[frozen.toString()]).toBe(cp.block.timestamp.toString())
      const moved = od.accounts.filter((a, i) => a.equity !== doc.accounts[i]!.equity).map((a) => a.account)
      expect(moved.length).toBeGreaterThan(0)
      const inFrozen = new Set((await entries(cp)).filter((e) => e.record.perps.some((p) => p.market === frozen)).map((e) => bytesToHex(e.key)))
      expect(moved.filter((a) => !inFrozen.has(a as `0x${string}`))).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the liquidation price is where the contract starts to consider the account liquidatable', async () => {
    const cp = await derive(await blockNumber(f))
    const head = await f.rpc<{ timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
    const at = BigInt(head.timestamp) + 60n
    // the views will run in a block at `at`: accrue funding to it, from the snapshot's own lastFundingTime; WETH moves with ETH-PERP's feed
    const inputs = resolveRiskInputs(await cp.snapshot.markets())
    const ctx = marginContext({ markets: await cp.snapshot.markets(), pricing: inputs.pricing, timestamp: at, fundingTimes: inputs.fundingTimes })
    const market = 0n
    const feed = f.deployment.markets[0]!.feed
    const p0 = (await cp.snapshot.markets()).markets[0]!.price
    // a long and a short in ETH-PERP whose liquidation price is a sane oracle answer
    const all = await entries(cp)
    const pick = (long: boolean) =>
      all
        .map((e) => ({ ...e, pos: e.record.perps.find((p) => p.market === market && p.size > 0n === long) }))
        .filter((e) => e.pos !== undefined)
        .map((e) => ({ ...e, lp: liquidationPrice(ctx, e.record, market) }))
        .find((e) => e.lp !== null && e.lp > p0 / 4n && e.lp < p0 * 4n)
    const cases = [pick(true), pick(false)].filter((x) => x !== undefined)
    expect(cases.length).toBe(2)
    for (const c of cases) {
      const long = c.pos!.size > 0n
      const addr = bytesToHex(c.key) as Hex
      for (const [price, liquidatable] of [[c.lp!, true], [long ? c.lp! + 1n : c.lp! - 1n, false]] as const) {
        const snap = await f.rpc<Hex>('evm_snapshot')
        try {
          const b = await mineWith([{ from: f.deployment.updater as Hex, to: feed as Hex, data: encodeFunctionData({ abi: feedAbi, functionName: 'updateAnswer', args: [price] }) }], at)
          const [eq, maint] = await Promise.all([call<bigint>(f.config.exchange, viewsAbi, 'equity', [addr], b), call<bigint>(f.config.exchange, viewsAbi, 'maintenanceRequirement', [addr], b)])
          expect(eq < maint, `${long ? 'long' : 'short'} ${addr} at price ${price} (equity ${eq}, maintenance ${maint})`).toBe(liquidatable)
          // and our arithmetic at that price is the contract's
          const ours = accountMargin(ctx, c.record, new Map([[market, price]]))
          expect([ours.equity, ours.maintenanceRequirement]).toEqual([eq, maint])
        } finally {
          await f.rpc('evm_revert', [snap])
        }
      }
    }
  })
})
