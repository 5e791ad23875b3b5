import type { AlertKind } from '../../protocol/alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { heartbeatOf, type WatchdogOptions } from './options.ts'

/**
 * The monitors: small pure functions from observations to findings. Each
 * finding names where its condition began as a rule (`since`) that the chain
 * reader resolves to a block number the same way on every node
 * (PROTOCOL.md §12.2), so monitors never touch the network.
 */
export type SinceRule =
  /** exactly this block */
  | { rule: 'block'; block: bigint }
  /** the first block whose timestamp is greater than `timestamp` */
  | { rule: 'timestamp-after'; timestamp: bigint }
  /** the first block at which `feed`'s latest round is at least `roundId` */
  | { rule: 'round-recorded'; feed: Address; roundId: bigint }
  /** the latest of several */
  | { rule: 'max'; of: SinceRule[] }

export interface Finding {
  kind: AlertKind
  subject: Address
  since: SinceRule
  /** observed values (integers), kind-specific order documented in PROTOCOL.md §12.2 */
  values: bigint[]
  message: string
  /** raise locally only: where it began is not known exactly, so other nodes could not agree on its key */
  local?: boolean
}

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000' as Address

/** Markets have ids, alerts have addresses: market `id` is the address with value id. */
export function marketSubject(id: bigint): Address {
  return `0x${id.toString(16).padStart(40, '0')}` as Address
}

export interface HeadObservation {
  /** number and timestamp of the newest block any endpoint serves */
  number: bigint
  timestamp: bigint
  /** wall-clock ms since that number last changed */
  stuckMs: number
}

/** chain-stall: no new block for longer than maxBlockGapMs. Begins at the block that never came (head + 1). */
export function chainStall(h: HeadObservation, o: WatchdogOptions): Finding | undefined {
  if (h.stuckMs <= o.chain.maxBlockGapMs) return undefined
  return { kind: 'chain-stall', subject: ZERO_ADDRESS, since: { rule: 'block', block: h.number + 1n }, values: [h.number, h.timestamp, BigInt(Math.floor(h.stuckMs))], message: `no new block after ${h.number} for ${Math.round(h.stuckMs / 1000)} s (limit ${o.chain.maxBlockGapMs / 1000} s)` }
}

export interface EndpointHead {
  url: string
  number: bigint
  /** hash of the block at the lowest head all endpoints serve (undefined if unreachable) */
  commonHash: string | undefined
}

/** rpc-disagreement: heads too far apart, or different hashes at a common height. Local. */
export function rpcDisagreement(heads: EndpointHead[], common: bigint, o: WatchdogOptions): Finding | undefined {
  if (heads.length < 2) return undefined
  const numbers = heads.map((h) => h.number)
  const min = numbers.reduce((a, b) => (a < b ? a : b))
  const max = numbers.reduce((a, b) => (a > b ? a : b))
  const hashes = new Set(heads.map((h) => h.commonHash).filter((x) => x !== undefined))
  const spread = max - min > BigInt(o.chain.maxHeadSpreadBlocks)
  if (!spread && hashes.size <= 1) return undefined
  return { kind: 'rpc-disagreement', subject: ZERO_ADDRESS, since: { rule: 'block', block: common }, values: [min, max, BigInt(hashes.size)], message: hashes.size > 1 ? `RPC endpoints return ${hashes.size} different hashes for block ${common}` : `RPC endpoints' heads are ${max - min} blocks apart (${min}..${max})` }
}

/** head-lag: this node's finalized head is far behind the chain's. Local. */
export function headLag(nodeHead: bigint, chainHead: bigint, o: WatchdogOptions): Finding | undefined {
  if (chainHead - nodeHead <= BigInt(o.chain.maxHeadLagBlocks)) return undefined
  return { kind: 'head-lag', subject: ZERO_ADDRESS, since: { rule: 'block', block: nodeHead + 1n }, values: [nodeHead, chainHead], message: `this node's finalized head ${nodeHead} is ${chainHead - nodeHead} blocks behind the chain (${chainHead})` }
}

