import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  parseEventLogs,
  type Abi,
  type Address,
  type PublicClient,
  type TransactionReceipt,
  type WalletClient,
} from 'viem'
import { loadArtifact, type Artifact } from '../node/contracts/compile.ts'
import { startAnvil, type AnvilInstance } from '../node/chain/anvil.ts'
import { deployReferenceProtocol, type ReferenceDeployment } from '../node/devnet/deploy.ts'
import { runWorkload, type WorkloadResult } from '../node/devnet/workload.ts'

// Against a real anvil: deploy the reference protocol, run a small seeded workload, then check the
// protocol's rules and that folding its events reproduces its views exactly.

const E18 = 10n ** 18n
const E8 = 10n ** 8n
const YEAR = 365n * 24n * 3600n
const SEED = 7
const START = 2_000_000_000n // pinned workload start so two runs match down to the timestamps

let anvil: AnvilInstance
let d: ReferenceDeployment
let wl: WorkloadResult
let pub: PublicClient
let wallet: WalletClient
let dev: Address[]
let ex: Artifact, om: Artifact, token: Artifact, feed: Artifact
let errors: Abi

beforeAll(async () => {
  ;[ex, om, token, feed] = await Promise.all(['PerpExchange', 'OptionsMarket', 'MockERC20', 'PriceFeed'].map((n) => loadArtifact(n))) as [Artifact, Artifact, Artifact, Artifact]
  const seen = new Set<string>()
  errors = [ex, om, token, feed].flatMap((a) => a.abi.filter((i) => i.type === 'error')).filter((e) => {
    const key = `${e.name}(${e.inputs.map((i) => i.type).join(',')})`
    return seen.has(key) ? false : (seen.add(key), true)
  })
  anvil = await startAnvil()
  pub = createPublicClient({ transport: http(anvil.rpcUrl), pollingInterval: 10 })
  wallet = createWalletClient({ transport: http(anvil.rpcUrl) })
  dev = (await wallet.getAddresses()).map((a) => getAddress(a))
  d = await deployReferenceProtocol({ rpcUrl: anvil.rpcUrl })
  wl = await runWorkload({ rpcUrl: anvil.rpcUrl, deployment: d, seed: SEED, traders: 20, steps: 300, startTimestamp: START })
})

afterAll(async () => {
  await anvil?.stop()
})

// ---------------------------------------------------------------- helpers

const usdx = (): Address => d.assets[0]!.token
const ethFeed = (): Address => d.markets[0]!.feed

async function send(from: Address, address: Address, abi: Abi, functionName: string, args: unknown[] = []): Promise<TransactionReceipt> {
  // explicit gas: an estimate taken in one second can fall short in the next, when funding accrual
  // takes the storage-writing path
  const hash = await wallet.writeContract({ account: from, chain: null, address, abi: [...abi, ...errors], functionName, args, gas: 2_000_000n })
  const receipt = await pub.waitForTransactionReceipt({ hash })
  expect(receipt.status, `${functionName} reverted`).toBe('success')
  return receipt
}

/** The custom error a call reverts with (by simulation), and that the transaction really reverts. */
async function revertOf(from: Address, address: Address, abi: Abi, functionName: string, args: unknown[] = []): Promise<{ name: string; args: readonly unknown[] }> {
  try {
    await pub.simulateContract({ account: from, address, abi: [...abi, ...errors], functionName, args })
  } catch (err) {
    const r = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null
    if (r instanceof ContractFunctionRevertedError) {
      const hash = await wallet.writeContract({ account: from, chain: null, address, abi: [...abi, ...errors], functionName, args, gas: 1_000_000n })
      expect((await pub.waitForTransactionReceipt({ hash })).status).toBe('reverted')
      return { name: r.data?.errorName ?? r.signature ?? '?', args: r.data?.args ?? [] }
    }
    throw err
  }
  throw new Error(`${functionName} did not revert`)
}

const read = <T>(address: Address, abi: Abi, functionName: string, args: unknown[] = []): Promise<T> =>
  pub.readContract({ address, abi, functionName, args }) as Promise<T>

async function fund(account: Address, amount: bigint): Promise<void> {
  await send(d.owner, usdx(), token.abi, 'mint', [account, amount])
  await send(account, usdx(), token.abi, 'approve', [d.exchange, amount])
  await send(account, d.exchange, ex.abi, 'deposit', [usdx(), amount])
}

