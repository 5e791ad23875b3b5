import { describe, expect, it } from 'vitest'
import type { Hex } from 'viem'
import { conditionKey, encodeAlert, signAlert, type AlertBody, type SignedAlert } from '../../protocol/alert.ts'
import { validateAlert, type AlertValidatorContext } from '../../protocol/gossip/validate-alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { AlertPool, MAX_OPEN_PER_SIGNER } from '../../node/watchdog/alert-pool.ts'
import { EmergencyBook } from '../../node/watchdog/emergency.ts'
import { ConditionGauges, MAX_CLEARED_GAUGES } from '../../node/watchdog/gauges.ts'
import { paramsHash, WATCHDOG_DEFAULTS } from '../../node/watchdog/options.ts'
import { ALERT_BURST, SignerBudget } from '../../node/watchdog/signer-budget.ts'
import { addr, ADAPTER_ID, CHAIN_ID, CONFIG_HASH, fourOperators, OP } from '../protocol/support.ts'

const PARAMS = paramsHash(WATCHDOG_DEFAULTS)
const FEED = '0x00000000000000000000000000000000000000aa' as Address
const subject = (i: number): Address => `0x${i.toString(16).padStart(40, '0')}` as Address
const body = (over: Partial<AlertBody> = {}): AlertBody => ({ chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, paramsHash: PARAMS, kind: 'oracle-stale', subject: FEED, sinceBlock: 1000n, block: 1001n, values: [], ...over })
/** The pool trusts its inputs (the validator checked them): unsigned alerts keep the floods fast. */
const unsigned = (op: number, over: Partial<AlertBody> = {}): SignedAlert => ({ body: body(over), signer: addr(OP[op]!), signature: '0x' as Hex })

