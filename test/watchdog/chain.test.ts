import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeAlert, signAlert } from '../../protocol/alert.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { runWorkload } from '../../node/devnet/workload.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { deriveCheckpoint } from '../../snapshot/derive/derive.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { mineAfter, setPrice, standaloneWatchdog, watchdogOptions } from '../support/watchdog.ts'
import { OP, addr } from '../protocol/support.ts'
import { privateKeyToAccount } from 'viem/accounts'
import { CircuitBreaker } from '../../node/watchdog/breaker.ts'
import { toEventSelector } from 'viem'

let f: ChainFixture
let dir: string

beforeAll(async () => {
  f = await startChain()
  dir = await mkdtemp(join(tmpdir(), 'ark-watchdog-'))
}, 120_000)

afterAll(async () => {
  await f?.stop()
  await rm(dir, { recursive: true, force: true })
})

const kinds = (wd: { tracker: { active: Map<string, { kind: string }> } }): string[] => [...wd.tracker.active.values()].map((c) => c.kind).sort()
const ethFeed = (): Address => f.deployment.markets[0]!.feed.toLowerCase() as Address
const btcFeed = (): Address => f.deployment.markets[1]!.feed.toLowerCase() as Address

describe('watchdog monitors against a real chain', () => {
  it('oracle-stale: raised at the first block past the heartbeat (signed, claim verifiable), cleared by a fresh answer', { timeout: 60_000 }, async () => {
    const { wd, published } = standaloneWatchdog(f, watchdogOptions({ oracle: { heartbeatSec: 600 } }), join(dir, 'stale'))
    await setPrice(f, ethFeed(), 2000n * 10n ** 8n)
    await setPrice(f, btcFeed(), 60_000n * 10n ** 8n)
    await wd.poll()
    expect(kinds(wd)).toEqual([])
    await mineAfter(f, 300)
    await wd.poll()
    expect(kinds(wd)).toEqual([])
    await mineAfter(f, 301)
    const staleBlock = await blockNumber(f)
    await mineAfter(f, 5)
    await mineAfter(f, 5)
    await wd.poll()
    expect(kinds(wd)).toEqual(['oracle-stale', 'oracle-stale'])
    const eth = wd.tracker.active.get(`oracle-stale/${ethFeed()}`)!
    expect(eth.sinceBlock).toBe(staleBlock)
    expect(eth.signed).toBe(true)
    await new Promise((r) => setTimeout(r, 200))
    expect(published.length).toBe(2)
    const alert = decodeAlert(published.find((b) => decodeAlert(b).body.subject === ethFeed())!)
    const head = await blockNumber(f)
    expect(await wd.reader.checkClaim(alert, head)).toBe('true')
    // a false claim (the condition did not begin there) is provably false
    const early = await signAlert({ ...alert.body, sinceBlock: staleBlock - 1n }, addr(OP[0]!), (d) => OP[0]!.sign({ hash: d }))
    expect(await wd.reader.checkClaim(early, head)).toBe('false')
    const fresh = await signAlert({ ...alert.body, subject: '0x00000000000000000000000000000000000000ff' as Address }, addr(OP[0]!), (d) => OP[0]!.sign({ hash: d }))
    expect(await wd.reader.checkClaim(fresh, head)).toBe('false')
    await setPrice(f, ethFeed(), 2001n * 10n ** 8n)
    await wd.poll()
    expect(kinds(wd)).toEqual(['oracle-stale'])
    expect(wd.tracker.recent.map((c) => c.id)).toEqual([`oracle-stale/${ethFeed()}`])
    expect(wd.view()).toMatchObject({ active: [{ kind: 'oracle-stale', subject: btcFeed() }] })
  })

  it('oracle-deviation: a spike beyond the bound, beginning at the block that recorded it', { timeout: 60_000 }, async () => {
    const { wd } = standaloneWatchdog(f, watchdogOptions({ oracle: { heartbeatSec: 1_000_000, maxDeviationBps: 1000 } }), join(dir, 'spike'))
    await setPrice(f, ethFeed(), 2000n * 10n ** 8n)
    await wd.poll()
    expect(kinds(wd)).toEqual([])
    await setPrice(f, ethFeed(), 2199n * 10n ** 8n) // +9.95 %: within 10 %
    await wd.poll()
    expect(kinds(wd)).toEqual([])
    await setPrice(f, ethFeed(), 3000n * 10n ** 8n)
    const spike = await blockNumber(f)
    await mineAfter(f, 1)
    await wd.poll()
    expect(kinds(wd)).toEqual(['oracle-deviation'])
    expect(wd.tracker.active.get(`oracle-deviation/${ethFeed()}`)!.sinceBlock).toBe(spike)
    expect(wd.tracker.active.get(`oracle-deviation/${ethFeed()}`)!.values).toEqual([expect.any(BigInt), 2199n * 10n ** 8n, 3000n * 10n ** 8n, 3642n])
    await setPrice(f, ethFeed(), 3010n * 10n ** 8n)
    await wd.poll()
    expect(kinds(wd)).toEqual([])
  })

  it('chain-stall: mining stopped (automine off, no interval) is raised, and clears once a block arrives', { timeout: 60_000 }, async () => {
    const { wd } = standaloneWatchdog(f, watchdogOptions({ oracle: { heartbeatSec: 1_000_000 }, chain: { maxBlockGapMs: 400 } }), join(dir, 'stall'))
    await f.rpc('evm_setAutomine', [false])
    try {
      await wd.poll()
      expect(kinds(wd)).toEqual([])
      await new Promise((r) => setTimeout(r, 600))
      await wd.poll()
      expect(kinds(wd)).toEqual(['chain-stall'])
      expect(wd.tracker.active.get(`chain-stall/0x${'0'.repeat(40)}`)!.sinceBlock).toBe((await blockNumber(f)) + 1n)
      await f.rpc('evm_mine')
      await wd.poll()
      expect(kinds(wd)).toEqual([])
    } finally {
      await f.rpc('evm_setAutomine', [true])
    }
  })

  it('liquidation-backlog: accounts left below maintenance margin for more than N blocks', { timeout: 240_000 }, async () => {
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 11, traders: 30, steps: 150 })
    // crash both markets; no keeper runs afterwards
    await setPrice(f, ethFeed(), 600n * 10n ** 8n)
    await setPrice(f, btcFeed(), 18_000n * 10n ** 8n)
    const crash = await blockNumber(f)
    const target = await f.source().checkpointHeader(crash)
    const { checkpoint } = await deriveCheckpoint({ adapter: perpReferenceAdapter, config: f.config, source: f.source(), target, store: new MemoryBlockStore() })
    const records = (): Iterable<{ key: Uint8Array; record: AccountRecord }> => checkpoint.state.records() as Iterable<{ key: Uint8Array; record: AccountRecord }>
    const { wd } = standaloneWatchdog(f, watchdogOptions({ oracle: { heartbeatSec: 1_000_000, maxDeviationBps: 9000 }, engine: { backlogBlocks: 5 } }), join(dir, 'backlog'), { accounts: records })
    await wd.poll()
    await wd.settled()
    expect(kinds(wd)).toEqual([])
    for (let i = 0; i < 6; i++) await mineAfter(f, 1)
    await wd.poll()
    await wd.settled()
    expect(kinds(wd)).toEqual(['liquidation-backlog'])
    const c = [...wd.tracker.active.values()][0]!
    expect(c.sinceBlock === crash || c.sinceBlock === crash - 1n).toBe(true)
    expect(c.values[0]).toBeGreaterThan(0n)
    const alert = await signAlert({ chainId: 31337n, adapterId: 'perp-reference', configHash: `0x${'00'.repeat(32)}`, paramsHash: wd.paramsHash, kind: 'liquidation-backlog', subject: c.subject, sinceBlock: c.sinceBlock, block: c.block, values: [] }, addr(OP[0]!), (d) => OP[0]!.sign({ hash: d }))
    expect(await wd.reader.checkClaim(alert, await blockNumber(f))).toBe('true')
  })

  it('circuit breaker: pause() is sent once, and never again after a restart on the same data dir', { timeout: 60_000 }, async () => {
    // anvil's first dev account is the deployment's guardian
    const guardian = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    expect(guardian.address).toBe(f.deployment.guardian)
    const { wd } = standaloneWatchdog(f, watchdogOptions(), join(dir, 'breaker'))
    const pausedLogs = async (): Promise<number> => (await f.rpc<unknown[]>('eth_getLogs', [{ address: f.deployment.exchange, topics: [toEventSelector('Paused(address)')], fromBlock: '0x0', toBlock: 'latest' }])).length
    const before = await pausedLogs() // the workload pauses and unpauses once
    const make = (): CircuitBreaker => new CircuitBreaker({ account: guardian, exchange: f.deployment.exchange.toLowerCase() as Address, rpcUrl: f.anvil.rpcUrl, chainId: 31337n, stateFile: join(dir, 'breaker', 'breaker.json'), isPaused: async () => wd.reader.paused((await wd.reader.finalized()).hash) })
    const b1 = make()
    await b1.open()
    const [x, y] = await Promise.all([b1.trip('k1'), b1.trip('k2')])
    expect(x).toBe(y)
    expect(x.status).toBe('sent')
    const b2 = make()
    await b2.open()
    expect((await b2.trip('k3')).tx).toBe(x.tx)
    await f.rpc('evm_mine')
    expect(await wd.reader.paused((await wd.reader.finalized()).hash)).toBe(true)
    expect(await pausedLogs()).toBe(before + 1)
  })
})
