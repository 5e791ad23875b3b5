import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Address } from '../../protocol/operator-set.ts'
import { ConditionTracker } from '../../node/watchdog/conditions.ts'
import { AlertPool } from '../../node/watchdog/alert-pool.ts'
import { EmergencyBook } from '../../node/watchdog/emergency.ts'
import { accountMargin } from '../../node/watchdog/margin.ts'
import { arkFindings, chainStall, exceedsBps, fundingStale, headLag, liquidationBacklog, marketSubject, oracleDisagreement, oracleFindings, rpcDisagreement, type FeedObservation } from '../../node/watchdog/monitors.ts'
import { paramsHash, parseWatchdogConfig, WATCHDOG_DEFAULTS, type WatchdogOptions } from '../../node/watchdog/options.ts'
import { signAlert, type AlertBody } from '../../protocol/alert.ts'
import { addr, ADAPTER_ID, CHAIN_ID, CONFIG_HASH, fourOperators, OP } from '../protocol/support.ts'

const O: WatchdogOptions = { ...WATCHDOG_DEFAULTS, oracle: { ...WATCHDOG_DEFAULTS.oracle, heartbeatSec: 60 } }
const FEED = '0x00000000000000000000000000000000000000aa' as Address
const feed = (over: Partial<FeedObservation> = {}): FeedObservation => ({ feed: FEED, decimals: 8, roundId: 5n, answer: 2000_00000000n, updatedAt: 1000n, prevAnswer: 2000_00000000n, ...over })

describe('monitors (pure)', () => {
  it('oracle-stale at exactly heartbeat + 1 s, beginning at the first block past updatedAt + heartbeat', () => {
    expect(oracleFindings(feed(), 1060n, O)).toEqual([])
    const [f] = oracleFindings(feed(), 1061n, O)
    expect(f).toMatchObject({ kind: 'oracle-stale', subject: FEED, since: { rule: 'timestamp-after', timestamp: 1060n } })
    expect(oracleFindings(feed(), 1061n, { ...O, oracle: { ...O.oracle, heartbeats: { [FEED]: 120 } } })).toEqual([])
  })

  it('oracle-deviation beyond the bound (exact bigint boundary), non-positive answers', () => {
    const bound = O.oracle.maxDeviationBps // 20 %
    expect(oracleFindings(feed({ prevAnswer: 1000n, answer: 1200n }), 1000n, O)).toEqual([])
    expect(oracleFindings(feed({ prevAnswer: 1000n, answer: 1201n }), 1000n, O).map((f) => f.kind)).toEqual(['oracle-deviation'])
    expect(oracleFindings(feed({ prevAnswer: 1000n, answer: 799n }), 1000n, O).map((f) => f.kind)).toEqual(['oracle-deviation'])
    expect(oracleFindings(feed({ prevAnswer: 1000n, answer: 0n }), 1000n, O).map((f) => f.kind).sort()).toEqual(['oracle-deviation', 'oracle-nonpositive'])
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (base, delta) => exceedsBps(delta, base, bound) === Number(((delta < 0n ? -delta : delta) * 10_000n) > BigInt(bound) * base) > 0))
  })

  it('oracle-disagreement normalizes decimals; funding-stale needs open interest', () => {
    const b = { ...feed({ feed: '0x00000000000000000000000000000000000000bb' as Address, decimals: 18, answer: 2000n * 10n ** 18n }) }
    expect(oracleDisagreement(feed(), b, 100)).toBeUndefined()
    expect(oracleDisagreement(feed({ answer: 2100_00000000n }), b, 100)?.kind).toBe('oracle-disagreement')
    const m = { id: 1n, longOpenInterest: 0n, shortOpenInterest: 0n, lastFundingTime: 0n }
    expect(fundingStale(m, 10n ** 6n, O)).toBeUndefined()
    expect(fundingStale({ ...m, longOpenInterest: 1n }, BigInt(O.engine.fundingPeriodSec) + 1n, O)).toMatchObject({ subject: marketSubject(1n), since: { rule: 'timestamp-after', timestamp: BigInt(O.engine.fundingPeriodSec) } })
  })

  it('chain, rpc, head lag, Ark and backlog findings', () => {
    expect(chainStall({ number: 10n, timestamp: 1n, stuckMs: O.chain.maxBlockGapMs }, O)).toBeUndefined()
    expect(chainStall({ number: 10n, timestamp: 1n, stuckMs: O.chain.maxBlockGapMs + 1 }, O)?.since).toEqual({ rule: 'block', block: 11n })
    expect(rpcDisagreement([{ url: 'a', number: 10n, commonHash: '0x1' }, { url: 'b', number: 11n, commonHash: '0x1' }], 10n, O)).toBeUndefined()
    expect(rpcDisagreement([{ url: 'a', number: 10n, commonHash: '0x1' }, { url: 'b', number: 10n, commonHash: '0x2' }], 10n, O)?.kind).toBe('rpc-disagreement')
    expect(rpcDisagreement([{ url: 'a', number: 10n, commonHash: '0x1' }, { url: 'b', number: 20n, commonHash: '0x1' }], 10n, O)?.kind).toBe('rpc-disagreement')
    expect(headLag(100n, 100n + BigInt(O.chain.maxHeadLagBlocks) + 1n, O)?.kind).toBe('head-lag')
    expect(arkFindings({ noQuorumBlock: 40n, divergenceBlock: undefined, latestCertified: 36n }).map((f) => f.kind)).toEqual(['ark-no-quorum'])
    expect(arkFindings({ noQuorumBlock: 40n, divergenceBlock: 36n, latestCertified: 44n })).toEqual([])
    const a = '0x00000000000000000000000000000000000000a1' as Address
    const b = '0x00000000000000000000000000000000000000a0' as Address
    const runs = [{ account: a, since: 100n, equity: 1n, requirement: 2n }, { account: b, since: 100n, equity: 1n, requirement: 2n }]
    expect(liquidationBacklog(runs, 120n, O)).toBeUndefined()
    expect(liquidationBacklog(runs, 121n, O)).toMatchObject({ subject: b, since: { rule: 'block', block: 100n }, values: [2n, 100n, 1n, 2n] })
    expect(liquidationBacklog([{ ...runs[0]!, capped: true }], 500n, O)?.local).toBe(true)
  })

  it('margin follows the exchange formula (truncating division)', () => {
    const ctx = { assets: new Map([['0xq', { haircutBps: 10_000n }]]), markets: new Map([[0n, { price: 1900_00000000n, priceDecimals: 8n, fundingIndex: 0n, fundingRate: 0n, lastFundingTime: 0n, maintenanceMarginRatio: 5n * 10n ** 16n }]]), timestamp: 0n }
    const r = { collateral: [{ asset: '0xq', amount: 100n * 10n ** 18n }], perps: [{ market: 0n, size: 10n ** 18n, entryPrice: 2000_00000000n, fundingIndex: 0n }], options: [] }
    expect(accountMargin(r, ctx)).toEqual({ equity: 0n, maintenance: 95n * 10n ** 18n })
  })
})

