import { createECDH } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { getAddress, toEventSelector, toFunctionSelector, type Address, type Hex } from 'viem'
import { loadArtifact } from '../contracts/compile.ts'
import { rpcClient, type ReferenceDeployment } from './deploy.ts'

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
 */

export interface WorkloadOptions {
  rpcUrl: string
  deployment: ReferenceDeployment
  seed: number | bigint
  traders: number
  /** Trader actions (one transaction each, two for a wallet top-up). */
  steps: number
  signal?: AbortSignal
  /**
   * Upper bound on transactions per block, also capped by the block gas limit (450k gas per slot).
   * Fewer, fuller blocks are much faster on anvil (each block costs a state-root pass). Default 1000.
   */
  txsPerBlock?: number
  /** Seconds between rounds (one block each). Default 60. */
  blockInterval?: number
  /**
   * Timestamp of the first block the workload mines; default one second after the latest block. Pin
   * it (in the future) to make two runs on fresh chains identical down to the timestamps.
   */
  startTimestamp?: number | bigint
  /** JSON-RPC requests per HTTP batch. Default 500. */
  batchSize?: number
  /** Accounts the keeper re-evaluates per round (all when there are fewer). Default 2000. */
  keeperScan?: number
  onProgress?: (p: WorkloadProgress) => void
}

export interface WorkloadProgress {
  round: number
  steps: number
  txs: number
  events: number
  blocks: number
}

export interface WorkloadCounts {
  trades: number
  liquidations: number
  badDebts: number
  deposits: number
  withdrawals: number
  optionBuys: number
  optionWrites: number
  seriesListed: number
  seriesSettled: number
  optionSettlements: number
  priceUpdates: number
  fundingUpdates: number
  pauses: number
}

export interface WorkloadResult {
  traders: Address[]
  keeper: Address
  /** Logs emitted by the exchange and the options market during the run. */
  events: number
  txs: number
  reverted: number
  blocks: number
  /** Distinct accounts whose exchange or options state changed during the run. */
  accounts: number
  fromBlock: bigint
  toBlock: bigint
  counts: WorkloadCounts
  /** Where the wall time went (ms): key derivation, sending, mining, reading blocks and logs, the rest. */
  timings: { keys: number; send: number; mine: number; read: number; plan: number }
  /** Reverted transactions by function (margin checks and races the generator does not avoid). */
  revertedBy: Partial<Record<string, number>>
  elapsedMs: number
}

export const WORKLOAD_DEFAULTS = Object.freeze({
  txsPerBlock: 1000,
  blockInterval: 60,
  batchSize: 500,
  keeperScan: 2000,
})

// ---------------------------------------------------------------- deterministic randomness

/** xoshiro128** over 32-bit integers, seeded from keccak(seed). */
export class Rng {
  private readonly s = new Uint32Array(4)

  constructor(seed: bigint, domain: string) {
    const h = keccak_256(Buffer.from(`${seed.toString(16)}:${domain}`, 'utf8'))
    for (let i = 0; i < 4; i++) this.s[i] = (h[4 * i]! << 24) | (h[4 * i + 1]! << 16) | (h[4 * i + 2]! << 8) | h[4 * i + 3]!
    if (this.s.every((x) => x === 0)) this.s[0] = 1
  }

  next(): number {
    const s = this.s
    let s0 = s[0]!
    let s1 = s[1]!
    let s2 = s[2]!
    let s3 = s[3]!
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 11)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return r
  }

  /** Uniform integer in [0, n), 0 < n <= 2^32. */
  int(n: number): number {
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n)
    for (;;) {
      const r = this.next()
      if (r < limit) return r % n
    }
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/** Trader i's private key: keccak256(abi.encode(uint256 seed, uint256 i)). */
export function traderKey(seed: bigint, i: number): Hex {
  if (seed < 0n || seed >= 1n << 256n) throw new RangeError(`seed must be a uint256, got ${seed}`)
  const word = (v: bigint): string => v.toString(16).padStart(64, '0')
  return `0x${Buffer.from(keccak_256(Buffer.from(word(seed) + word(BigInt(i)), 'hex'))).toString('hex')}`
}

const ecdh = createECDH('secp256k1')
const addressOfPublicKey = (pub: Uint8Array): Address =>
  getAddress(`0x${Buffer.from(keccak_256(pub.subarray(1)).subarray(12)).toString('hex')}`)

export function addressOfKey(key: Hex): Address {
  ecdh.setPrivateKey(Buffer.from(key.slice(2), 'hex'))
  return addressOfPublicKey(ecdh.getPublicKey())
}