type MarketView = { price: bigint; longOpenInterest: bigint; shortOpenInterest: bigint; fundingIndex: bigint; fundingRate: bigint; lastFundingTime: bigint; roundId: bigint; updatedAt: bigint }
const market = (id: number): Promise<MarketView> => read<MarketView>(d.exchange, ex.abi, 'getMarket', [BigInt(id)])
const balance = (account: Address): Promise<bigint> => read<bigint>(d.exchange, ex.abi, 'balanceOf', [account, usdx()])
const sizeFor = (notionalUsd: bigint, price: bigint): bigint => notionalUsd * E18 * E8 / price

function events(receipt: TransactionReceipt, abi: Abi, eventName: string): Record<string, unknown>[] {
  return parseEventLogs({ abi, logs: receipt.logs, eventName }).map((l) => l.args as Record<string, unknown>)
}

async function timeTravel(seconds: number): Promise<void> {
  await pub.request({ method: 'evm_increaseTime' as never, params: [seconds] as never })
  await pub.request({ method: 'evm_mine' as never, params: [] as never })
}

async function blockTime(receipt: TransactionReceipt): Promise<bigint> {
  return (await pub.getBlock({ blockNumber: receipt.blockNumber })).timestamp
}

// ---------------------------------------------------------------- the workload