describe('condition bookkeeping', () => {
  it('raises once, clears when a successful poll no longer finds it, re-raises an emergency kind whose start moved; groups are independent', () => {
    const t = new ConditionTracker()
    const c = { kind: 'oracle-stale' as const, subject: FEED, sinceBlock: 10n, block: 12n, values: [], message: 'x', signed: true }
    expect(t.update('protocol', [c], 1).raised.length).toBe(1)
    expect(t.update('protocol', [{ ...c, block: 13n }], 2)).toEqual({ raised: [], cleared: [] })
    expect(t.update('chain', [], 3).cleared).toEqual([])
    const moved = t.update('protocol', [{ ...c, sinceBlock: 20n }], 4)
    expect([moved.raised.length, moved.cleared.length]).toEqual([1, 1])
    expect(t.update('protocol', [], 5).cleared.map((x) => x.sinceBlock)).toEqual([20n])
    expect(t.active.size).toBe(0)
    expect(t.recent.length).toBe(2)
  })

  it('the alert pool fires quorum once per key, counts each operator once, in any arrival order', async () => {
    const body: AlertBody = { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, paramsHash: paramsHash(O), kind: 'oracle-stale', subject: FEED, sinceBlock: 50n, block: 51n, values: [] }
    const alerts = await Promise.all(OP.map((o, i) => signAlert({ ...body, block: 51n + BigInt(i) }, addr(o), (d) => o.sign({ hash: d }))))
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([0, 1, 2, 3, 0, 1], { minLength: 6, maxLength: 6 }), async (order) => {
        const pool = new AlertPool(fourOperators())
        const events = order.map((i) => pool.add(alerts[i]!).type)
        expect(events.filter((e) => e === 'quorum').length).toBe(new Set(order).size >= 3 ? 1 : 0)
        expect(events.filter((e) => e === 'duplicate').length).toBe(order.length - new Set(order).size)
      }),
    )
  })

  it('rate limit: one emergency per key, none within cooldownBlocks for the same kind and subject', async () => {
    const book = new EmergencyBook({ dataDir: '/nonexistent', cooldownBlocks: 100, maxPerHour: 2 })
    const mk = async (since: bigint, subject = FEED) => signAlert({ chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, paramsHash: paramsHash(O), kind: 'oracle-stale', subject, sinceBlock: since, block: since, values: [] }, addr(OP[0]!), (d) => OP[0]!.sign({ hash: d }))
    expect(book.admit(await mk(1000n), true, 0)?.status).toBe('confirmed')
    expect(book.admit(await mk(1000n), true, 0)).toBeUndefined()
    expect(book.admit(await mk(1050n), true, 0)?.status).toBe('rate-limited')
    expect(book.admit(await mk(1050n, '0x00000000000000000000000000000000000000cc' as Address), true, 0)?.status).toBe('confirmed')
    expect(book.admit(await mk(1200n), true, 0)?.status).toBe('rate-limited') // hourly cap of 2
    expect(book.admit(await mk(1300n), true, 3_600_001)?.status).toBe('confirmed')
  })
})

describe('watchdog config', () => {
  it('parses documented defaults, rejects unknown keys; params hash covers exactly the consensus thresholds', () => {
    const { options } = parseWatchdogConfig({}, (p) => p)
    expect(options).toEqual(WATCHDOG_DEFAULTS)
    expect(() => parseWatchdogConfig({ oracle: { heartbeat: 5 } }, (p) => p)).toThrow(/unknown key "heartbeat"/)
    expect(() => parseWatchdogConfig({ webhooks: [{ url: 'http://x' }] }, (p) => p)).toThrow(/secretFile/)
    const base = paramsHash(options)
    expect(paramsHash(parseWatchdogConfig({ pollMs: 100, chain: { maxBlockGapMs: 1000 } }, (p) => p).options)).toBe(base)
    expect(paramsHash(parseWatchdogConfig({ oracle: { heartbeatSec: 61 } }, (p) => p).options)).not.toBe(base)
    expect(paramsHash(parseWatchdogConfig({ emergency: { cooldownBlocks: 1 } }, (p) => p).options)).not.toBe(base)
  })
})