describe('alert pool: per-signer caps (issue 10 item 3)', () => {
  // Fails on the code before this change: the pool held 1,024 keys in all and evicted the oldest key
  // whoever had raised it, so one operator's 1,025 alerts with random subjects evicted the honest condition.
  it('one signer flooding 5,000 conditions never evicts another operator’s condition; the honest key still reaches quorum', () => {
    const pool = new AlertPool(fourOperators())
    const honest = body()
    expect(pool.add(unsigned(0)).type).toBe('counted')
    for (let i = 0; i < 5_000; i++) pool.add(unsigned(3, { subject: subject(i + 1), sinceBlock: 1000n + BigInt(i % 50) }))
    expect(pool.openCount(addr(OP[3]!))).toBe(MAX_OPEN_PER_SIGNER)
    expect(pool.size).toBe(MAX_OPEN_PER_SIGNER + 1)
    expect(pool.stats.evicted).toBe(5_000 - MAX_OPEN_PER_SIGNER)
    expect(pool.alerts(conditionKey(honest)).map((a) => a.signer)).toEqual([addr(OP[0]!)])
    expect(pool.add(unsigned(1)).type).toBe('counted')
    for (let i = 0; i < 1_025; i++) pool.add(unsigned(3, { subject: subject(10_000 + i) }))
    const q = pool.add(unsigned(2))
    expect(q.type).toBe('quorum')
    expect(pool.hasQuorum(conditionKey(honest))).toBe(true)
    // a quorum-confirmed key is no one's quota: the flooder's later alerts do not touch it either
    for (let i = 0; i < 200; i++) pool.add(unsigned(3, { subject: subject(20_000 + i) }))
    expect(pool.alerts(conditionKey(honest)).length).toBe(3)
    expect(pool.openCount(addr(OP[0]!))).toBe(0)
  })

  it('a signer past its cap displaces its own oldest open alert; a duplicate changes nothing', () => {
    const pool = new AlertPool(fourOperators(), 3)
    for (let i = 1; i <= 3; i++) pool.add(unsigned(0, { subject: subject(i) }))
    expect(pool.add(unsigned(0, { subject: subject(2) })).type).toBe('duplicate')
    const e = pool.add(unsigned(0, { subject: subject(4) }))
    expect(e).toMatchObject({ type: 'counted', evicted: conditionKey(body({ subject: subject(1) })) })
    expect(pool.keys()).toEqual([2, 3, 4].map((i) => conditionKey(body({ subject: subject(i) }))))
  })

  it('namesEmergencyBlock: true exactly for sinceBlock − 1 of a key in the pool; forgotten with it', () => {
    const pool = new AlertPool(fourOperators(), 2)
    pool.add(unsigned(0, { sinceBlock: 500n }))
    pool.add(unsigned(1, { sinceBlock: 500n }))
    expect(pool.namesEmergencyBlock(499n)).toBe(true)
    expect(pool.namesEmergencyBlock(500n)).toBe(false)
    // op 0 moves on twice: its alert for 500 is displaced, op 1's still names the block
    pool.add(unsigned(0, { sinceBlock: 600n }))
    pool.add(unsigned(0, { sinceBlock: 700n }))
    expect(pool.namesEmergencyBlock(499n)).toBe(true)
    pool.add(unsigned(1, { sinceBlock: 600n }))
    pool.add(unsigned(1, { sinceBlock: 700n }))
    expect(pool.namesEmergencyBlock(499n)).toBe(false)
    expect(pool.namesEmergencyBlock(599n)).toBe(true)
    pool.prune(650n)
    expect(pool.namesEmergencyBlock(599n)).toBe(false)
    expect(pool.namesEmergencyBlock(699n)).toBe(true)
    // below the window: ignored, also the node's own
    expect(pool.add(unsigned(2, { sinceBlock: 640n }))).toMatchObject({ type: 'ignored', reason: 'TOO_OLD' })
  })

  it('signers that leave the operator set lose their open alerts', () => {
    const set = fourOperators()
    const pool = new AlertPool(set)
    pool.add(unsigned(3, { subject: subject(1) }))
    pool.add(unsigned(0, { subject: subject(1) }))
    const weights = new Map(set.weights)
    weights.delete(addr(OP[3]!))
    pool.setOperators({ ...set, weights })
    expect(pool.openCount(addr(OP[3]!))).toBe(0)
    expect(pool.alerts(conditionKey(body({ subject: subject(1) }))).map((a) => a.signer)).toEqual([addr(OP[0]!)])
  })
})