/** One feed's latest round at a block, and the answer of the round before it. */
export interface FeedObservation {
  feed: Address
  decimals: number
  roundId: bigint
  answer: bigint
  updatedAt: bigint
  /** answer of round roundId - 1 (undefined for the first round) */
  prevAnswer: bigint | undefined
}

/**
 * oracle-stale: block time minus updatedAt beyond the heartbeat; begins at the first block past updatedAt + heartbeat.
 * oracle-deviation: |answer − previous| · 10⁴ > maxDeviationBps · |previous|; begins where the round was recorded.
 * oracle-nonpositive: answer ≤ 0; begins where the round was recorded.
 */
export function oracleFindings(f: FeedObservation, blockTimestamp: bigint, o: WatchdogOptions): Finding[] {
  const out: Finding[] = []
  const hb = BigInt(heartbeatOf(o, f.feed))
  const age = blockTimestamp - f.updatedAt
  if (age > hb) out.push({ kind: 'oracle-stale', subject: f.feed, since: { rule: 'timestamp-after', timestamp: f.updatedAt + hb }, values: [f.roundId, f.answer, f.updatedAt, blockTimestamp, hb], message: `feed ${f.feed} last updated ${age} s ago (heartbeat ${hb} s)` })
  if (f.answer <= 0n) out.push({ kind: 'oracle-nonpositive', subject: f.feed, since: { rule: 'round-recorded', feed: f.feed, roundId: f.roundId }, values: [f.roundId, f.answer], message: `feed ${f.feed} answers ${f.answer} (round ${f.roundId})` })
  if (f.prevAnswer !== undefined && f.prevAnswer !== 0n && exceedsBps(f.answer - f.prevAnswer, f.prevAnswer, o.oracle.maxDeviationBps)) {
    out.push({ kind: 'oracle-deviation', subject: f.feed, since: { rule: 'round-recorded', feed: f.feed, roundId: f.roundId }, values: [f.roundId, f.prevAnswer, f.answer, deviationBps(f.answer - f.prevAnswer, f.prevAnswer)], message: `feed ${f.feed} moved from ${f.prevAnswer} to ${f.answer} in one round (limit ${o.oracle.maxDeviationBps} bps)` })
  }
  return out
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x)

/** |delta| · 10⁴ > bps · |base|, exactly. */
export function exceedsBps(delta: bigint, base: bigint, bps: number): boolean {
  return abs(delta) * 10_000n > BigInt(bps) * abs(base)
}

export function deviationBps(delta: bigint, base: bigint): bigint {
  return base === 0n ? 0n : (abs(delta) * 10_000n) / abs(base)
}

/** Scale two answers with different decimals to the larger. */
export function normalize(a: FeedObservation, b: FeedObservation): [bigint, bigint] {
  const d = Math.max(a.decimals, b.decimals)
  return [a.answer * 10n ** BigInt(d - a.decimals), b.answer * 10n ** BigInt(d - b.decimals)]
}

/** oracle-disagreement: two feeds of one market apart by more than maxBps of the lower; begins where the later of their rounds was recorded. */
export function oracleDisagreement(a: FeedObservation, b: FeedObservation, maxBps: number): Finding | undefined {
  const [x, y] = normalize(a, b)
  if (x <= 0n || y <= 0n) return undefined
  const low = x < y ? x : y
  if (!exceedsBps(x - y, low, maxBps)) return undefined
  return {
    kind: 'oracle-disagreement',
    subject: a.feed,
    since: { rule: 'max', of: [{ rule: 'round-recorded', feed: a.feed, roundId: a.roundId }, { rule: 'round-recorded', feed: b.feed, roundId: b.roundId }] },
    values: [a.roundId, x, b.roundId, y, deviationBps(x - y, low)],
    message: `feeds ${a.feed} and ${b.feed} disagree: ${x} vs ${y} (limit ${maxBps} bps)`,
  }
}

