import type { Logger } from 'pino'
import { isEmergencyKind, MAX_ALERT_VALUES } from '../../protocol/alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { BlockHeader } from '../../snapshot/chain/source.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { ChainReader, MarketView } from './chain-reader.ts'
import type { Condition } from './conditions.ts'
import { underwaterCandidates } from './margin.ts'
import { arkFindings, chainStall, fundingStale, headLag, liquidationBacklog, oracleDisagreement, oracleFindings, protocolPaused, rpcDisagreement, type ArkObservation, type Finding, type UnderwaterRun } from './monitors.ts'
import type { WatchdogOptions } from './options.ts'

export type FoundCondition = Omit<Condition, 'id' | 'group' | 'raisedAt'>

export interface ObserverInit {
  reader: ChainReader
  options: WatchdogOptions
  log: Logger
  signal: AbortSignal
  accounts?: () => Iterable<{ key: Uint8Array; record: AccountRecord }> | undefined
  ark?: () => ArkObservation & { nodeFinalized: bigint }
  /** oldest block an alert may name (the validity window): older conditions are kept local */
  oldestBlock: () => bigint
  /** what one monitor group found in one successful poll */
  found: (group: string, conditions: FoundCondition[]) => void
}

/**
 * One observation round of the watchdog (PROTOCOL.md §12.2): reads the
 * chain, runs the pure monitors and hands each group's findings, with their
 * `since` rules resolved to blocks, to `found`. A group reports only when
 * its reads succeeded, so a failing RPC never clears a condition.
 */
export class Observer {
  private readonly i: ObserverInit
  private head: { number: bigint; since: number } | undefined
  private lastFinal: string | undefined
  /** accounts under water now → their run's start (bounded by engine.backlogCandidates) */
  private readonly runs = new Map<string, { since: bigint; checked: bigint; capped: boolean }>()
  private backlog: Promise<void> | undefined

  constructor(init: ObserverInit) {
    this.i = init
  }

  /** Wait for a backlog evaluation in flight (tests). */
  async settled(): Promise<void> {
    await this.backlog
  }

  async poll(): Promise<void> {
    const now = Date.now()
    const { reader, options: o } = this.i
    const { heads, common, latest } = await reader.endpointHeads()
    if (latest !== undefined) {
      if (this.head === undefined || this.head.number !== latest.number) this.head = { number: latest.number, since: now }
      const found = [chainStall({ number: latest.number, timestamp: latest.timestamp, stuckMs: now - this.head.since }, o), rpcDisagreement(heads, common, o)]
      await this.report('chain', found, latest.number)
    }
    const B = await reader.finalized()
    const ark = this.i.ark?.()
    if (ark !== undefined) await this.report('node', [headLag(ark.nodeFinalized, B.number, o), ...arkFindings(ark)], B.number)
    // the protocol monitors are functions of the state at B: nothing to redo until B changes
    if (this.lastFinal === B.hash) return
    const found: (Finding | undefined)[] = []
    const markets = await reader.markets(B.hash)
    const feeds = [...new Set([...markets.map((m) => m.feed), ...o.oracle.extraFeeds, ...o.oracle.pairs.flatMap((p) => p.feeds)].map((f) => f.toLowerCase() as Address))]
    const obs = new Map((await Promise.all(feeds.map((f) => reader.feed(f, B.hash)))).map((f) => [f.feed, f]))
    for (const f of obs.values()) if (f.roundId > 0n) found.push(...oracleFindings(f, B.timestamp, o))
    for (const p of o.oracle.pairs) found.push(oracleDisagreement(obs.get(p.feeds[0])!, obs.get(p.feeds[1])!, p.maxBps))
    for (const m of markets) found.push(fundingStale(m, B.timestamp, o))
    found.push(protocolPaused(await reader.paused(B.hash), reader.exchange, B.number))
    await this.report('protocol', found, B.number, B)
    this.lastFinal = B.hash
    // the backlog monitor may walk back many blocks: it runs beside the poll, never delaying the others
    if (this.backlog === undefined && this.i.accounts !== undefined) {
      this.backlog = this.pollBacklog(B, markets)
        .catch((err: unknown) => {
          if (!this.i.signal.aborted) this.i.log.debug({ err }, 'watchdog backlog poll failed')
        })
        .finally(() => (this.backlog = undefined))
    }
  }

  private async pollBacklog(B: BlockHeader, markets: MarketView[]): Promise<void> {
    const records = this.i.accounts?.()
    if (records === undefined) return
    const { reader, options: o } = this.i
    const ctx = await reader.marginContext(B, markets)
    const runs: UnderwaterRun[] = []
    const live = new Set<string>()
    for (const cand of underwaterCandidates(records, ctx, o.engine.backlogCandidates)) {
      const acct = cand.account as Address
      const now = await reader.underwater(acct, B.hash)
      if (!now.under) continue
      live.add(acct)
      const r = await reader.runStart(acct, B.number, this.runs.get(acct))
      this.runs.set(acct, { ...r, checked: B.number })
      runs.push({ account: acct, since: r.since, capped: r.capped, equity: now.equity, requirement: now.requirement })
    }
    for (const k of [...this.runs.keys()]) if (!live.has(k)) this.runs.delete(k)
    await this.report('backlog', [liquidationBacklog(runs, B.number, o)], B.number, B)
  }

  private async report(group: string, found: (Finding | undefined)[], block: bigint, hi?: BlockHeader): Promise<void> {
    const oldest = this.i.oldestBlock()
    const conditions: FoundCondition[] = []
    for (const f of found) {
      if (f === undefined) continue
      const sinceBlock = hi === undefined ? (f.since.rule === 'block' ? f.since.block : block) : await this.i.reader.resolveSince(f.since, hi)
      // a condition that began before the validity window is true but names no checkpoint peers accept: kept local
      const signed = isEmergencyKind(f.kind) && f.local !== true && sinceBlock >= 1n && sinceBlock >= oldest
      conditions.push({ kind: f.kind, subject: f.subject.toLowerCase() as Address, sinceBlock, block, values: f.values.slice(0, MAX_ALERT_VALUES), message: f.message, signed })
    }
    this.i.found(group, conditions)
  }
}