describe('seeded workload', () => {
  it('exercised every part of the protocol', () => {
    expect(wl.traders).toHaveLength(20)
    expect(wl.counts.trades).toBeGreaterThan(100)
    expect(wl.counts.liquidations).toBeGreaterThan(0)
    expect(wl.counts.optionBuys).toBeGreaterThan(0)
    expect(wl.counts.optionWrites).toBeGreaterThan(0)
    expect(wl.counts.seriesSettled).toBeGreaterThan(0)
    expect(wl.counts.optionSettlements).toBeGreaterThan(0)
    expect(wl.counts.withdrawals).toBeGreaterThan(0)
    expect(wl.counts.pauses).toBe(1)
    expect(wl.events).toBeGreaterThan(wl.txs)
    expect(wl.accounts).toBeGreaterThanOrEqual(20)
    expect(wl.reverted).toBeLessThan(wl.txs / 20)
  })

  it('is deterministic: the same seed on a fresh chain ends in the same state', async () => {
    const other = await startAnvil()
    try {
      const d2 = await deployReferenceProtocol({ rpcUrl: other.rpcUrl })
      const wl2 = await runWorkload({ rpcUrl: other.rpcUrl, deployment: d2, seed: SEED, traders: 20, steps: 300, startTimestamp: START })
      expect(wl2.traders).toEqual(wl.traders)
      expect([wl2.events, wl2.txs, wl2.reverted, wl2.blocks]).toEqual([wl.events, wl.txs, wl.reverted, wl.blocks])
      const pub2 = createPublicClient({ transport: http(other.rpcUrl) })
      const digest = async (client: PublicClient, dep: ReferenceDeployment, block: bigint): Promise<string> => {
        const at = { blockNumber: block }
        const parts: unknown[] = []
        for (const t of wl.traders) {
          parts.push(await client.readContract({ address: dep.exchange, abi: ex.abi, functionName: 'getAccount', args: [t], ...at }))
          parts.push(await client.readContract({ address: dep.options, abi: om.abi, functionName: 'getOptionPositions', args: [t], ...at }))
        }
        for (const m of dep.markets) parts.push(await client.readContract({ address: dep.exchange, abi: ex.abi, functionName: 'getMarket', args: [BigInt(m.id)], ...at }))
        return JSON.stringify(parts, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
      }
      expect(await digest(pub2 as PublicClient, d2, wl2.toBlock)).toBe(await digest(pub, d, wl.toBlock))
    } finally {
      await other.stop()
    }
  })
})

// ---------------------------------------------------------------- protocol rules

describe('reference protocol', () => {
  it('keeps a Chainlink-compatible round history and only lets the updater write', async () => {
    const before = await read<readonly [bigint, bigint, bigint, bigint, bigint]>(ethFeed(), feed.abi, 'latestRoundData')
    const r = await send(d.updater, ethFeed(), feed.abi, 'updateAnswer', [before[1] + 1n])
    const after = await read<readonly [bigint, bigint, bigint, bigint, bigint]>(ethFeed(), feed.abi, 'latestRoundData')
    expect(after[0]).toBe(before[0] + 1n)
    expect(after[1]).toBe(before[1] + 1n)
    expect(after[3]).toBe(await blockTime(r))
    expect(after[4]).toBe(after[0])
    const old = await read<readonly [bigint, bigint, bigint, bigint, bigint]>(ethFeed(), feed.abi, 'getRoundData', [before[0]])
    expect(old).toEqual(before)
    expect(await read(ethFeed(), feed.abi, 'decimals')).toBe(8)
    expect((await revertOf(dev[7]!, ethFeed(), feed.abi, 'updateAnswer', [1n])).name).toBe('NotUpdater')
    expect((await revertOf(dev[7]!, ethFeed(), feed.abi, 'getRoundData', [after[0] + 1n])).name).toBe('NoDataPresent')
  })

  it('rejects trades and withdrawals that break initial margin', async () => {
    const alice = dev[3]!
    await fund(alice, 1_000n * E18)
    const { price } = await market(0)
    const tooBig = await revertOf(alice, d.exchange, ex.abi, 'trade', [0n, sizeFor(20_000n, price)])
    expect(tooBig.name).toBe('InsufficientMargin')
    expect(tooBig.args[0]).toBe(1_000n * E18) // equity: the deposit, no PnL at the entry price
    expect(tooBig.args[1] as bigint).toBeGreaterThan(1_000n * E18)
    const size = sizeFor(5_000n, price)
    await send(alice, d.exchange, ex.abi, 'trade', [0n, size])
    const [, positions] = await read<readonly [unknown[], { market: bigint; size: bigint; entryPrice: bigint }[]]>(d.exchange, ex.abi, 'getAccount', [alice])
    expect(positions).toMatchObject([{ market: 0n, size, entryPrice: price }])
    expect((await revertOf(alice, d.exchange, ex.abi, 'withdraw', [usdx(), 900n * E18])).name).toBe('InsufficientMargin')
    expect((await revertOf(alice, d.exchange, ex.abi, 'withdraw', [usdx(), 2_000n * E18])).name).toBe('InsufficientBalance')
    await send(alice, d.exchange, ex.abi, 'withdraw', [usdx(), 400n * E18])
    expect(await balance(alice)).toBe(600n * E18)
  })

  it('liquidates below maintenance, closes the position and pays the keeper fee', async () => {
    const [bob, keeper] = [dev[4]!, dev[5]!]
    await fund(bob, 1_000n * E18)
    const p0 = (await market(0)).price
    const size = sizeFor(9_500n, p0)
    const opened = await send(bob, d.exchange, ex.abi, 'trade', [0n, size])
    const [pos] = events(opened, ex.abi, 'PositionUpdated') as { fundingIndex: bigint }[]
    expect((await revertOf(keeper, d.exchange, ex.abi, 'liquidate', [bob, 0n])).name).toBe('NotLiquidatable')

    const p1 = p0 * 93n / 100n
    await send(d.updater, ethFeed(), feed.abi, 'updateAnswer', [p1])
    const equity = await read<bigint>(d.exchange, ex.abi, 'equity', [bob])
    expect(equity).toBeLessThan(await read<bigint>(d.exchange, ex.abi, 'maintenanceRequirement', [bob]))

    const r = await send(keeper, d.exchange, ex.abi, 'liquidate', [bob, 0n])
    const [liq] = events(r, ex.abi, 'Liquidated') as { account: Address; keeper: Address; size: bigint; price: bigint; fee: bigint }[]
    const [mkt] = events(r, ex.abi, 'MarketUpdated') as { fundingIndex: bigint }[]
    const fee = size * p1 / E8 * (d.markets[0]!.liquidationFee) / E18
    expect(liq).toMatchObject({ account: bob, keeper, size, price: p1, fee })
    const settled = 1_000n * E18 + size * (p1 - p0) / E8 - size * (mkt!.fundingIndex - pos!.fundingIndex) / E18
    expect(await balance(bob)).toBe(settled - fee)
    expect(await balance(keeper)).toBe(fee)
    const [, positions] = await read<readonly [unknown[], unknown[]]>(d.exchange, ex.abi, 'getAccount', [bob])
    expect(positions).toEqual([])
    expect((await revertOf(keeper, d.exchange, ex.abi, 'liquidate', [bob, 0n])).name).toBe('NoPosition')
  })

  it('moves the funding index with the skew and charges it on settlement', async () => {
    const carol = dev[6]!
    await fund(carol, 50_000_000n * E18)
    const before = await market(1)
    const size = 3n * (before.longOpenInterest + before.shortOpenInterest) + sizeFor(100_000n, before.price)
    const opened = await send(carol, d.exchange, ex.abi, 'trade', [1n, size])
    const [m1] = events(opened, ex.abi, 'MarketUpdated') as MarketView[]
    const ff = d.markets[1]!.fundingFactor
    const skewRate = (m: MarketView): bigint => ff * (m.longOpenInterest - m.shortOpenInterest) / (m.longOpenInterest + m.shortOpenInterest)
    expect(m1!.fundingRate).toBe(skewRate(m1!))
    expect(m1!.fundingRate).toBeGreaterThan(0n) // longs dominate: longs pay
    const balanceAfterOpen = await balance(carol)

    await timeTravel(3_600)
    const touched = await send(dev[9]!, d.exchange, ex.abi, 'updateFunding', [1n])
    const [m2] = events(touched, ex.abi, 'MarketUpdated') as MarketView[]
    expect(m2!.lastFundingTime).toBe(await blockTime(touched))
    expect(m2!.fundingIndex).toBe(m1!.fundingIndex + m1!.fundingRate * (m2!.lastFundingTime - m1!.lastFundingTime))
    expect(m2!.fundingIndex).toBeGreaterThan(m1!.fundingIndex)

    const closed = await send(carol, d.exchange, ex.abi, 'trade', [1n, -size])
    const [m3] = events(closed, ex.abi, 'MarketUpdated') as MarketView[]
    const owed = size * (m3!.fundingIndex - m1!.fundingIndex) / E18
    expect(owed).toBeGreaterThan(0n)
    expect(await balance(carol)).toBe(balanceAfterOpen - owed) // same price: funding is the only change
    expect(m3!.fundingRate).toBe(m3!.longOpenInterest + m3!.shortOpenInterest === 0n ? 0n : skewRate(m3!))
  })

  it('blocks trading, deposits, withdrawals, liquidations and option trades while paused', async () => {
    const alice = dev[3]!
    expect((await revertOf(dev[7]!, d.exchange, ex.abi, 'pause')).name).toBe('NotGuardian')
    const r = await send(d.guardian, d.exchange, ex.abi, 'pause')
    expect(events(r, ex.abi, 'Paused')).toEqual([{ guardian: d.guardian }])
    expect(await read(d.exchange, ex.abi, 'paused')).toBe(true)
    expect((await revertOf(alice, d.exchange, ex.abi, 'trade', [0n, 1n])).name).toBe('ExchangePaused')
    expect((await revertOf(alice, d.exchange, ex.abi, 'withdraw', [usdx(), 1n])).name).toBe('ExchangePaused')
    expect((await revertOf(alice, d.exchange, ex.abi, 'deposit', [usdx(), 1n])).name).toBe('ExchangePaused')
    expect((await revertOf(dev[5]!, d.exchange, ex.abi, 'liquidate', [alice, 0n])).name).toBe('ExchangePaused')
    await send(d.guardian, d.exchange, ex.abi, 'unpause')
    await send(alice, d.exchange, ex.abi, 'trade', [0n, -1n])
  })

  it('sells and writes options at the documented premium and settles them at the oracle price', async () => {
    const [dave, erin] = [dev[7]!, dev[8]!]
    await fund(dave, 100_000n * E18)
    await fund(erin, 100_000n * E18)
    const p = (await market(0)).price
    const now = (await pub.getBlock()).timestamp
    const strike = (p / E8 - 100n) * E8
    const listed = await send(d.owner, d.options, om.abi, 'listSeries', [0n, true, strike, now + 7_200n])
    const [{ seriesId: call, expiry }] = events(listed, om.abi, 'SeriesListed') as { seriesId: bigint; expiry: bigint }[] as [{ seriesId: bigint; expiry: bigint }]
    const putListed = await send(d.owner, d.options, om.abi, 'listSeries', [0n, false, (p / E8 - 500n) * E8, now + 7_200n])
    const [{ seriesId: put }] = events(putListed, om.abi, 'SeriesListed') as [{ seriesId: bigint }]
    const premium = (price: bigint, at: bigint, size: bigint): bigint => ((price - strike) + price * (expiry - at) / YEAR / 10n) * size / E8

    const poolBefore = await balance(d.options)
    const bought = await send(dave, d.options, om.abi, 'buy', [call, 2n * E18])
    const paid = premium(p, await blockTime(bought), 2n * E18)
    expect(await balance(dave)).toBe(100_000n * E18 - paid)
    const written = await send(erin, d.options, om.abi, 'write', [call, E18])
    const received = premium(p, await blockTime(written), E18)
    expect(await balance(erin)).toBe(100_000n * E18 + received)
    expect(await balance(d.options)).toBe(poolBefore + paid - received)
    await send(dave, d.options, om.abi, 'buy', [put, E18])
    expect((await revertOf(erin, d.options, om.abi, 'write', [call, 1_000n * E18])).name).toBe('InsufficientWriterCollateral')
    expect((await revertOf(dave, d.options, om.abi, 'settleSeries', [call])).name).toBe('SeriesNotExpired')
    expect(await read(d.options, om.abi, 'getOptionPositions', [dave])).toMatchObject([{ seriesId: call, size: 2n * E18 }, { seriesId: put, size: E18 }])

    await timeTravel(7_300)
    const ps = p + 300n * E8
    await send(d.updater, ethFeed(), feed.abi, 'updateAnswer', [ps])
    expect((await revertOf(dave, d.options, om.abi, 'buy', [call, E18])).name).toBe('SeriesExpired')
    expect((await revertOf(dave, d.options, om.abi, 'settle', [dave, call])).name).toBe('SeriesNotSettled')
    const fixed = await send(dev[9]!, d.options, om.abi, 'settleSeries', [call])
    expect(events(fixed, om.abi, 'SeriesSettled')).toEqual([{ seriesId: call, settlementPrice: ps }])
    await send(dev[9]!, d.options, om.abi, 'settleSeries', [put])
    expect(await read(d.options, om.abi, 'getSeries', [call])).toEqual([0n, true, strike, expiry, true, ps])

    const [daveBefore, erinBefore] = [await balance(dave), await balance(erin)]
    await send(dev[9]!, d.options, om.abi, 'settle', [dave, call])
    await send(dev[9]!, d.options, om.abi, 'settle', [erin, call])
    await send(dev[9]!, d.options, om.abi, 'settle', [dave, put]) // out of the money: pays nothing
    expect(await balance(dave)).toBe(daveBefore + (ps - strike) * 2n * E18 / E8)
    expect(await balance(erin)).toBe(erinBefore - (ps - strike) * E18 / E8)
    expect(await read(d.options, om.abi, 'getOptionPositions', [dave])).toEqual([])
    expect((await revertOf(dave, d.options, om.abi, 'settle', [dave, call])).name).toBe('NoOptionPosition')
  })

  // last, so it covers the workload and every scenario above
  it('folding the events reproduces every view exactly', async () => {
    const logs = await pub.getLogs({ address: [d.exchange, d.options], fromBlock: d.deployBlock, toBlock: 'latest' })
    const parsed = parseEventLogs({ abi: [...ex.abi, ...om.abi], logs })
    expect(parsed).toHaveLength(logs.length)
    const k = (a: unknown): string => (a as string).toLowerCase()
    const assets: { token: string; feed: string; haircutBps: number; decimals: number }[] = []
    const markets = new Map<bigint, Record<string, unknown>>()
    const collateral = new Map<string, Map<string, bigint>>()
    const positions = new Map<string, Map<bigint, { size: bigint; entryPrice: bigint; fundingIndex: bigint }>>()
    const options = new Map<string, Map<bigint, bigint>>()
    const series = new Map<bigint, { market: bigint; isCall: boolean; strike: bigint; expiry: bigint; settled: boolean; settlementPrice: bigint }>()
    let paused = false
    const inner = <K, V>(m: Map<string, Map<K, V>>, a: string): Map<K, V> => m.get(a) ?? m.set(a, new Map()).get(a)!
    type Args = {
      asset: Address; feed: Address; haircutBps: number; decimals: number; market: bigint; account: Address; balance: bigint
      size: bigint; entryPrice: bigint; fundingIndex: bigint; seriesId: bigint; isCall: boolean; strike: bigint; expiry: bigint; settlementPrice: bigint
    }
    for (const { eventName, args: raw } of parsed) {
      const args = raw as unknown as Args
      switch (eventName) {
        case 'AssetListed': assets.push({ token: k(args.asset), feed: k(args.feed), haircutBps: args.haircutBps, decimals: args.decimals }); break
        case 'MarketListed': markets.set(args.market, { ...(markets.get(args.market) ?? {}), ...args }); break
        case 'MarketUpdated': markets.set(args.market, { ...(markets.get(args.market) ?? {}), ...args }); break
        case 'CollateralUpdated': inner(collateral, k(args.account)).set(k(args.asset), args.balance); break
        case 'PositionUpdated': inner(positions, k(args.account)).set(args.market, { size: args.size, entryPrice: args.entryPrice, fundingIndex: args.fundingIndex }); break
        case 'OptionPositionUpdated': inner(options, k(args.account)).set(args.seriesId, args.size); break
        case 'SeriesListed': series.set(args.seriesId, { market: args.market, isCall: args.isCall, strike: args.strike, expiry: args.expiry, settled: false, settlementPrice: 0n }); break
        case 'SeriesSettled': Object.assign(series.get(args.seriesId)!, { settled: true, settlementPrice: args.settlementPrice }); break
        case 'Paused': paused = true; break
        case 'Unpaused': paused = false; break
      }
    }

    expect(await read(d.exchange, ex.abi, 'paused')).toBe(paused)
    expect(await read(d.exchange, ex.abi, 'assetCount')).toBe(BigInt(assets.length))
    for (const [i, a] of assets.entries()) {
      const [tokenAddr, feedAddr, haircutBps, decimals] = await read<readonly [string, string, number, number]>(d.exchange, ex.abi, 'assetAt', [BigInt(i)])
      expect({ token: k(tokenAddr), feed: k(feedAddr), haircutBps, decimals }).toEqual(a)
    }
    expect(await read(d.exchange, ex.abi, 'marketCount')).toBe(BigInt(markets.size))
    for (const [id, m] of markets) {
      const v = await market(Number(id)) as unknown as Record<string, unknown>
      for (const f of ['longOpenInterest', 'shortOpenInterest', 'fundingIndex', 'fundingRate', 'lastFundingTime', 'initialMarginRatio', 'maintenanceMarginRatio', 'liquidationFee']) {
        expect(v[f], `market ${id} ${f}`).toBe(m[f])
      }
      expect(k(v.feed)).toBe(k(m.feed))
      expect(m.fundingIndex, 'funding accrued during the run').not.toBe(0n)
    }
    expect(await read(d.options, om.abi, 'seriesCount')).toBe(BigInt(series.size))
    for (const [id, s] of series) {
      expect(await read(d.options, om.abi, 'getSeries', [id])).toEqual([s.market, s.isCall, s.strike, s.expiry, s.settled, s.settlementPrice])
    }

    const accounts = new Set([...collateral.keys(), ...positions.keys(), ...options.keys()])
    for (const t of wl.traders) expect(accounts.has(k(t))).toBe(true)
    expect(accounts.size).toBeGreaterThanOrEqual(wl.traders.length + 2) // + keeper, pool, scenario accounts
    const order = assets.map((a) => a.token)
    for (const account of accounts) {
      const wantCollateral = [...(collateral.get(account) ?? new Map<string, bigint>())]
        .filter(([, amount]) => amount !== 0n)
        .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
        .map(([asset, amount]) => ({ asset, amount }))
      const wantPositions = [...(positions.get(account) ?? new Map<bigint, { size: bigint; entryPrice: bigint; fundingIndex: bigint }>())]
        .filter(([, p]) => p.size !== 0n)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([m, p]) => ({ market: m, ...p }))
      const wantOptions = [...(options.get(account) ?? new Map<bigint, bigint>())]
        .filter(([, size]) => size !== 0n)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([seriesId, size]) => { const s = series.get(seriesId)!; return { seriesId, market: s.market, isCall: s.isCall, strike: s.strike, expiry: s.expiry, size } })
      const [col, pos] = await read<readonly [{ asset: string; amount: bigint }[], unknown[]]>(d.exchange, ex.abi, 'getAccount', [getAddress(account)])
      expect(col.map((c) => ({ asset: k(c.asset), amount: c.amount })), `collateral of ${account}`).toEqual(wantCollateral)
      expect(pos, `positions of ${account}`).toEqual(wantPositions)
      expect(await read(d.options, om.abi, 'getOptionPositions', [getAddress(account)]), `options of ${account}`).toEqual(wantOptions)
    }
  })
})