// secp256k1 public keys cost ~0.5-1 ms each; large runs spread them over worker threads
const PUBKEY_WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const { createECDH } = require('node:crypto')
const ecdh = createECDH('secp256k1')
const keys = Buffer.from(workerData)
const out = Buffer.alloc((keys.length / 32) * 65)
for (let i = 0; i < keys.length / 32; i++) {
  ecdh.setPrivateKey(keys.subarray(32 * i, 32 * i + 32))
  ecdh.getPublicKey().copy(out, 65 * i)
}
parentPort.postMessage(out.buffer, [out.buffer])
`

/** Addresses of traders 0..n-1 for `seed` (see traderKey), in order. */
export async function traderAddresses(seed: bigint, n: number): Promise<Address[]> {
  const threads = n < 2_000 ? 1 : Math.min(availableParallelism(), 8)
  if (threads === 1) return Array.from({ length: n }, (_, i) => addressOfKey(traderKey(seed, i)))
  const per = Math.ceil(n / threads)
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, w) => {
      const from = w * per
      const count = Math.max(0, Math.min(per, n - from))
      const keys = Buffer.alloc(32 * count)
      for (let i = 0; i < count; i++) Buffer.from(traderKey(seed, from + i).slice(2), 'hex').copy(keys, 32 * i)
      return new Promise<Buffer>((resolve, reject) => {
        const worker = new Worker(PUBKEY_WORKER, { eval: true, workerData: keys })
        worker.once('message', (buf: ArrayBuffer) => resolve(Buffer.from(buf)))
        worker.once('error', reject)
        worker.once('exit', (code) => { if (code !== 0) reject(new Error(`public key worker exited with ${code}`)) })
      })
    }),
  )
  const out: Address[] = []
  for (const pubs of parts) for (let i = 0; i < pubs.length / 65; i++) out.push(addressOfPublicKey(pubs.subarray(65 * i, 65 * i + 65)))
  return out
}

// ---------------------------------------------------------------- calldata (all arguments are static words)

const hex64 = (v: bigint): string => (v < 0n ? (1n << 256n) + v : v).toString(16).padStart(64, '0')
const addr64 = (a: Address): string => a.slice(2).toLowerCase().padStart(64, '0')
type Arg = bigint | number | boolean | Address
function calldata(selector: Hex, args: Arg[]): Hex {
  let out: string = selector
  for (const a of args) {
    if (typeof a === 'string') out += addr64(a)
    else if (typeof a === 'boolean') out += hex64(a ? 1n : 0n)
    else out += hex64(BigInt(a))
  }
  return out as Hex
}

const FN = {
  mint: 'mint(address,uint256)',
  approve: 'approve(address,uint256)',
  updateAnswer: 'updateAnswer(int256)',
  deposit: 'deposit(address,uint256)',
  depositFor: 'depositFor(address,address,uint256)',
  withdraw: 'withdraw(address,uint256)',
  trade: 'trade(uint64,int256)',
  liquidate: 'liquidate(address,uint64)',
  updateFunding: 'updateFunding(uint64)',
  pause: 'pause()',
  unpause: 'unpause()',
  latestRoundData: 'latestRoundData()',
  feedDecimals: 'decimals()',
  listSeries: 'listSeries(uint64,bool,uint256,uint64)',
  buy: 'buy(uint256,uint256)',
  write: 'write(uint256,uint256)',
  settleSeries: 'settleSeries(uint256)',
  settle: 'settle(address,uint256)',
} as const
const SEL = Object.fromEntries(Object.entries(FN).map(([k, sig]) => [k, toFunctionSelector(sig)])) as Record<keyof typeof FN, Hex>

const EV = {
  CollateralUpdated: toEventSelector('CollateralUpdated(address,address,uint256)'),
  PositionUpdated: toEventSelector('PositionUpdated(address,uint64,int256,uint256,int256)'),
  MarketUpdated: toEventSelector('MarketUpdated(uint64,uint256,uint256,int256,int256,uint64)'),
  Liquidated: toEventSelector('Liquidated(address,uint64,address,int256,uint256,uint256)'),
  BadDebt: toEventSelector('BadDebt(address,uint256)'),
  Paused: toEventSelector('Paused(address)'),
  Unpaused: toEventSelector('Unpaused(address)'),
  SeriesListed: toEventSelector('SeriesListed(uint256,uint64,bool,uint256,uint64)'),
  OptionPositionUpdated: toEventSelector('OptionPositionUpdated(address,uint256,int256)'),
  SeriesSettled: toEventSelector('SeriesSettled(uint256,uint256)'),
}

/** Fails fast if the compiled ABI drifted from the signatures this generator encodes. */
async function checkAbi(): Promise<void> {
  const names = new Set<string>()
  for (const c of ['PerpExchange', 'OptionsMarket', 'MockERC20', 'PriceFeed']) {
    for (const item of (await loadArtifact(c)).abi) {
      if (item.type === 'function' || item.type === 'event') names.add(`${item.name}(${item.inputs.map((i) => i.type).join(',')})`)
    }
  }
  for (const sig of [...Object.values(FN), 'CollateralUpdated(address,address,uint256)', 'PositionUpdated(address,uint64,int256,uint256,int256)', 'MarketUpdated(uint64,uint256,uint256,int256,int256,uint64)', 'OptionPositionUpdated(address,uint256,int256)', 'SeriesListed(uint256,uint64,bool,uint256,uint64)']) {
    if (!names.has(sig)) throw new Error(`reference protocol ABI has no ${sig}`)
  }
}

// ---------------------------------------------------------------- local fold of protocol events

interface Pos { size: bigint; entryPrice: bigint; fundingIndex: bigint }
interface Acct {
  bal: bigint[]
  pos: (Pos | undefined)[]
  opts: Map<number, bigint>
}
interface MarketState {
  feed: string
  scale: bigint
  imr: bigint
  mmr: bigint
  long: bigint
  short: bigint
  index: bigint
  rate: bigint
  last: bigint
}
interface SeriesState { id: number; market: number; isCall: boolean; strike: bigint; expiry: bigint; settled: boolean; settlementPrice: bigint }
interface Log { address: string; topics: Hex[]; data: Hex }

interface Block { number: Hex; timestamp: Hex; gasLimit: Hex; baseFeePerGas?: Hex }

const ONE = 10n ** 18n
const word = (data: Hex, i: number): bigint => BigInt(`0x${data.slice(2 + 64 * i, 66 + 64 * i)}`)
const sword = (data: Hex, i: number): bigint => BigInt.asIntN(256, word(data, i))
const topicAddr = (t: Hex): string => `0x${t.slice(26)}`
const abs = (x: bigint): bigint => (x < 0n ? -x : x)

class Fold {
  readonly accounts = new Map<string, Acct>()
  readonly withPositions = new Set<string>()
  readonly withOptions = new Set<string>()
  readonly touched = new Set<string>()
  readonly series = new Map<number, SeriesState>()
  paused = false
  events = 0
  liquidations = 0
  badDebts = 0
  private readonly assetIndex: Map<string, number>
  readonly exchange: string
  readonly options: string
  readonly markets: MarketState[]

  constructor(exchange: string, options: string, assets: string[], markets: MarketState[]) {
    this.exchange = exchange
    this.options = options
    this.markets = markets
    this.assetIndex = new Map(assets.map((a, i) => [a, i]))
  }

  account(a: string): Acct {
    let acct = this.accounts.get(a)
    if (acct === undefined) {
      acct = { bal: this.assetIndex.size === 0 ? [] : new Array<bigint>(this.assetIndex.size).fill(0n), pos: new Array<Pos | undefined>(this.markets.length), opts: new Map() }
      this.accounts.set(a, acct)
    }
    return acct
  }

  apply(log: Log): void {
    const address = log.address.toLowerCase()
    if (address !== this.exchange && address !== this.options) return
    this.events++
    const [t0, t1, t2] = log.topics
    if (address === this.exchange) {
      switch (t0) {
        case EV.CollateralUpdated: {
          const a = topicAddr(t1!)
          this.account(a).bal[this.assetIndex.get(topicAddr(t2!))!] = word(log.data, 0)
          this.touched.add(a)
          break
        }
        case EV.PositionUpdated: {
          const a = topicAddr(t1!)
          const m = Number(BigInt(t2!))
          const size = sword(log.data, 0)
          const acct = this.account(a)
          acct.pos[m] = size === 0n ? undefined : { size, entryPrice: word(log.data, 1), fundingIndex: sword(log.data, 2) }
          if (acct.pos.some((p) => p !== undefined)) this.withPositions.add(a)
          else this.withPositions.delete(a)
          this.touched.add(a)
          break
        }
        case EV.MarketUpdated: {
          const m = this.markets[Number(BigInt(t1!))]!
          m.long = word(log.data, 0)
          m.short = word(log.data, 1)
          m.index = sword(log.data, 2)
          m.rate = sword(log.data, 3)
          m.last = word(log.data, 4)
          break
        }
        case EV.Liquidated: this.liquidations++; break
        case EV.BadDebt: this.badDebts++; break
        case EV.Paused: this.paused = true; break
        case EV.Unpaused: this.paused = false; break
      }
    } else {
      switch (t0) {
        case EV.SeriesListed: {
          const id = Number(BigInt(t1!))
          this.series.set(id, { id, market: Number(word(log.data, 0)), isCall: word(log.data, 1) === 1n, strike: word(log.data, 2), expiry: word(log.data, 3), settled: false, settlementPrice: 0n })
          break
        }
        case EV.OptionPositionUpdated: {
          const a = topicAddr(t1!)
          const id = Number(BigInt(t2!))
          const size = sword(log.data, 0)
          const acct = this.account(a)
          if (size === 0n) acct.opts.delete(id)
          else acct.opts.set(id, size)
          if (acct.opts.size > 0) this.withOptions.add(a)
          else this.withOptions.delete(a)
          this.touched.add(a)
          break
        }
        case EV.SeriesSettled: {
          const s = this.series.get(Number(BigInt(t1!)))!
          s.settled = true
          s.settlementPrice = word(log.data, 0)
          break
        }
      }
    }
  }
}

// ---------------------------------------------------------------- the run

type Tx = { kind: keyof typeof FN; from: Address; to: Address; data: Hex; gas: bigint; onSuccess?: () => void }

const GAS = {
  small: 150_000n,
  deposit: 200_000n,
  trade: 450_000n,
  option: 450_000n,
} as const
const MAX_TX_GAS = 450_000n

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const started = performance.now()
  const { deployment: d, signal } = options
  const seed = BigInt(options.seed)
  const interval = BigInt(options.blockInterval ?? WORKLOAD_DEFAULTS.blockInterval)
  const keeperScan = options.keeperScan ?? WORKLOAD_DEFAULTS.keeperScan
  const rpc = rpcClient(options.rpcUrl, options.batchSize ?? WORKLOAD_DEFAULTS.batchSize)
  await checkAbi()

  const timings = { keys: 0, send: 0, mine: 0, read: 0, plan: 0 }
  let mark = performance.now()
  const lap = (k: keyof typeof timings): void => {
    const t = performance.now()
    timings[k] += t - mark
    mark = t
  }
  const rng = new Rng(seed, 'workload')
  const traders = await traderAddresses(seed, options.traders)
  const keeperKey = `0x${Buffer.from(keccak_256(Buffer.from(`${seed.toString(16)}:keeper`, 'utf8'))).toString('hex')}` as Hex
  const keeper = addressOfKey(keeperKey)
  lap('keys')
  // % of the available leverage a trader uses: a third are near the limit and get liquidated
  const risk = traders.map(() => (rng.int(3) === 0 ? rng.range(85, 98) : rng.range(10, 60)))
  const owner = getAddress(d.owner)
  const guardian = getAddress(d.guardian)
  const updater = getAddress(d.updater)
  const exchange = d.exchange
  const optionsMarket = d.options
  const lc = (a: string): string => a.toLowerCase()

  // feeds: every market feed and every asset feed gets a random walk
  const feedList = [...new Set([...d.markets.map((m) => lc(m.feed)), ...d.assets.flatMap((a) => (a.feed === null ? [] : [lc(a.feed)]))])]
  const price = new Map<string, bigint>()
  const initialPrice = new Map<string, bigint>()
  const feedScale = new Map<string, bigint>()
  for (const f of feedList) {
    const [latest, dec] = await Promise.all([
      rpc<Hex>('eth_call', [{ to: f, data: SEL.latestRoundData }, 'latest']),
      rpc<Hex>('eth_call', [{ to: f, data: SEL.feedDecimals }, 'latest']),
    ])
    price.set(f, sword(latest, 1))
    initialPrice.set(f, sword(latest, 1))
    feedScale.set(f, 10n ** BigInt(dec))
  }
  const marketStates: MarketState[] = d.markets.map((m) => ({
    feed: lc(m.feed), scale: feedScale.get(lc(m.feed))!, imr: m.initialMarginRatio, mmr: m.maintenanceMarginRatio,
    long: 0n, short: 0n, index: 0n, rate: 0n, last: 0n,
  }))
  const fold = new Fold(lc(exchange), lc(optionsMarket), d.assets.map((a) => lc(a.token)), marketStates)

  const counts: WorkloadCounts = {
    trades: 0, liquidations: 0, badDebts: 0, deposits: 0, withdrawals: 0, optionBuys: 0, optionWrites: 0,
    seriesListed: 0, seriesSettled: 0, optionSettlements: 0, priceUpdates: 0, fundingUpdates: 0, pauses: 0,
  }
  let txs = 0
  let reverted = 0
  const revertedBy: Partial<Record<keyof typeof FN, number>> = {}
  let blocks = 0

  // replay history since deployment so the fold starts from the chain's current state
  const latestBlock = await rpc<Block>('eth_getBlockByNumber', ['latest', false])
  const fromBlock = BigInt(latestBlock.number) + 1n
  const history = await rpc<Log[]>('eth_getLogs', [{ address: [exchange, optionsMarket], fromBlock: `0x${d.deployBlock.toString(16)}`, toBlock: latestBlock.number }])
  for (const log of history) fold.apply(log)
  fold.events = 0
  fold.touched.clear()
  const liquidationsBefore = fold.liquidations
  const badDebtsBefore = fold.badDebts

  let now = BigInt(latestBlock.timestamp)
  if (options.startTimestamp !== undefined) {
    const start = BigInt(options.startTimestamp)
    if (start <= now) throw new Error(`startTimestamp ${start} is not after the latest block (${now})`)
    now = start - 1n
  }
  let blockGasLimit = BigInt(latestBlock.gasLimit)
  let baseFee = BigInt(latestBlock.baseFeePerGas ?? '0x0')
  // Blocks above the gas target raise the base fee 12.5% each; over hundreds of full blocks that
  // would drain the traders' ETH, so the next block's base fee is pinned back to where it started.
  const baseFeeCap = baseFee > 1_000_000_000n ? baseFee : 1_000_000_000n
  let canPinBaseFee = true
  const capacity = Math.max(1, Math.min(options.txsPerBlock ?? WORKLOAD_DEFAULTS.txsPerBlock, Number(blockGasLimit / MAX_TX_GAS)))

  const nonces = new Map<string, bigint>()
  const everyone = [...new Set([...traders, keeper, owner, guardian, updater])]
  const counted = await Promise.all(everyone.map((a) => rpc<Hex>('eth_getTransactionCount', [a, 'pending'])))
  everyone.forEach((a, i) => nonces.set(a, BigInt(counted[i]!)))

  const automineBefore = await rpc<boolean>('anvil_getAutomine')
  await rpc('evm_setAutomine', [false])
  await rpc('anvil_autoImpersonateAccount', [true])

  /**
   * Sends the transactions, mines one block at `timestamp`, checks inclusion and folds the logs.
   * `first` transactions pay a higher fee so the node orders them ahead of the rest (anvil's default
   * fee ordering); that they did is checked, never assumed.
   */
  const mine = async (first: Tx[], rest: Tx[], timestamp: bigint): Promise<void> => {
    signal?.throwIfAborted()
    lap('plan')
    if (baseFee > baseFeeCap && canPinBaseFee) {
      await rpc('anvil_setNextBlockBaseFeePerGas', [`0x${baseFeeCap.toString(16)}`]).then(
        () => { baseFee = baseFeeCap },
        () => { canPinBaseFee = false },
      )
    }
    const batch = [...first, ...rest]
    const fee = (tip: bigint): { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } => ({
      maxFeePerGas: `0x${(baseFee * 2n + 1_000_000_000n + tip * 2n).toString(16)}`,
      maxPriorityFeePerGas: `0x${tip.toString(16)}`,
    })
    const [priority, normal] = [fee(1_000_000_000n), fee(0n)]
    const hashes = await Promise.all(
      batch.map((tx, i) => {
        const nonce = nonces.get(tx.from)!
        nonces.set(tx.from, nonce + 1n)
        return rpc<Hex>('eth_sendTransaction', [{
          from: tx.from, to: tx.to, data: tx.data, gas: `0x${tx.gas.toString(16)}`, nonce: `0x${nonce.toString(16)}`,
          ...(i < first.length ? priority : normal),
        }])
      }),
    )
    lap('send')
    await rpc('evm_mine', [Number(timestamp)])
    lap('mine')
    const block = await rpc<Block & { hash: Hex; transactions: Hex[] }>('eth_getBlockByNumber', ['latest', false])
    const logs = await rpc<(Log & { transactionHash: Hex })[]>('eth_getLogs', [{ blockHash: block.hash }])
    if (BigInt(block.timestamp) !== timestamp) throw new Error(`mined block has timestamp ${BigInt(block.timestamp)}, wanted ${timestamp}`)
    const included = new Set(block.transactions)
    const leading = new Set(block.transactions.slice(0, first.length))
    const emitted = new Set(logs.map((l) => l.transactionHash))
    for (const [i, hash] of hashes.entries()) {
      if (!included.has(hash)) {
        throw new Error(`transaction ${hash} was not included in block ${BigInt(block.number)}: lower txsPerBlock or raise the block gas limit`)
      }
      if (i < first.length && !leading.has(hash)) {
        throw new Error(`oracle update ${hash} was not ordered first in block ${BigInt(block.number)}: run anvil with --order fees (the default)`)
      }
      // every function the generator calls emits at least one log on success, and a revert emits none
      if (emitted.has(hash)) batch[i]!.onSuccess?.()
      else {
        reverted++
        revertedBy[batch[i]!.kind] = (revertedBy[batch[i]!.kind] ?? 0) + 1
      }
    }
    lap('read')
    for (const log of logs) fold.apply(log)
    txs += batch.length
    blocks++
    now = timestamp
    blockGasLimit = BigInt(block.gasLimit)
    baseFee = BigInt(block.baseFeePerGas ?? '0x0')
  }

  const tx = (from: Address, to: Address, kind: keyof typeof FN, args: Arg[], gas: bigint, onSuccess?: () => void): Tx => {
    const t: Tx = { kind, from, to, data: calldata(SEL[kind], args), gas }
    if (onSuccess !== undefined) t.onSuccess = onSuccess
    return t
  }

  // ---- margin arithmetic mirrored from PerpExchange._margin
  const margin = (a: Acct, at: bigint): { equity: bigint; initial: bigint; maintenance: bigint } => {
    let equity = 0n
    let initial = 0n
    let maintenance = 0n
    for (const [i, asset] of d.assets.entries()) {
      const amount = a.bal[i]!
      if (amount === 0n) continue
      equity += asset.feed === null
        ? amount * BigInt(asset.haircutBps) / 10_000n
        : amount * price.get(lc(asset.feed))! * BigInt(asset.haircutBps) / (feedScale.get(lc(asset.feed))! * 10_000n)
    }
    for (const [j, m] of marketStates.entries()) {
      const p = a.pos[j]
      if (p === undefined) continue
      const px = price.get(m.feed)!
      const index = m.index + m.rate * (at - m.last)
      equity += p.size * (px - p.entryPrice) / m.scale
      equity -= p.size * (index - p.fundingIndex) / ONE
      const notional = abs(p.size) * px / m.scale
      initial += notional * m.imr / ONE
      maintenance += notional * m.mmr / ONE
    }
    return { equity, initial, maintenance }
  }

  try {
    // ---------------------------------------------------------------- setup: fund and deposit
    const ethBalance = `0x${(1000n * ONE).toString(16)}`
    await Promise.all([...traders, keeper].map((a) => rpc('anvil_setBalance', [a, ethBalance])))
    const deposits = traders.map(() => [BigInt(rng.range(2_000, 50_000)) * ONE, BigInt(rng.range(5, 200)) * ONE / 10n] as const)
    const totals = d.assets.map((_, i) => deposits.reduce((s, x) => s + x[i]!, 0n))
    const setup: Tx[] = []
    for (const [i, asset] of d.assets.slice(0, 2).entries()) {
      setup.push(tx(owner, asset.token, 'mint', [owner, totals[i]!], GAS.small))
      setup.push(tx(owner, asset.token, 'approve', [exchange, (1n << 256n) - 1n], GAS.small))
    }
    for (const [t, trader] of traders.entries()) {
      for (const [i, asset] of d.assets.slice(0, 2).entries()) {
        setup.push(tx(owner, exchange, 'depositFor', [trader, asset.token, deposits[t]![i]!], GAS.deposit, () => { counts.deposits++ }))
      }
    }
    // depositFor uses under 100k gas: at most half the block's gas so the base fee does not climb
    const setupPerBlock = Math.max(1, Math.min(capacity * 4, Number(blockGasLimit / GAS.deposit)))
    for (let i = 0; i < setup.length; i += setupPerBlock) await mine([], setup.slice(i, i + setupPerBlock), now + 1n)

    // ---------------------------------------------------------------- rounds
    const perBlockTraders = Math.max(1, Math.min(capacity, Math.ceil(traders.length / 2)))
    const estRounds = Math.max(1, Math.ceil(options.steps / perBlockTraders))
    const seriesLife = BigInt(Math.max(3, Math.min(20, Math.floor(estRounds / 3))))
    const seriesEvery = Math.max(2, Number(seriesLife) >> 1)
    const pauseRound = estRounds >= 6 ? Math.floor(estRounds / 2) : -1
    // two scheduled gaps (-8% on the first feed, +8% on the last) so every run sees liquidations
    const shocks = new Map<string, bigint>([
      [`${Math.floor(estRounds / 3)}:${feedList[0]}`, -800n],
      [`${Math.floor((2 * estRounds) / 3)}:${feedList[feedList.length - 1]}`, 800n],
    ])
    const wallet = traders.map(() => d.assets.map(() => 0n))
    const approved = traders.map(() => d.assets.map(() => false))
    const addWallet = (t: number, i: number, amount: bigint): void => {
      const w = wallet[t]!
      w[i] = w[i]! + amount
    }
    let scanCursor = 0
    let steps = 0

    for (let round = 0; steps < options.steps; round++) {
      signal?.throwIfAborted()
      // ---- ordered first: oracle updates (+ pause / unpause)
      const a: Tx[] = []
      for (const f of feedList) {
        const p = price.get(f)!
        const init = initialPrice.get(f)!
        const scheduled = shocks.get(`${round}:${f}`) ?? 0n
        const shock = scheduled !== 0n ? scheduled : rng.int(100) < 3 ? BigInt(rng.range(-800, 800)) : 0n
        const noise = BigInt(rng.range(-100, 100) + rng.range(-100, 100) + rng.range(-100, 100)) + shock // bps
        let next = p + p * noise / 10_000n + (init - p) / 50n // 2% pull towards the start price
        if (next < init / 10n) next = init / 10n
        price.set(f, next)
        a.push(tx(updater, getAddress(f), 'updateAnswer', [next], GAS.small, () => { counts.priceUpdates++ }))
      }
      if (round === pauseRound) a.push(tx(guardian, exchange, 'pause', [], GAS.small, () => { counts.pauses++ }))
      if (round === pauseRound + 1) a.push(tx(guardian, exchange, 'unpause', [], GAS.small))
      const paused = round === pauseRound ? true : round === pauseRound + 1 ? false : fold.paused

      // ---- then everything else, decided against the new prices
      const tB = now + interval
      const b: Tx[] = []
      let gasLeft = blockGasLimit - 1_000_000n - a.reduce((sum, t) => sum + t.gas, 0n)
      const busy = new Set<string>()
      const push = (t: Tx, who?: string): boolean => {
        if (a.length + b.length >= capacity || t.gas > gasLeft) return false
        b.push(t)
        gasLeft -= t.gas
        if (who !== undefined) busy.add(who)
        return true
      }
      const adminBudget = Math.max(1, capacity >> 2)

      if (!paused) {
        // keeper: liquidations from the mirrored margin arithmetic
        const open = [...fold.withPositions]
        const scan = open.length <= keeperScan ? open : Array.from({ length: keeperScan }, (_, k) => open[(scanCursor + k) % open.length]!)
        scanCursor = open.length === 0 ? 0 : (scanCursor + scan.length) % open.length
        for (const account of scan) {
          if (b.length >= adminBudget) break
          const acct = fold.accounts.get(account)!
          const { equity, maintenance } = margin(acct, tB)
          if (equity >= maintenance) continue
          let best = -1
          let bestNotional = -1n
          for (const [j, m] of marketStates.entries()) {
            const p = acct.pos[j]
            if (p === undefined) continue
            const notional = abs(p.size) * price.get(m.feed)! / m.scale
            if (notional > bestNotional) { best = j; bestNotional = notional }
          }
          push(tx(keeper, exchange, 'liquidate', [getAddress(account), best], GAS.trade), account)
        }
        // keeper: fix settlement prices of expired series, then pay out positions
        for (const s of fold.series.values()) {
          if (!s.settled && s.expiry <= tB && b.length < adminBudget * 2) {
            push(tx(keeper, optionsMarket, 'settleSeries', [s.id], GAS.small, () => { counts.seriesSettled++ }))
          }
        }
        for (const account of fold.withOptions) {
          if (b.length >= adminBudget * 2) break
          if (busy.has(account)) continue
          const acct = fold.accounts.get(account)!
          for (const id of acct.opts.keys()) {
              if (!fold.series.get(id)!.settled) continue
            if (push(tx(keeper, optionsMarket, 'settle', [getAddress(account), id], GAS.option, () => { counts.optionSettlements++ }), account)) break
          }
        }
        // owner: new series every few rounds, a call and a put per market around the spot price
        if (round % seriesEvery === 0) {
          for (const [j, m] of marketStates.entries()) {
            const spot = price.get(m.feed)!
            for (const isCall of [true, false]) {
              const pct = BigInt(rng.range(-10, 10))
              const strike = (spot * (100n + pct) / 100n / m.scale) * m.scale
              if (strike > 0n) push(tx(owner, optionsMarket, 'listSeries', [j, isCall, strike, tB + seriesLife * interval], GAS.option, () => { counts.seriesListed++ }))
            }
          }
        }
      }

      // ---- traders: one action each, never an account an admin transaction touches in this block
      const slots = Math.min(paused ? 2 : perBlockTraders, options.steps - steps)
      for (let k = 0; k < slots; k++) {
        let t = -1
        for (let attempt = 0; attempt < 8; attempt++) {
          const c = rng.int(traders.length)
          if (!busy.has(lc(traders[c]!))) { t = c; break }
        }
        if (t < 0) continue
        const trader = traders[t]!
        const acct = fold.account(lc(trader))
        const planned = planAction(t, trader, acct, tB)
        if (planned.length === 0) continue
        if (planned.reduce((sum, x) => sum + x.gas, 0n) > gasLeft || a.length + b.length + planned.length > capacity) break
        for (const p of planned) push(p)
        busy.add(lc(trader))
        steps++
      }
      await mine(a, b, tB)
      options.onProgress?.({ round, steps, txs, events: fold.events, blocks })
    }

    function planAction(t: number, trader: Address, acct: Acct, at: bigint): Tx[] {
      const r = rng.int(100)
      if (r < 52) return planTrade(t, trader, acct, at)
      if (r < 66) return planOption(trader, acct, at) ?? planTrade(t, trader, acct, at)
      if (r < 78) return planDeposit(t, trader)
      if (r < 90) return planWithdraw(t, trader, acct, at) ?? planTrade(t, trader, acct, at)
      if (r < 92) {
        const m = rng.int(marketStates.length)
        return [tx(trader, exchange, 'updateFunding', [m], GAS.small, () => { counts.fundingUpdates++ })]
      }
      return planTrade(t, trader, acct, at)
    }

    function planTrade(t: number, trader: Address, acct: Acct, at: bigint): Tx[] {
      const j = rng.int(marketStates.length)
      const m = marketStates[j]!
      const px = price.get(m.feed)!
      const size = acct.pos[j]?.size ?? 0n
      const { equity, initial } = margin(acct, at)
      const free = equity - initial
      const maxNotional = free > 0n ? free * ONE / m.imr : 0n
      const lot = (notional: bigint): bigint => (notional * m.scale / px / 10n ** 14n) * 10n ** 14n
      let delta: bigint
      const r = rng.int(100)
      if (size === 0n || r < 35) {
        const notional = maxNotional * BigInt(risk[t]!) * BigInt(risk[t]! >= 85 ? rng.range(92, 100) : rng.range(40, 100)) / 10_000n
        const dir = size !== 0n ? (size > 0n ? 1n : -1n) : (rng.int(2) === 0 ? 1n : -1n)
        delta = dir * lot(notional)
        if (delta === 0n) {
          if (size === 0n) return []
          delta = -size
        }
      } else if (r < 65) {
        delta = -size * BigInt(rng.range(10, 90)) / 100n
        if (delta === 0n) delta = -size
      } else if (r < 92) {
        delta = -size
      } else {
        delta = -size - (size > 0n ? 1n : -1n) * lot(maxNotional * BigInt(risk[t]!) / 200n)
      }
      return [tx(trader, exchange, 'trade', [j, delta], GAS.trade, () => { counts.trades++ })]
    }

    function planOption(trader: Address, acct: Acct, at: bigint): Tx[] | undefined {
      const live = [...fold.series.values()].filter((s) => !s.settled && s.expiry > at + 1n)
      if (live.length === 0) return undefined
      const s = rng.pick(live)
      const m = marketStates[s.market]!
      const px = price.get(m.feed)!
      const bal = acct.bal[0]!
      const notional = BigInt(rng.range(200, 5_000)) * ONE
      let size = (notional * m.scale / px / 10n ** 14n) * 10n ** 14n
      if (size === 0n) return undefined
      if (rng.int(100) < 60) {
        const intrinsic = s.isCall ? (px > s.strike ? px - s.strike : 0n) : (s.strike > px ? s.strike - px : 0n)
        const perUnit = intrinsic + px * (s.expiry - at) / 31_536_000n / 10n
        const { equity, initial } = margin(acct, at)
        const room = equity - initial < bal ? equity - initial : bal
        while (size > 0n && perUnit * size / m.scale > room / 2n) size /= 2n
        if (size === 0n) return undefined
        return [tx(trader, optionsMarket, 'buy', [s.id, size], GAS.option, () => { counts.optionBuys++ })]
      }
      const current = acct.opts.get(s.id) ?? 0n
      const ref = s.isCall ? px : s.strike
      while (size > 0n && abs(current - size) * ref / m.scale > bal / 2n) size /= 2n
      if (size === 0n) return undefined
      return [tx(trader, optionsMarket, 'write', [s.id, size], GAS.option, () => { counts.optionWrites++ })]
    }

    function planDeposit(t: number, trader: Address): Tx[] {
      const i = rng.int(Math.min(2, d.assets.length))
      const token = d.assets[i]!.token
      if (!approved[t]![i] || wallet[t]![i]! === 0n) {
        // top up the wallet: the owner mints, the trader approves (independent senders)
        const amount = i === 0 ? BigInt(rng.range(1_000, 20_000)) * ONE : BigInt(rng.range(5, 100)) * ONE / 10n
        const out = [tx(owner, token, 'mint', [trader, amount], GAS.small, () => { addWallet(t, i, amount) })]
        if (!approved[t]![i]) out.push(tx(trader, token, 'approve', [exchange, (1n << 256n) - 1n], GAS.small, () => { approved[t]![i] = true }))
        return out
      }
      const amount = wallet[t]![i]! * BigInt(rng.range(20, 100)) / 100n
      if (amount === 0n) return []
      return [tx(trader, exchange, 'deposit', [token, amount], GAS.deposit, () => { addWallet(t, i, -amount); counts.deposits++ })]
    }

    function planWithdraw(t: number, trader: Address, acct: Acct, at: bigint): Tx[] | undefined {
      const { equity, initial } = margin(acct, at)
      const free = equity - initial
      if (free <= 0n) return undefined
      const i = rng.int(Math.min(2, d.assets.length))
      const asset = d.assets[i]!
      const bal = acct.bal[i]!
      const share = free * BigInt(rng.range(5, 50)) / 100n
      let amount = asset.feed === null
        ? share * 10_000n / BigInt(asset.haircutBps)
        : share * feedScale.get(lc(asset.feed))! * 10_000n / (price.get(lc(asset.feed))! * BigInt(asset.haircutBps))
      if (amount > bal) amount = bal
      amount = (amount / 10n ** 15n) * 10n ** 15n
      if (amount === 0n) return undefined
      return [tx(trader, exchange, 'withdraw', [asset.token, amount], GAS.deposit, () => { addWallet(t, i, amount); counts.withdrawals++ })]
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
    txs,
    reverted,
    blocks,
    accounts: fold.touched.size,
    fromBlock,
    toBlock: fromBlock + BigInt(blocks) - 1n,
    counts,
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])) as WorkloadResult['timings'],
    revertedBy,
    elapsedMs: Math.round(performance.now() - started),
  }
}
