/**
 * Output for people and for programs (issue 18): each command that prints
 * amounts — `ark diff`, `ark risk`, `ark snapshot export`, `ark snapshot
 * inspect` — runs as a real process under a pseudo-terminal (util-linux
 * `script`) and through a pipe. On the terminal: tables in token units with
 * the asset's symbol (schema v3 stores it; older snapshots get it from the
 * token with --rpc); through the pipe: the exact-integer machine format.
 * The tokens are the reference venue's, on a real anvil.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeCar } from '../../snapshot/car/car.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { derivativesSchemaV2, ZERO_ADDRESS, type MarketStateV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { derivativesSchemaV3, type DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { buildSnapshot, type RecordInput } from '../../snapshot/state/build.ts'
import type { RecordSchema } from '../../snapshot/schema/types.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { assetLabel } from '../../node/cli/recovery/tables.ts'
import { startChain, type ChainFixture } from '../support/chain.ts'
import { REPO } from './helpers.ts'

const BIN = join(REPO, 'node', 'cli', 'bin.js')
const E18 = 10n ** 18n
const E8 = 10n ** 8n
const VICTIM = `0x${'0a'.repeat(20)}`
const ATTACKER = `0x${'ee'.repeat(20)}`
const QUIET = `0x${'03'.repeat(20)}`

let f: ChainFixture
let tmp: string
const car = (name: string): string => join(tmp, name)

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 1 << 24, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr }))
  })
}
/** `ark ARGS` under a pseudo-terminal (stdout a tty); the terminal's \r\n made \n. */
async function onTerminal(args: string[]): Promise<string> {
  const cmd = [process.execPath, BIN, ...args].map((x) => `'${x}'`).join(' ')
  const r = await run('script', ['-qec', cmd, '/dev/null'])
  expect(r.code, r.stdout).toBe(0)
  return r.stdout.replace(/\r\n/g, '\n')
}
/** `ark ARGS` with stdout a pipe. */
async function piped(args: string[]): Promise<string> {
  const r = await run(process.execPath, [BIN, ...args])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout
}
const jsonLines = (s: string): Record<string, unknown>[] => s.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)

async function writeSnapshot<M>(name: string, schema: RecordSchema<AccountRecord, M>, markets: M, records: RecordInput<AccountRecord>[], block: { number: bigint; hash: string; timestamp: bigint }): Promise<void> {
  const store = new MemoryBlockStore()
  const meta = { block: { chainId: 31337n, ...block }, adapter: { id: 'perp-reference', version: String(schema.version), configHash: `0x${'22'.repeat(32)}` } }
  const { snapshot } = await buildSnapshot({ schema, meta, markets, records, store })
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
  await writeFile(car(name), Buffer.concat(chunks))
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ark-output-tty-'))
  f = await startChain()
  const head = await f.rpc<{ number: string; hash: string; timestamp: string }>('eth_getBlockByNumber', ['latest', false])
  const block = { number: BigInt(head.number), hash: head.hash, timestamp: BigInt(head.timestamp) }
  const [usdx, weth] = f.deployment.assets
  const market = (id: number, price: bigint): MarketStateV2 => ({ id: BigInt(id), feed: f.deployment.markets[id]!.feed.toLowerCase(), price, roundId: 1n, updatedAt: block.timestamp, priceDecimals: 8n, longOpenInterest: 3n * E18, shortOpenInterest: 0n, fundingIndex: 0n, fundingRate: 0n, lastFundingTime: block.timestamp, initialMarginRatio: E18 / 10n, maintenanceMarginRatio: E18 / 20n, liquidationFee: E18 / 100n })
  const markets: DerivativesMarketsV3 = {
    assets: [
      { asset: usdx!.token.toLowerCase(), haircutBps: 10_000n, decimals: 18n, symbol: 'USDX', feed: ZERO_ADDRESS, price: 0n, roundId: 0n, updatedAt: 0n, priceDecimals: 0n },
      { asset: weth!.token.toLowerCase(), haircutBps: 8_000n, decimals: 18n, symbol: 'WETH', feed: f.deployment.markets[0]!.feed.toLowerCase(), price: 2_000n * E8, roundId: 1n, updatedAt: block.timestamp, priceDecimals: 8n },
    ],
    markets: [market(0, 2_000n * E8)],
  }
  const USD = markets.assets[0]!.asset
  const a: RecordInput<AccountRecord>[] = [
    { key: VICTIM, record: { collateral: [{ asset: USD, amount: 1_000n * E18 }], perps: [], options: [] } },
    // 5 USDX against a 3 ETH long: below maintenance margin
    { key: QUIET, record: { collateral: [{ asset: USD, amount: 5n * E18 }], perps: [{ market: 0n, size: 3n * E18, entryPrice: 2_000n * E8, fundingIndex: 0n }], options: [] } },
  ]
  const b: RecordInput<AccountRecord>[] = [
    { key: VICTIM, record: { collateral: [{ asset: USD, amount: 99_5n * E18 / 10n }], perps: [], options: [] } },
    { key: QUIET, record: { ...a[1]!.record, collateral: [{ asset: USD, amount: 4n * E18 }] } },
    { key: ATTACKER, record: { collateral: [{ asset: USD, amount: 900_5n * E18 / 10n }], perps: [], options: [] } },
  ]
  await writeSnapshot('a.car', derivativesSchemaV3, markets, a, block)
  await writeSnapshot('b.car', derivativesSchemaV3, markets, b, block)
  // the same state as schema v2 (before symbols were stored)
  const v2 = { assets: markets.assets.map(({ symbol, ...rest }) => (void symbol, rest)), markets: markets.markets }
  await writeSnapshot('v2.car', derivativesSchemaV2, v2, a, block)
}, 120_000)

