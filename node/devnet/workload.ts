import { getAddress, type Hex } from 'viem'
import { signedWord } from '../../snapshot/adapters/call.ts'
import { rpcClient } from './deploy.ts'
import { adminPlanner } from './workload/admin-plan.ts'
import { loadProtocolAbi } from './workload/contracts.ts'
import { EventFold, type Log, type MarketState } from './workload/event-fold.ts'
import { ONE } from './workload/margin.ts'
import { BlockMiner, type Block, type Tx } from './workload/miner.ts'
import { Rng } from './workload/rng.ts'
import { addressOfKey, keeperKey, traderAddresses } from './workload/trader-keys.ts'
import { GAS, traderPlanner, type MakeTx } from './workload/trader-plan.ts'
import { WORKLOAD_DEFAULTS, type WorkloadCounts, type WorkloadOptions, type WorkloadResult } from './workload/types.ts'

export { Rng } from './workload/rng.ts'
export { addressOfKey, traderAddresses, traderKey } from './workload/trader-keys.ts'
export { WORKLOAD_DEFAULTS, type WorkloadCounts, type WorkloadOptions, type WorkloadProgress, type WorkloadResult } from './workload/types.ts'

const MAX_TX_GAS = 450_000n

/**
 * A deterministic, seeded load generator for the reference protocol on anvil. Traders (keys from
 * keccak(seed, i), impersonated) deposit, trade both perp markets, buy and write options, withdraw;
 * the updater random-walks prices, time advances so funding accrues, a keeper liquidates and settles
 * expired options, the guardian pauses once.
 *
 * Determinism. The chain runs with automine off; each round mines one block with an explicit
 * timestamp. The oracle updates (and pause/unpause) pay a higher fee so they come first in the block
 * (checked after mining). After them, every account is touched by at most one sender, so the block's
 * end state does not depend on how the node orders the other senders' transactions: funding only
 * accrues on the first touch of a block, the rate left at the end depends only on the final open
 * interest, fees paid to the keeper and to the options pool add up. Decisions come from the PRNG and
 * from the workload's own fold of the protocol's events (in block order), so the same seed on a fresh
 * chain gives the same transactions and the same end state.
 *
 * The parts: ./workload/ (PRNG, keys, ABI and calldata, event fold, margin, block miner, trader and
 * admin planners); this file runs setup and the rounds.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const started = performance.now()
  const { deployment: d, signal } = options
  const seed = BigInt(options.seed)
  const interval = BigInt(options.blockInterval ?? WORKLOAD_DEFAULTS.blockInterval)
  const rpc = rpcClient(options.rpcUrl, options.batchSize ?? WORKLOAD_DEFAULTS.batchSize)
  const abi = await loadProtocolAbi()

  const timings = { keys: 0, send: 0, mine: 0, read: 0, plan: 0 }
  let mark = performance.now()
  const lap = (k: keyof typeof timings): void => {
    const t = performance.now()
    timings[k] += t - mark
    mark = t
  }
  const rng = new Rng(seed, 'workload')
  const traders = await traderAddresses(seed, options.traders)
  const keeper = addressOfKey(keeperKey(seed))
  lap('keys')
  // % of the available leverage a trader uses: a third are near the limit and get liquidated
  const risk = traders.map(() => (rng.int(3) === 0 ? rng.range(85, 98) : rng.range(10, 60)))
  const roles = { owner: getAddress(d.owner), guardian: getAddress(d.guardian), updater: getAddress(d.updater), keeper }
  const lc = (a: string): string => a.toLowerCase()

  // feeds: every market feed and every asset feed gets a random walk
  const feeds = [...new Set([...d.markets.map((m) => lc(m.feed)), ...d.assets.flatMap((a) => (a.feed === null ? [] : [lc(a.feed)]))])]
  const price = new Map<string, bigint>()
  const initialPrice = new Map<string, bigint>()
  const feedScale = new Map<string, bigint>()
  for (const f of feeds) {
    const [latest, dec] = await Promise.all([rpc<Hex>('eth_call', [{ to: f, data: abi.encode('latestRoundData', []) }, 'latest']), rpc<Hex>('eth_call', [{ to: f, data: abi.encode('decimals', []) }, 'latest'])])
    price.set(f, signedWord(latest, 1))
    initialPrice.set(f, signedWord(latest, 1))
    feedScale.set(f, 10n ** BigInt(dec))
  }
  const prices = { price, feedScale }
  const markets: MarketState[] = d.markets.map((m) => ({ feed: lc(m.feed), scale: feedScale.get(lc(m.feed))!, imr: m.initialMarginRatio, mmr: m.maintenanceMarginRatio, long: 0n, short: 0n, index: 0n, rate: 0n, last: 0n }))
  const fold = new EventFold({ exchange: lc(d.exchange), options: lc(d.options), assets: d.assets.map((a) => lc(a.token)), markets, topics: abi.topics })
  const counts: WorkloadCounts = { trades: 0, liquidations: 0, badDebts: 0, deposits: 0, withdrawals: 0, optionBuys: 0, optionWrites: 0, seriesListed: 0, seriesSettled: 0, optionSettlements: 0, priceUpdates: 0, fundingUpdates: 0, pauses: 0 }

  // replay history since deployment so the fold starts from the chain's current state
  const latestBlock = await rpc<Block>('eth_getBlockByNumber', ['latest', false])
  const fromBlock = BigInt(latestBlock.number) + 1n
  const history = await rpc<Log[]>('eth_getLogs', [{ address: [d.exchange, d.options], fromBlock: `0x${d.deployBlock.toString(16)}`, toBlock: latestBlock.number }])
  for (const log of history) fold.apply(log)
  fold.events = 0
  fold.touched.clear()
  const liquidationsBefore = fold.liquidations
  const badDebtsBefore = fold.badDebts

  let now = BigInt(latestBlock.timestamp)
  if (options.startTimestamp !== undefined) {
    const start = BigInt(options.startTimestamp)
    if (start <= now) throw new RangeError(`startTimestamp ${start} is not after the latest block (${now})`)
    now = start - 1n
  }
  const capacity = Math.max(1, Math.min(options.txsPerBlock ?? WORKLOAD_DEFAULTS.txsPerBlock, Number(BigInt(latestBlock.gasLimit) / MAX_TX_GAS)))

  const nonces = new Map<string, bigint>()
  const everyone = [...new Set([...traders, keeper, roles.owner, roles.guardian, roles.updater])]
  const counted = await Promise.all(everyone.map((a) => rpc<Hex>('eth_getTransactionCount', [a, 'pending'])))
  everyone.forEach((a, i) => nonces.set(a, BigInt(counted[i]!)))

  const automineBefore = await rpc<boolean>('anvil_getAutomine')
  await rpc('evm_setAutomine', [false])
  await rpc('anvil_autoImpersonateAccount', [true])
  const miner = new BlockMiner({ rpc, fold, nonces, latest: latestBlock, now, signal, lap })
  const tx: MakeTx = (from, to, kind, args, gas, onSuccess) => ({ kind, from, to, data: abi.encode(kind, args), gas, ...(onSuccess === undefined ? {} : { onSuccess }) })

  try {
    // ---------------------------------------------------------------- setup: fund and deposit
    const ethBalance = `0x${(1000n * ONE).toString(16)}`
    await Promise.all([...traders, keeper].map((a) => rpc('anvil_setBalance', [a, ethBalance])))
    const deposits = traders.map(() => [BigInt(rng.range(2_000, 50_000)) * ONE, (BigInt(rng.range(5, 200)) * ONE) / 10n] as const)
    const totals = d.assets.map((_, i) => deposits.reduce((s, x) => s + x[i]!, 0n))
    const setup: Tx[] = []
    for (const [i, asset] of d.assets.slice(0, 2).entries()) {
      setup.push(tx(roles.owner, asset.token, 'mint', [roles.owner, totals[i]!], GAS.small))
      setup.push(tx(roles.owner, asset.token, 'approve', [d.exchange, (1n << 256n) - 1n], GAS.small))
    }
    for (const [t, trader] of traders.entries()) {
      for (const [i, asset] of d.assets.slice(0, 2).entries()) setup.push(tx(roles.owner, d.exchange, 'depositFor', [trader, asset.token, deposits[t]![i]!], GAS.deposit, () => void counts.deposits++))
    }
    // depositFor uses under 100k gas: at most half the block's gas so the base fee does not climb
    const setupPerBlock = Math.max(1, Math.min(capacity * 4, Number(miner.blockGasLimit / GAS.deposit)))
    for (let i = 0; i < setup.length; i += setupPerBlock) await miner.mine([], setup.slice(i, i + setupPerBlock), miner.now + 1n)

    // ---------------------------------------------------------------- rounds
    const perBlockTraders = Math.max(1, Math.min(capacity, Math.ceil(traders.length / 2)))
    const estRounds = Math.max(1, Math.ceil(options.steps / perBlockTraders))
    const admin = adminPlanner({ d, roles, rng, fold, markets, prices, feeds, initialPrice, counts, tx, keeperScan: options.keeperScan ?? WORKLOAD_DEFAULTS.keeperScan, estRounds, interval })
    const planAction = traderPlanner({ d, owner: roles.owner, rng, fold, markets, prices, risk, counts, tx })
    let steps = 0

    for (let round = 0; steps < options.steps; round++) {
      signal?.throwIfAborted()
      // ordered first: oracle updates (+ pause / unpause)
      const a = admin.oracle(round)
      const paused = round === admin.pauseRound ? true : round === admin.pauseRound + 1 ? false : fold.paused
      // then everything else, decided against the new prices
      const tB = miner.now + interval
      const b: Tx[] = []
      let gasLeft = miner.blockGasLimit - 1_000_000n - a.reduce((sum, t) => sum + t.gas, 0n)
      const busy = new Set<string>()
      const push = (t: Tx, who?: string): boolean => {
        if (a.length + b.length >= capacity || t.gas > gasLeft) return false
        b.push(t)
        gasLeft -= t.gas
        if (who !== undefined) busy.add(who)
        return true
      }
      if (!paused) admin.keeper(round, tB, push, () => b.length, busy, Math.max(1, capacity >> 2))

      // traders: one action each, never an account an admin transaction touches in this block
      const slots = Math.min(paused ? 2 : perBlockTraders, options.steps - steps)
      for (let k = 0; k < slots; k++) {
        let t = -1
        for (let attempt = 0; attempt < 8; attempt++) {
          const c = rng.int(traders.length)
          if (!busy.has(lc(traders[c]!))) {
            t = c
            break
          }
        }
        if (t < 0) continue
        const trader = traders[t]!
        const planned = planAction(t, trader, fold.account(lc(trader)), tB)
        if (planned.length === 0) continue
        if (planned.reduce((sum, x) => sum + x.gas, 0n) > gasLeft || a.length + b.length + planned.length > capacity) break
        for (const p of planned) push(p)
        busy.add(lc(trader))
        steps++
      }
      await miner.mine(a, b, tB)
      options.onProgress?.({ round, steps, txs: miner.txs, events: fold.events, blocks: miner.blocks })
    }
  } catch (err) {
    // do not leave half a batch in the pool for whoever mines next
    const pool = await rpc<{ pending: Hex; queued: Hex }>('txpool_status').catch(() => undefined)
    if (pool !== undefined && (BigInt(pool.pending) > 0n || BigInt(pool.queued) > 0n)) await rpc('evm_mine').catch(() => {})
    throw err
  } finally {
    await rpc('anvil_autoImpersonateAccount', [false]).catch(() => {})
    await rpc('evm_setAutomine', [automineBefore]).catch(() => {})
  }

  counts.liquidations = fold.liquidations - liquidationsBefore
  counts.badDebts = fold.badDebts - badDebtsBefore
  return {
    traders,
    keeper,
    events: fold.events,
    txs: miner.txs,
    reverted: miner.reverted,
    blocks: miner.blocks,
    accounts: fold.touched.size,
    fromBlock,
    toBlock: fromBlock + BigInt(miner.blocks) - 1n,
    counts,
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])) as WorkloadResult['timings'],
    revertedBy: miner.revertedBy,
    elapsedMs: Math.round(performance.now() - started),
  }
}

