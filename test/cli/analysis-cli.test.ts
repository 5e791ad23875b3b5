/**
 * `ark diff`, `ark risk` and `ark verify` on directories as `ark fetch` writes
 * them (and on plain CARs): output shapes, exact numbers, and bad input (exit
 * 1/2, a message naming what is wrong, no partial output). The CLI runs
 * in-process (node/cli/main.ts, what bin.js calls).
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import type { AccountRecord, DerivativesMarkets, MarketState } from '../../snapshot/schema/derivatives.ts'
import { derivativesSchemaV2, type DerivativesMarketsV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import type { RecordInput } from '../../snapshot/state/build.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { attestationBodyOf, buildTestSnapshot, certify, errorOf, runArk, testOperators, writeFetchedDir, type CliRun } from '../support/recovery.ts'
import { encodeCar, listDir, parseCar, parseCsv } from './helpers.ts'

const { ops, outsider } = testOperators('ark analysis cli test')
const USD = `0x${'a1'.repeat(20)}`
const WETH = `0x${'b2'.repeat(20)}`
const E18 = 10n ** 18n
const E8 = 10n ** 8n
const T0 = 1_700_000_000n
const META = {
  block: { chainId: 31337n, number: 100n, hash: keccak256(toHex('block 100')), timestamp: T0 },
  adapter: { id: 'perp-reference', version: '1', configHash: keccak256(toHex('analysis config')) },
}
const META_B = { ...META, block: { ...META.block, number: 140n, hash: keccak256(toHex('block 140')), timestamp: T0 + 480n } }

function market(id: bigint, price: bigint, longOI: bigint, shortOI: bigint): MarketState {
  return { id, price, roundId: 1n, updatedAt: T0, priceDecimals: 8n, longOpenInterest: longOI, shortOpenInterest: shortOI, fundingIndex: 0n, fundingRate: 0n, initialMarginRatio: E18 / 10n, maintenanceMarginRatio: E18 / 20n, liquidationFee: E18 / 100n }
}
const assets = [
  { asset: USD, haircutBps: 10_000n, decimals: 18n },
  { asset: WETH, haircutBps: 8_000n, decimals: 18n },
]
const MARKETS_A: DerivativesMarkets = { assets, markets: [market(0n, 2_000n * E8, 3n * E18, E18), market(1n, 60_000n * E8, 0n, 0n)] }
// after the "exploit": ETH crashed, one long closed
const MARKETS_B: DerivativesMarkets = { assets, markets: [market(0n, 1_000n * E8, 2n * E18, E18), market(1n, 60_000n * E8, 0n, 0n)] }

const VICTIM = `0x${'0a'.repeat(20)}`
const ATTACKER = `0x${'ee'.repeat(20)}`
const SHORT = `0x${'05'.repeat(20)}`
const QUIET = `0x${'03'.repeat(20)}`

function recordsA(): RecordInput<AccountRecord>[] {
  return [
    { key: VICTIM, record: { collateral: [{ asset: USD, amount: 1_000n * E18 }, { asset: WETH, amount: E18 }], perps: [{ market: 0n, size: E18, entryPrice: 1_900n * E8, fundingIndex: 0n }], options: [] } },
    { key: SHORT, record: { collateral: [{ asset: USD, amount: 300n * E18 }], perps: [{ market: 0n, size: -E18, entryPrice: 2_100n * E8, fundingIndex: 0n }], options: [{ market: 0n, isCall: true, strike: 2_500n * E8, expiry: T0 + 30n * 86_400n, size: -2n * E18 }] } },
    { key: QUIET, record: { collateral: [{ asset: USD, amount: 5n * E18 }], perps: [{ market: 0n, size: 2n * E18, entryPrice: 2_000n * E8, fundingIndex: 0n }], options: [] } },
  ]
}
function recordsB(): RecordInput<AccountRecord>[] {
  const [victim, short, quiet] = recordsA()
  return [
    { key: VICTIM, record: { ...victim!.record, collateral: [{ asset: USD, amount: 100n * E18 }, { asset: WETH, amount: E18 }], perps: [] } },
    short!,
    quiet!,
    { key: ATTACKER, record: { collateral: [{ asset: USD, amount: 900n * E18 }], perps: [], options: [] } },
  ]
}

let tmp: string
let dirA: string
let dirB: string
let carA: string
let certA: Certificate
let snapA: Snapshot<AccountRecord, DerivativesMarkets>

async function carFile(path: string, s: Snapshot<unknown, unknown>, store: MemoryBlockStore): Promise<void> {
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([s.cid], s.blockCids(), store)) chunks.push(c)
  await writeFile(path, Buffer.concat(chunks))
}

function expectError(r: CliRun, exit: number, code: string, message?: RegExp): string {
  expect(r.code, r.stderr).toBe(exit)
  const e = errorOf(r)
  expect(e.code, e.message).toBe(code)
  if (message !== undefined) expect(e.message).toMatch(message)
  expect(r.stdout).toBe('')
  return e.message
}

async function copyDir(name: string, from = dirA): Promise<string> {
  const d = join(tmp, name)
  await cp(from, d, { recursive: true })
  return d
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ark-analysis-cli-'))
  const a = await buildTestSnapshot(META, recordsA(), MARKETS_A)
  const b = await buildTestSnapshot(META_B, recordsB(), MARKETS_B)
  snapA = a.snapshot
  certA = await certify(attestationBodyOf(a.snapshot), ops.slice(0, 3))
  dirA = join(tmp, 'a')
  dirB = join(tmp, 'b')
  await writeFetchedDir(dirA, a.snapshot, a.store, certA)
  await writeFetchedDir(dirB, b.snapshot, b.store, await certify(attestationBodyOf(b.snapshot), ops.slice(0, 3)))
  carA = join(tmp, 'a.car')
  await carFile(carA, a.snapshot, a.store)
  await writeFile(join(tmp, 'operators.json'), JSON.stringify({ operators: ops.map((o, i) => ({ address: o.address, weight: i + 1 })), threshold: 6 }))
})

afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

const lines = (s: string): Record<string, unknown>[] => s.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

describe('ark diff', () => {
  it('JSONL: the differing accounts in key order with leaf changes, then the summary', async () => {
    const r = await runArk(['diff', dirA, dirB])
    expect(r.code, r.stderr).toBe(0)
    const out = lines(r.stdout)
    expect(out.slice(0, -1).map((l) => [l.account, l.kind])).toEqual([[VICTIM, 'changed'], [ATTACKER, 'added']])
    expect(out[0]!.changes).toEqual([
      { path: `collateral[asset=${USD}].amount`, before: (1_000n * E18).toString(), after: (100n * E18).toString() },
      { path: 'perps[market=0].size', before: E18.toString(), after: null },
      { path: 'perps[market=0].entryPrice', before: (1_900n * E8).toString(), after: null },
      { path: 'perps[market=0].fundingIndex', before: '0', after: null },
    ])
    expect(out[0]!.moved).toEqual({ [USD]: (-900n * E18).toString() })
    expect(out[0]!.fields).toEqual(['collateral', 'perps'])
    expect(out[1]!.before).toBeNull()
    expect(out[1]!.moved).toEqual({ [USD]: (900n * E18).toString() })
    const { summary } = out[2] as { summary: Record<string, unknown> }
    expect(summary).toMatchObject({
      chainId: '31337',
      adapter: 'perp-reference',
      added: 1,
      removed: 0,
      changed: 1,
      moved: {},
      increased: { [USD]: (900n * E18).toString() },
      decreased: { [USD]: (900n * E18).toString() },
      from: { block: '100', timestamp: T0.toString() },
      to: { block: '140', timestamp: (T0 + 480n).toString() },
    })
    expect(summary.positions).toEqual([
      { market: '0', longDelta: (-E18).toString(), shortDelta: '0', optionsBoughtDelta: '0', optionsWrittenDelta: '0', longOpenInterest: { before: (3n * E18).toString(), after: (2n * E18).toString(), delta: (-E18).toString() }, shortOpenInterest: { before: E18.toString(), after: E18.toString(), delta: '0' } },
      { market: '1', longDelta: '0', shortDelta: '0', optionsBoughtDelta: '0', optionsWrittenDelta: '0', longOpenInterest: { before: '0', after: '0', delta: '0' }, shortOpenInterest: { before: '0', after: '0', delta: '0' } },
    ])
    expect(summary.marketChanges).toEqual([
      { path: 'markets[id=0].price', before: (2_000n * E8).toString(), after: (1_000n * E8).toString() },
      { path: 'markets[id=0].longOpenInterest', before: (3n * E18).toString(), after: (2n * E18).toString() },
    ])
    // a plain CAR works as well as a directory, and the output is deterministic
    const r2 = await runArk(['diff', carA, dirB])
    expect(r2.stdout).toBe(r.stdout)
  })

  it('--format csv and --out: the rows in a file, the summary on stdout', async () => {
    const out = join(tmp, 'diff-out', 'changes.csv')
    const r = await runArk(['diff', dirA, dirB, '--format', 'csv', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const rows = parseCsv(await readFile(out, 'utf8'))
    expect(rows[0]).toEqual(['account', 'kind', 'path', 'before', 'after'])
    expect(rows.slice(1).map((x) => [x[0], x[1], x[2]])).toEqual([
      [VICTIM, 'changed', `collateral[asset=${USD}].amount`],
      [VICTIM, 'changed', 'perps[market=0].size'],
      [VICTIM, 'changed', 'perps[market=0].entryPrice'],
      [VICTIM, 'changed', 'perps[market=0].fundingIndex'],
      [ATTACKER, 'added', `collateral[asset=${USD}].amount`],
    ])
    expect(rows[5]!.slice(3)).toEqual(['', (900n * E18).toString()])
    expect(JSON.parse(r.stdout)).toMatchObject({ summary: { added: 1, changed: 1 } })
    const human = await runArk(['diff', dirA, dirB, '--out', join(tmp, 'diff-out', 'c.jsonl')])
    expect(human.stdout).toMatch(/^1 added, 0 removed, 1 changed \(chain 31337, perp-reference, block 100 -> 140\)/)
    expect(await listDir(join(tmp, 'diff-out'))).toEqual(['c.jsonl', 'changes.csv'])
    // csv to stdout: the summary goes to stderr so stdout stays one table
    const s = await runArk(['diff', dirA, dirB, '--format', 'csv'])
    expect(parseCsv(s.stdout)).toHaveLength(6)
    expect(JSON.parse(s.stderr)).toMatchObject({ summary: { added: 1 } })
  })

  it('bad input: other chain, missing input, bad usage — exit 1/2, a clear message, no output file', async () => {
    const out = join(tmp, 'diff-bad', 'x.jsonl')
    const other = await buildTestSnapshot({ ...META_B, block: { ...META_B.block, chainId: 1n } }, recordsB(), MARKETS_B)
    const otherCar = join(tmp, 'chain1.car')
    await carFile(otherCar, other.snapshot, other.store)
    expectError(await runArk(['diff', dirA, otherCar, '--out', out, '--json']), 1, 'INVALID_INPUT', /different chains \(31337 vs 1\)/)
    expectError(await runArk(['diff', dirA, otherCar, '--json']), 1, 'INVALID_INPUT', /different chains/)
    const otherConfig = await buildTestSnapshot({ ...META_B, adapter: { ...META.adapter, configHash: keccak256(toHex('another deployment')) } }, recordsB(), MARKETS_B)
    await carFile(join(tmp, 'config2.car'), otherConfig.snapshot, otherConfig.store)
    expectError(await runArk(['diff', carA, join(tmp, 'config2.car'), '--out', out, '--json']), 1, 'INVALID_INPUT', /different adapter configurations/)
    expectError(await runArk(['diff', dirA, join(tmp, 'nope'), '--out', out, '--json']), 1, 'IO', /nope.*ark fetch/)
    const empty = join(tmp, 'empty-dir')
    await mkdir(empty, { recursive: true })
    expectError(await runArk(['diff', dirA, empty, '--json']), 1, 'IO', /no snapshot\.car/)
    expectError(await runArk(['diff', dirA, '--json']), 2, 'USAGE')
    expectError(await runArk(['diff', dirA, dirB, '--format', 'xml', '--json']), 2, 'USAGE', /jsonl or csv/)
    await expect(listDir(join(tmp, 'diff-bad'))).rejects.toThrow(/ENOENT/)
  })
})

interface RiskDoc {
  version: number
  snapshot: { snapshot: string; block: string }
  inputs: { assetPrices: Record<string, unknown>; vol: number }
  accounts: { account: string; collateralValue: string; unrealizedPnl: string; equity: string; maintenanceRequirement: string; liquidatable: boolean; distanceToLiquidation: string; marginRatio: string | null; perps: { market: string; liquidationPrice: string | null }[]; options: { delta: number; positionDelta: number; value: number; vol: number }[] }[]
  markets: { market: string; longSize: string; shortSize: string; longOpenInterest: string; accounts: number; liquidatable: number; delta: number }[]
  totals: { accounts: number; withPerps: number; liquidatable: number; equity: string; negativeEquity: string }
}

describe('output for people (issue 18): tables on a terminal, exact integers when piped', () => {
  const pricing = ['--asset-price', `${USD}=par`, '--asset-price', `${WETH}=market:0`]

  it('ark diff: tables in token units (decimals from the market state), totals per asset and market, largest moves; piped: JSONL', async () => {
    const t = await runArk(['diff', dirA, dirB], { tty: true })
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).not.toContain('{')
    expect(t.stdout).toMatch(/moved per asset/)
    // 900e18 of an 18-decimal asset moved from the victim to the attacker: shown as 900 token units
    expect(t.stdout).toMatch(new RegExp(`${USD} \\(18 dec\\)\\s+0\\s+900\\s+900`))
    expect(t.stdout).toMatch(/moved per market/)
    expect(t.stdout).toMatch(new RegExp(`gained\\s+${ATTACKER}\\s+900\\n`))
    expect(t.stdout).toMatch(new RegExp(`lost\\s+${VICTIM}\\s+-900\\n`))
    expect(t.stdout).not.toContain((900n * E18).toString())
    const piped = await runArk(['diff', dirA, dirB])
    const rows = lines(piped.stdout)
    expect(rows.at(-1)!.summary).toBeDefined()
    expect(JSON.stringify(rows)).toContain((900n * E18).toString())
    // an explicit machine format wins on a terminal too
    expect((await runArk(['diff', dirA, dirB, '--format', 'jsonl'], { tty: true })).stdout).toBe(piped.stdout)
  })

  it('ark risk: totals and markets in quote units, accounts below maintenance margin flagged; piped: the JSON document', async () => {
    const t = await runArk(['risk', dirA, ...pricing], { tty: true })
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).not.toContain('{')
    expect(t.stdout).toMatch(/totals \(quote units, 18 decimals\)/)
    expect(t.stdout).toMatch(/per market/)
    const piped = await runArk(['risk', dirA, ...pricing])
    const doc = JSON.parse(piped.stdout) as RiskDoc
    const below = doc.accounts.filter((a) => a.liquidatable)
    expect(below.length).toBeGreaterThan(0)
    expect(t.stdout).toContain(`BELOW MAINTENANCE MARGIN: ${below.length} account(s)`)
    for (const a of below) expect(t.stdout).toContain(`! ${a.account}`)
    expect(t.stdout).toContain(`${doc.totals.accounts} accounts`)
  })

  it('under a real pseudo-terminal (script) the CLI prints tables; through a pipe it prints JSONL', { timeout: 60_000 }, async () => {
    const bin = join(import.meta.dirname, '../../node/cli/bin.js')
    const cmd = [process.execPath, bin, 'diff', dirA, dirB].map((x) => `'${x}'`).join(' ')
    const pty = await new Promise<string>((resolve, reject) => execFile('script', ['-qec', cmd, '/dev/null'], { maxBuffer: 1 << 24 }, (err, out) => (err === null ? resolve(out) : reject(err))))
    expect(pty).toMatch(/moved per asset/)
    expect(pty).not.toContain('"summary"')
    const piped = await new Promise<string>((resolve, reject) => execFile(process.execPath, [bin, 'diff', dirA, dirB], { maxBuffer: 1 << 24 }, (err, out) => (err === null ? resolve(out) : reject(err))))
    expect(lines(piped).at(-1)!.summary).toBeDefined()
  })
})

describe('ark risk', () => {
  const pricing = ['--asset-price', `${USD}=par`, '--asset-price', `${WETH}=market:0`]

  it('JSON: exact equity and requirements per account, liquidation prices, greeks, totals per market', async () => {
    const r = await runArk(['risk', dirA, ...pricing, '--vol-market', '0=0.7'])
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as RiskDoc
    expect(doc.version).toBe(1)
    expect(doc.inputs.assetPrices).toEqual({ [USD]: 'par', [WETH]: { market: '0' } })
    expect(doc.accounts.map((a) => a.account)).toEqual([QUIET, SHORT, VICTIM])
    const [quiet, short, victim] = doc.accounts
    // victim: 1000 + 1 WETH × 2000 × 0.8 = 2600 collateral, +100 PnL; maintenance 5 % of 2000
    expect(victim).toMatchObject({ collateralValue: (2_600n * E18).toString(), unrealizedPnl: (100n * E18).toString(), equity: (2_700n * E18).toString(), maintenanceRequirement: (100n * E18).toString(), liquidatable: false, distanceToLiquidation: (2_600n * E18).toString(), marginRatio: ((2_700n * E18 * E18) / (2_000n * E18)).toString() })
    // quiet: 5 USD, 2 ETH long at entry: equity 5 < maintenance 200: liquidatable, liquidation price above the mark
    expect(quiet).toMatchObject({ equity: (5n * E18).toString(), liquidatable: true })
    expect(BigInt(quiet!.perps[0]!.liquidationPrice!)).toBeGreaterThan(2_000n * E8)
    // short: 300 + 100 PnL = 400; liquidates when 300 − (P − 2100) < 0.05 P  ⇔  P > 2400/1.05
    expect(short!.equity).toBe((400n * E18).toString())
    expect(Number(short!.perps[0]!.liquidationPrice!) / 1e8).toBeCloseTo(2400 / 1.05, 6)
    expect(short!.options[0]!.vol).toBe(0.7)
    expect(short!.options[0]!.delta).toBeGreaterThan(0) // a call's delta, per unit
    expect(short!.options[0]!.positionDelta).toBeCloseTo(-2 * short!.options[0]!.delta, 12) // 2 written
    const m0 = doc.markets[0]!
    expect(m0).toMatchObject({ market: '0', longSize: (3n * E18).toString(), shortSize: E18.toString(), longOpenInterest: (3n * E18).toString(), accounts: 3, liquidatable: 1 })
    expect(m0.delta).toBe(short!.options[0]!.positionDelta)
    expect(doc.totals).toMatchObject({ accounts: 3, withPerps: 3, liquidatable: 1, equity: ((2_700n + 400n + 5n) * E18).toString(), negativeEquity: '0' })
    // the same from the CAR, deterministic
    expect((await runArk(['risk', carA, ...pricing, '--vol-market', '0=0.7'])).stdout).toBe(r.stdout)
  })

  it('CSV and --out: one table with account/perp/option/market/total rows; a summary on stdout', async () => {
    const out = join(tmp, 'risk-out', 'risk.csv')
    const r = await runArk(['risk', dirA, ...pricing, '--format', 'csv', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const rows = parseCsv(await readFile(out, 'utf8'))
    expect(rows[0]![0]).toBe('row')
    expect(rows.slice(1).map((x) => x[0])).toEqual(['account', 'perp', 'account', 'perp', 'option', 'account', 'perp', 'market', 'market', 'total'])
    const header = rows[0]!
    const victimRow = rows.find((x) => x[0] === 'account' && x[1] === VICTIM)!
    expect(victimRow[header.indexOf('equity')]).toBe((2_700n * E18).toString())
    expect(JSON.parse(r.stdout)).toMatchObject({ totals: { accounts: 3, liquidatable: 1 } })
  })

  it('record schema v2: no flags needed (pricing and lastFundingTime come from the snapshot), same numbers as v1 with flags; flags override', async () => {
    const ETH_FEED = `0x${'fe'.repeat(20)}`
    const v2: DerivativesMarketsV2 = {
      assets: [
        { ...assets[0]!, feed: `0x${'00'.repeat(20)}`, price: 0n, roundId: 0n, updatedAt: 0n, priceDecimals: 0n },
        { ...assets[1]!, feed: ETH_FEED, price: MARKETS_A.markets[0]!.price, roundId: 1n, updatedAt: T0, priceDecimals: 8n },
      ],
      markets: MARKETS_A.markets.map((m) => ({ ...m, feed: m.id === 0n ? ETH_FEED : `0x${'fb'.repeat(20)}`, lastFundingTime: T0 })),
    }
    const store = new MemoryBlockStore()
    const { snapshot } = await buildSnapshot({ schema: derivativesSchemaV2, meta: META, markets: v2, records: recordsA(), store })
    const car = join(tmp, 'v2.car')
    await carFile(car, snapshot, store)
    const r = await runArk(['risk', car, '--vol-market', '0=0.7'])
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as RiskDoc & { inputs: { sources: { assetPrices: Record<string, string>; fundingTimes: Record<string, string> } } }
    expect(doc.inputs.assetPrices).toEqual({ [USD]: 'par', [WETH]: { market: '0' } })
    expect(doc.inputs.sources).toEqual({ assetPrices: { [USD]: 'snapshot', [WETH]: 'snapshot' }, fundingTimes: { 0: 'snapshot', 1: 'snapshot' } })
    const v1 = JSON.parse((await runArk(['risk', carA, ...pricing, '--vol-market', '0=0.7'])).stdout) as RiskDoc
    expect(doc.accounts).toEqual(v1.accounts)
    expect(doc.markets).toEqual(v1.markets)
    expect(doc.totals).toEqual(v1.totals)
    // a flag overrides the snapshot's pricing for that asset only
    const o = JSON.parse((await runArk(['risk', car, '--asset-price', `${WETH}=100000000@8`])).stdout) as typeof doc
    expect(o.inputs.assetPrices[WETH]).toEqual({ price: '100000000', decimals: '8' })
    expect(o.inputs.sources.assetPrices).toEqual({ [USD]: 'snapshot', [WETH]: 'override' })
    expect(o.accounts.find((a) => a.account === VICTIM)!.collateralValue).toBe((1_000n * E18 + (8n * E18) / 10n).toString())
  })

  it('bad input: unpriced collateral, bad flags, wrong schema — exit 1/2 with what to do, no file', async () => {
    const out = join(tmp, 'risk-bad', 'r.json')
    const m = expectError(await runArk(['risk', dirA, '--out', out, '--json']), 1, 'INVALID_INPUT', /--asset-price/)
    expect(m).toContain(USD)
    expect(m).toContain(WETH)
    expectError(await runArk(['risk', dirA, '--asset-price', `${USD}=par`, '--out', out, '--json']), 1, 'INVALID_INPUT', new RegExp(WETH))
    expectError(await runArk(['risk', dirA, ...pricing, '--asset-price', `${USD}=gold`, '--json']), 2, 'USAGE', /ADDR=par/)
    expectError(await runArk(['risk', dirA, ...pricing, '--asset-price', `${WETH}=market:9`, '--out', out, '--json']), 1, 'INVALID_INPUT', /market 9/)
    expectError(await runArk(['risk', dirA, ...pricing, '--vol', '0', '--json']), 2, 'USAGE', /volatility/)
    expectError(await runArk(['risk', dirA, ...pricing, '--vol-market', '7=0.5', '--out', out, '--json']), 1, 'INVALID_INPUT', /market 7/)
    expectError(await runArk(['risk', dirA, ...pricing, '--funding-time', '0=later', '--json']), 2, 'USAGE')
    expectError(await runArk(['risk', join(tmp, 'nope'), '--json']), 1, 'IO')
    await expect(listDir(join(tmp, 'risk-bad'))).rejects.toThrow(/ENOENT/)
  })
})

describe('ark verify', () => {
  const trust = (): string[] => ['--trust', join(tmp, 'operators.json')]

  it('a fetched directory verifies: certificate, blocks, tree, stateRoot and the exported files', async () => {
    const r = await runArk(['verify', dirA, ...trust(), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const rep = JSON.parse(r.stdout) as Record<string, unknown>
    expect(rep).toMatchObject({ ok: true, snapshot: snapA.cid.toString(), certificate: encodeCertificate(certA).cid.toString(), block: '100', accounts: 3, weight: '6', threshold: '6', extraBlocks: 0 })
    expect(rep.checked).toEqual(['certificate', 'blocks', 'tree', 'accountCount', 'stateRoot', 'accounts.jsonl', 'markets.json', 'summary.json'])
    const human = await runArk(['verify', dirA, ...trust()])
    expect(human.stdout).toMatch(/^verified: snapshot of chain 31337 block 100/)
  })

  it('a plain CAR needs its certificate; a CAR rooted at the certificate carries it', async () => {
    expectError(await runArk(['verify', carA, ...trust(), '--json']), 2, 'USAGE', /--certificate/)
    const ok = await runArk(['verify', carA, ...trust(), '--certificate', join(dirA, 'certificate.json'), '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checked: ['certificate', 'blocks', 'tree', 'accountCount', 'stateRoot'] })
    // the gateway form: root = certificate block, then the snapshot DAG
    const certBlock = encodeCertificate(certA)
    const body = parseCar(await readFile(carA))
    const rooted = join(tmp, 'rooted.car')
    await writeFile(rooted, encodeCar([certBlock.cid], [certBlock, ...body.blocks]))
    const r = await runArk(['verify', rooted, ...trust(), '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ certificate: certBlock.cid.toString(), extraBlocks: 0 })
  })

  it('tampered files are named: a line of accounts.jsonl, markets.json, summary.json, a CAR block, the certificate', async () => {
    const run = (d: string, extra: string[] = trust()): Promise<CliRun> => runArk(['verify', d, ...extra, '--json'])
    // one amount in accounts.jsonl
    const acc = await copyDir('t-accounts')
    const text = await readFile(join(acc, 'accounts.jsonl'), 'utf8')
    const ls = text.split('\n')
    ls[2] = ls[2]!.replace((1_000n * E18).toString(), (1_000_000n * E18).toString())
    await writeFile(join(acc, 'accounts.jsonl'), ls.join('\n'))
    expectError(await run(acc), 1, 'INVALID_INPUT', new RegExp(`accounts\\.jsonl line 3 \\(account ${VICTIM}\\) differs from the snapshot: collateral\\[asset=${USD}\\]\\.amount is "${1_000_000n * E18}" in the file but "${1_000n * E18}" in the snapshot`))
    // a line removed, a line added
    const short = await copyDir('t-short')
    await writeFile(join(short, 'accounts.jsonl'), text.split('\n').filter((_, i) => i !== 1).join('\n'))
    expectError(await run(short), 1, 'INVALID_INPUT', /accounts\.jsonl line 2 is account .* but the snapshot's account 2 is/)
    const long = await copyDir('t-long')
    await writeFile(join(long, 'accounts.jsonl'), `${text}${text.split('\n')[0]}\n`)
    expectError(await run(long), 1, 'INVALID_INPUT', /accounts\.jsonl has more lines than the snapshot has accounts \(3\): line 4/)
    // markets.json: a price
    const mk = await copyDir('t-markets')
    const mj = JSON.parse(await readFile(join(mk, 'markets.json'), 'utf8')) as { markets: { price: string }[] }
    mj.markets[0]!.price = '1'
    await writeFile(join(mk, 'markets.json'), JSON.stringify(mj))
    expectError(await run(mk), 1, 'INVALID_INPUT', /markets\.json differs from the snapshot's market state: markets\[id=0\]\.price is "1" in the file/)
    // summary.json: the stateRoot
    const sm = await copyDir('t-summary')
    const sj = JSON.parse(await readFile(join(sm, 'summary.json'), 'utf8')) as { stateRoot: string }
    sj.stateRoot = keccak256(toHex('forged'))
    await writeFile(join(sm, 'summary.json'), JSON.stringify(sj))
    expectError(await run(sm), 1, 'INVALID_INPUT', /summary\.json says stateRoot/)
    // a byte of a CAR block
    const car = await copyDir('t-car')
    const bytes = Buffer.from(await readFile(join(car, 'snapshot.car')))
    const blocks = parseCar(bytes).blocks
    bytes[blocks[blocks.length - 1]!.dataOffset + 3]! ^= 0x01
    await writeFile(join(car, 'snapshot.car'), bytes)
    expectError(await run(car), 1, 'BLOCK_HASH_MISMATCH')
    // a signature in certificate.json: its CID no longer matches
    const sig = await copyDir('t-sig')
    const cj = JSON.parse(await readFile(join(sig, 'certificate.json'), 'utf8')) as { signatures: { signature: string }[] }
    cj.signatures[0]!.signature = `${cj.signatures[0]!.signature.slice(0, -4)}0000`
    await writeFile(join(sig, 'certificate.json'), JSON.stringify(cj))
    expectError(await run(sig), 1, 'INVALID_INPUT', /altered/)
    // a missing file
    const miss = await copyDir('t-missing')
    await rm(join(miss, 'markets.json'))
    expectError(await run(miss), 1, 'IO', /markets\.json is missing/)
  })

  it('the certificate is checked against the trust root: threshold and unknown signers', async () => {
    await writeFile(join(tmp, 'strict.json'), JSON.stringify({ operators: ops.map((o) => ({ address: o.address, weight: 1 })), threshold: 4 }))
    expectError(await runArk(['verify', dirA, '--trust', join(tmp, 'strict.json'), '--json']), 1, 'INVALID_INPUT', /below the threshold 4/)
    await writeFile(join(tmp, 'others.json'), JSON.stringify({ operators: [{ address: outsider.address, weight: 1 }] }))
    expectError(await runArk(['verify', dirA, '--trust', join(tmp, 'others.json'), '--json']), 1, 'INVALID_INPUT', /not in the operator set/)
    expectError(await runArk(['verify', dirA, '--json']), 2, 'USAGE', /trust root/)
    expectError(await runArk(['verify', join(tmp, 'nope'), ...trust(), '--json']), 1, 'IO', /ark fetch/)
    // a certificate of another snapshot next to this CAR
    const other = await buildTestSnapshot(META_B, recordsB(), MARKETS_B)
    const mixed = await copyDir('t-mixed')
    await writeFetchedDir(join(tmp, 'other'), other.snapshot, other.store, await certify(attestationBodyOf(other.snapshot), ops.slice(0, 3)))
    await cp(join(tmp, 'other', 'certificate.json'), join(mixed, 'certificate.json'))
    expectError(await runArk(['verify', mixed, ...trust(), '--json']), 1, 'INVALID_INPUT', /mixes two snapshots/)
  })
})