afterAll(async () => {
  await f?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('output for people on a terminal, exact integers through a pipe', () => {
  it('ark diff: totals moved per asset in token units with the symbol, largest gainers and losers; piped: JSONL', { timeout: 60_000 }, async () => {
    const [t, p] = await Promise.all([onTerminal(['diff', car('a.car'), car('b.car')]), piped(['diff', car('a.car'), car('b.car')])])
    expect(t).not.toContain('{')
    expect(t).toMatch(/moved per asset\n/)
    // 900.5e18 moved from the victim to the attacker (900.5 USDX), 1 USDX left the account below maintenance
    expect(t).toMatch(/USDX 0x[0-9a-f]{40}\s+-1\s+900\.5\s+901\.5\n/)
    expect(t).toMatch(new RegExp(`largest moves of USDX 0x[0-9a-f]{40}\\n[^]*gained\\s+${ATTACKER}\\s+900\\.5\\nlost\\s+${VICTIM}\\s+-900\\.5\\nlost\\s+! ${QUIET}\\s+-1\\n`))
    expect(t).toContain('! below maintenance margin at block')
    const rows = jsonLines(p)
    expect(rows.at(-1)!.summary).toMatchObject({ changed: 2, added: 1 })
    expect(p).toContain((9005n * E18 / 10n).toString())
    expect(p).not.toContain('USDX')
  })

  it('ark risk: totals in quote units named by symbol, accounts below maintenance margin flagged; piped: the JSON document', { timeout: 60_000 }, async () => {
    const [t, p] = await Promise.all([onTerminal(['risk', car('a.car')]), piped(['risk', car('a.car')])])
    expect(t).toMatch(/totals \(quote units, USDX, 18 decimals\)/)
    expect(t).toContain('BELOW MAINTENANCE MARGIN: 1 account(s)')
    expect(t).toContain(`! ${QUIET}`)
    const doc = JSON.parse(p) as { accounts: { account: string; liquidatable: boolean; equity: string }[] }
    expect(doc.accounts.find((x) => x.account === QUIET)).toMatchObject({ liquidatable: true, equity: (5n * E18).toString() })
  })

  it('ark snapshot export: a summary (accounts, totals per asset and market, largest holders, flags); piped: every account as JSONL, or CSV', { timeout: 60_000 }, async () => {
    const [t, p, csv] = await Promise.all([onTerminal(['snapshot', 'export', car('b.car')]), piped(['snapshot', 'export', car('b.car')]), onTerminal(['snapshot', 'export', car('b.car'), '--format', 'csv'])])
    expect(t).toMatch(/: 3 accounts\n/)
    expect(t).toMatch(/totals per asset\n[^]*USDX 0x[0-9a-f]{40}\s+1_004\s+3\n/)
    expect(t).toMatch(/positions per market[^]*\n\s*0\s+3\s+0\s+0\s+0\n/)
    expect(t).toMatch(new RegExp(`largest holders of USDX[^]*\\n${ATTACKER}\\s+900\\.5\\n${VICTIM}\\s+99\\.5\\n! ${QUIET}\\s+4\\n`))
    expect(t).toContain('BELOW MAINTENANCE MARGIN (!): 1 account(s)')
    expect(jsonLines(p).map((r) => r.account)).toEqual([QUIET, VICTIM, ATTACKER])
    // an explicit machine format wins on a terminal too
    expect(csv.split('\n')[0]).toMatch(/^account,kind,asset/)
  })

  it('ark snapshot inspect: on a terminal the assets (symbol, decimals) and markets; piped: the stable key lines, --json one object', { timeout: 60_000 }, async () => {
    const [t, p, j] = await Promise.all([onTerminal(['snapshot', 'inspect', car('a.car')]), piped(['snapshot', 'inspect', car('a.car')]), piped(['snapshot', 'inspect', car('a.car'), '--json'])])
    expect(t).toMatch(/collateral assets\n[^]*0x[0-9a-f]{40}\s+USDX\s+18\s+100 %\s+par\n/)
    expect(t).toMatch(/markets \(open interest in 1e18 units\)\n[^]*\n\s*0\s+2_000\s+3\s+0\s+5 %\n/)
    expect(p).toMatch(/^snapshot /)
    expect(p).not.toContain('collateral assets')
    expect(JSON.parse(j)).toMatchObject({ schema: { version: 3 }, assets: 2, markets: 1 })
  })

  it('an older snapshot (schema v2, no symbols): decimals from its market state; --rpc reads the symbols from the tokens at its block', { timeout: 60_000 }, async () => {
    const [plain, withRpc] = await Promise.all([onTerminal(['snapshot', 'export', car('v2.car')]), onTerminal(['snapshot', 'export', car('v2.car'), '--rpc', f.anvil.rpcUrl])])
    expect(plain).toMatch(/totals per asset\n[^]*0x[0-9a-f]{40} \(18 dec\)\s+1_005\s+2\n/)
    expect(plain).not.toContain('USDX')
    expect(withRpc).toMatch(/totals per asset\n[^]*USDX 0x[0-9a-f]{40}\s+1_005\s+2\n/)
    // an unreachable RPC: the amounts stay labelled by decimals, the reason goes to stderr, the command succeeds
    const down = await onTerminal(['snapshot', 'export', car('v2.car'), '--rpc', 'http://127.0.0.1:9'])
    expect(down).toMatch(/note: --rpc: token labels not read/)
    expect(down).toMatch(/\(18 dec\)\s+1_005/)
  })

  it('labels: symbol when known, decimals when only they are, "(raw)" when amounts stay integers', () => {
    const a = `0x${'ab'.repeat(20)}`
    expect(assetLabel(a, new Map([[a, { address: a, decimals: 6n, symbol: 'USDC' }]]))).toBe(`USDC ${a}`)
    expect(assetLabel(a, new Map([[a, { address: a, decimals: 6n }]]))).toBe(`${a} (6 dec)`)
    expect(assetLabel(a, new Map())).toBe(`${a} (raw)`)
    expect(assetLabel('token', new Map([['token', { address: a, symbol: 'ARK' }]]))).toBe(`ARK token ${a} (raw)`)
  })
})