export interface MarketObservation {
  id: bigint
  longOpenInterest: bigint
  shortOpenInterest: bigint
  lastFundingTime: bigint
}

/** funding-stale: open interest and no funding accrual for longer than the period; begins at the first block past lastFundingTime + period. */
export function fundingStale(m: MarketObservation, blockTimestamp: bigint, o: WatchdogOptions): Finding | undefined {
  const period = BigInt(o.engine.fundingPeriodSec)
  if (m.longOpenInterest + m.shortOpenInterest === 0n || blockTimestamp - m.lastFundingTime <= period) return undefined
  return { kind: 'funding-stale', subject: marketSubject(m.id), since: { rule: 'timestamp-after', timestamp: m.lastFundingTime + period }, values: [m.id, m.lastFundingTime, blockTimestamp, m.longOpenInterest, m.shortOpenInterest], message: `market ${m.id}: funding not accrued for ${blockTimestamp - m.lastFundingTime} s with open interest (period ${period} s)` }
}

/** protocol-paused: the exchange is paused. Local. */
export function protocolPaused(paused: boolean, exchange: Address, block: bigint): Finding | undefined {
  return paused ? { kind: 'protocol-paused', subject: exchange, since: { rule: 'block', block }, values: [block], message: `exchange ${exchange} is paused` } : undefined
}

/** An account below maintenance margin: `since` is the first block of its current run below margin. */
export interface UnderwaterRun {
  account: Address
  since: bigint
  /** the run is older than the lookback: `since` is a lower bound */
  capped?: boolean
  equity: bigint
  requirement: bigint
}

/**
 * liquidation-backlog: an account below maintenance margin and not liquidated
 * for more than backlogBlocks. Subject: the account whose run began first
 * (lowest address on a tie), so every node names the same one; begins where
 * that run began.
 */
export function liquidationBacklog(runs: UnderwaterRun[], block: bigint, o: WatchdogOptions): Finding | undefined {
  const late = runs.filter((r) => block - r.since > BigInt(o.engine.backlogBlocks)).sort((a, b) => (a.since !== b.since ? (a.since < b.since ? -1 : 1) : a.account < b.account ? -1 : 1))
  const first = late[0]
  if (first === undefined) return undefined
  return { kind: 'liquidation-backlog', subject: first.account, since: { rule: 'block', block: first.since }, values: [BigInt(late.length), first.since, first.equity, first.requirement], message: `${late.length} account(s) below maintenance margin for more than ${o.engine.backlogBlocks} blocks; first ${first.account} since block ${first.since}`, ...(first.capped === true ? { local: true } : {}) }
}

export interface ArkObservation {
  /** newest block a no-quorum timeout was recorded for */
  noQuorumBlock: bigint | undefined
  /** newest block our snapshot diverged from the certified one */
  divergenceBlock: bigint | undefined
  /** newest scheduled certificate held */
  latestCertified: bigint | undefined
}

/** ark-no-quorum / ark-divergence: active until a later checkpoint is certified. Local. */
export function arkFindings(a: ArkObservation): Finding[] {
  const out: Finding[] = []
  const certified = a.latestCertified ?? -1n
  if (a.noQuorumBlock !== undefined && a.noQuorumBlock > certified) out.push({ kind: 'ark-no-quorum', subject: ZERO_ADDRESS, since: { rule: 'block', block: a.noQuorumBlock }, values: [a.noQuorumBlock, certified], message: `no quorum for checkpoint ${a.noQuorumBlock} within the timeout` })
  if (a.divergenceBlock !== undefined && a.divergenceBlock >= certified) out.push({ kind: 'ark-divergence', subject: ZERO_ADDRESS, since: { rule: 'block', block: a.divergenceBlock }, values: [a.divergenceBlock], message: `this node's snapshot of ${a.divergenceBlock} differs from the certified one` })
  return out
}