describe('alert validator: sinceBlock window and per-signer claim-check budget (issue 10 item 3)', () => {
  const ctx = (checks: { n: number }, budget: SignerBudget, over: Partial<AlertValidatorContext> = {}): AlertValidatorContext => ({
    chainId: CHAIN_ID,
    adapterId: ADAPTER_ID,
    configHash: CONFIG_HASH,
    paramsHash: PARAMS,
    operators: fourOperators(),
    finalizedHead: 10_000n,
    maxAheadBlocks: 80n,
    oldestBlock: 2_000n,
    schedule: { interval: 100n, first: 0n },
    checkClaim: async () => {
      checks.n++
      return 'unknown'
    },
    budget,
    ...over,
  })
  const signed = (op: number, over: Partial<AlertBody>): Promise<SignedAlert> => signAlert(body(over), addr(OP[op]!), (d) => OP[op]!.sign({ hash: d }))

  // Fails on the code before this change: every alert with an old sinceBlock was accepted and cost chain reads.
  it('old sinceBlock → ignore TOO_OLD, far ahead → ignore TOO_FAR_AHEAD, both before any signature or chain work', async () => {
    const checks = { n: 0 }
    const c = ctx(checks, new SignerBudget())
    expect(await validateAlert(encodeAlert(await signed(0, { sinceBlock: 1_999n })), c)).toMatchObject({ action: 'ignore', code: 'TOO_OLD' })
    expect(await validateAlert(encodeAlert(await signed(0, { sinceBlock: 10_081n })), c)).toMatchObject({ action: 'ignore', code: 'TOO_FAR_AHEAD' })
    expect(await validateAlert(encodeAlert(await signed(0, { sinceBlock: 2_000n })), c)).toMatchObject({ action: 'accept' })
    expect(checks.n).toBe(1)
  })

  // Fails on the code before this change: no budget, every alert was checked on the chain and forwarded.
  it('one signer’s alerts are rate-limited after the signature check (ignore RATE_LIMITED, no score); other signers keep their budget', async () => {
    const checks = { n: 0 }
    let now = 0
    const budget = new SignerBudget({ now: () => now })
    const c = ctx(checks, budget)
    const results: string[] = []
    for (let i = 0; i < ALERT_BURST + 10; i++) {
      const v = await validateAlert(encodeAlert(await signed(3, { subject: subject(i + 1), sinceBlock: i % 2 === 0 ? 5_000n : 10_050n })), c)
      results.push(v.action === 'accept' ? 'accept' : v.code)
    }
    expect(checks.n).toBe(ALERT_BURST)
    expect(results.filter((r) => r === 'RATE_LIMITED').length).toBe(10)
    // a forged copy does not spend the signer's budget: it fails the signature first
    const forged = await signed(3, { subject: subject(999), sinceBlock: 5_000n })
    expect(await validateAlert(encodeAlert({ ...forged, signer: addr(OP[0]!) }), c)).toMatchObject({ action: 'reject' })
    expect(await validateAlert(encodeAlert(await signed(0, { sinceBlock: 5_000n })), c)).toMatchObject({ action: 'accept' })
    expect(checks.n).toBe(ALERT_BURST + 1)
    // the bucket refills with time
    now += 60_000
    expect(await validateAlert(encodeAlert(await signed(3, { subject: subject(100), sinceBlock: 5_000n })), c)).toMatchObject({ action: 'accept' })
  })
})

describe('bounded per-subject state (issue 10 item 14)', () => {
  // Fails on the code before this change: conditionGauge kept every condition id ever raised, the book every
  // key ever confirmed and every (kind, subject) cooldown mark.
  it('10,000 conditions raised and cleared, 10,000 checkpoints confirmed: gauges, pool, book stay bounded', () => {
    const gauges = new ConditionGauges()
    for (let i = 0; i < 10_000; i++) {
      const c = { id: `liquidation-backlog/${subject(i)}`, kind: 'liquidation-backlog' as const, subject: subject(i) }
      gauges.raise(c)
      gauges.clear(c)
      expect(gauges.size).toBeLessThanOrEqual(MAX_CLEARED_GAUGES)
    }
    gauges.raise({ id: 'x', kind: 'oracle-stale' as const, subject: FEED })
    expect(gauges.size).toBe(MAX_CLEARED_GAUGES + 1)
    expect(gauges.get('x')?.value).toBe(1)
    expect(gauges.get(`liquidation-backlog/${subject(9_999)}`)?.value).toBe(0)

    const pool = new AlertPool(fourOperators())
    const book = new EmergencyBook({ dataDir: '/nonexistent', cooldownBlocks: 100, maxPerHour: 1_000_000 })
    const window = 2_000n
    let max = { pool: 0, entries: 0, cooldowns: 0 }
    for (let i = 0; i < 10_000; i++) {
      const since = 1_000n + BigInt(i) * 10n
      for (const op of [0, 1, 2]) {
        const e = pool.add(unsigned(op, { subject: subject(i % 500), sinceBlock: since }))
        if (e.type === 'quorum') book.admit(e.alerts[0]!, true, i)
      }
      pool.prune(since - window)
      book.prune(since - window)
      max = { pool: Math.max(max.pool, pool.size), entries: Math.max(max.entries, book.sizes.entries), cooldowns: Math.max(max.cooldowns, book.sizes.cooldowns) }
    }
    expect(book.sizes.entries).toBeGreaterThan(0)
    expect(max.pool).toBeLessThanOrEqual(201)
    expect(max.entries).toBeLessThanOrEqual(201)
    expect(max.cooldowns).toBeLessThanOrEqual(500)
  })
})
