import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFunctionData, parseAbi, toEventSelector, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { CID } from 'multiformats/cid'
import { conditionKey, encodeAlert, signAlert } from '../../protocol/alert.ts'
import { decodeEmergency, verifyEmergency } from '../../protocol/emergency.ts'
import { decodeCertificate } from '../../protocol/certificate.ts'
import type { Address } from '../../protocol/operator-set.ts'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { paramsHash } from '../../node/watchdog/options.ts'
import { SIGNATURE_HEADER, verifyWebhook } from '../../node/watchdog/webhook.ts'
import { MAX_OPEN_PER_SIGNER } from '../../node/watchdog/alert-pool.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { operatorKey, startNode, until, writeClusterConfigs } from '../support/archive-cluster.ts'
import { floodAlerts, mineAfter, setPrice, watchdogOptions } from '../support/watchdog.ts'

const SECRET = 'watchdog-test-webhook-secret'
const GUARDIAN_KEY = `0x${'7a'.repeat(32)}` as Hex
const HEARTBEAT = 120
let f: ChainFixture
let dir: string
const nodes: ArchiveNode[] = []
const hooks: { event: string; operator: string; body: Record<string, unknown>; valid: boolean }[] = []
let server: ReturnType<typeof createServer>
let keepAlive: Promise<void> | undefined
let stopKeepAlive = new AbortController()

/** Keep feeds fresh and blocks coming (each price update mines one block). */
async function freshPrices(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await setPrice(f, f.deployment.markets[0]!.feed, 2000n * 10n ** 8n).catch(() => {})
    await setPrice(f, f.deployment.markets[1]!.feed, 60_000n * 10n ** 8n).catch(() => {})
    await new Promise((r) => setTimeout(r, 250))
  }
}

const pausedTopic = toEventSelector('Paused(address)')
const pauses = async (): Promise<number> => (await f.rpc<unknown[]>('eth_getLogs', [{ address: f.deployment.exchange, topics: [pausedTopic], fromBlock: '0x0', toBlock: 'latest' }])).length
const emergencies = (n: ArchiveNode): string[] => n.certificates.list().filter((s) => s.certificate.body.kind === 1).map((s) => `${s.certificate.body.blockNumber}:${s.cid}`)

beforeAll(async () => {
  f = await startChain()
  dir = await mkdtemp(join(tmpdir(), 'ark-watchdog-net-'))
  server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8')
      const body = JSON.parse(text) as Record<string, unknown>
      hooks.push({ event: String(body.event), operator: String(body.operator), body, valid: verifyWebhook(SECRET, req.headers[SIGNATURE_HEADER] as string, text) })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ark`
  // the guardian: a fresh key, set on the exchange by its owner
  const guardian = privateKeyToAccount(GUARDIAN_KEY).address
  await f.rpc('anvil_setBalance', [guardian, '0x56bc75e2d63100000'])
  await f.rpc('eth_sendTransaction', [{ from: f.deployment.owner, to: f.deployment.exchange, data: encodeFunctionData({ abi: parseAbi(['function setGuardian(address)']), functionName: 'setGuardian', args: [guardian] }), gas: '0x30000' }])
  await writeFile(join(dir, 'guardian.key'), GUARDIAN_KEY, { mode: 0o600 })
  await chmod(join(dir, 'guardian.key'), 0o600)

  const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: await blockNumber(f), interval: 4, quorumTimeoutMs: 20_000 })
  const opts = watchdogOptions({ pollMs: 150, oracle: { heartbeatSec: HEARTBEAT }, chain: { maxBlockGapMs: 3_600_000 }, emergency: { cooldownBlocks: 50 }, webhooks: [{ url: hookUrl, secret: SECRET }], webhook: { backoffMs: 50 } })
  stopKeepAlive = new AbortController()
  keepAlive = freshPrices(stopKeepAlive.signal)
  for (let i = 0; i < 4; i++) {
    configs[i]!.watchdog = { options: i === 0 ? { ...opts, breaker: { key: { devPrivateKeyFile: join(dir, 'guardian.key') } } } : opts, secretFiles: [] }
    if (i > 0) configs[i]!.p2p.bootstrap = nodes[0]!.network.multiaddrs().map(String)
    nodes.push(await startNode(configs[i]!))
  }
  await until('every node past its quiet period (a certificate it signed)', () => nodes.every((n) => n.certificates.list().some((c) => c.certificate.signatures.some((s) => s.signer === n.operator))), 180_000)
}, 300_000)

afterAll(async () => {
  stopKeepAlive.abort()
  await keepAlive
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  await new Promise((r) => server?.close(() => r(undefined)))
  await f?.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('watchdog on a 4-node network', () => {
  // Issue 10 item 3: while one operator floods the alert topic, honest conditions still certify and pause.
  // Fails on the code before this change (run against it): every flood alert was signature-checked, accepted
  // and forwarded (no per-signer budget, no per-signer cap), so the rogue's peer never ignores one
  // (RATE_LIMITED stays 0; 'the flood validated by the rogue's peer' times out) and every pool takes all 1,100
  // keys. At this paced rate the old pool's 1,024-key FIFO did not evict the honest key before its certificate
  // in our run (that is a race the attacker times); the deterministic eviction case is in
  // test/watchdog/alert-pool.test.ts. The flood starts once the condition is raised, as an attacker watching
  // the alert topic would.
  it('while a byzantine operator floods distinct alerts, a real stale feed still gets its emergency certificate and record on every honest node, and the single pause', { timeout: 480_000 }, async () => {
    const FLOOD = 1_100
    const rogue = nodes[3]!
    // the rogue may cut itself off (gossipsub aborts a stream whose write buffer overflows): what must hold is on the honest nodes
    const honest = nodes.slice(0, 3)
    const rogueAddress = privateKeyToAccount(operatorKey(3)).address
    stopKeepAlive.abort()
    await keepAlive
    const H = await blockNumber(f)
    // conditions about blocks not final yet: accepted without a claim check (no reject, so no score loss that would cut the flood)
    const flood = await floodAlerts({ count: FLOOD, key: operatorKey(3), configHash: rogue.validatorContext().configHash as Hex, paramsHash: paramsHash(rogue.watchdog!.options), fromBlock: H + 3n, spread: 60n })
    let sent = 0
    const feed = f.deployment.markets[0]!.feed.toLowerCase()
    await mineAfter(f, HEARTBEAT + 5)
    const S = await blockNumber(f)
    await until('oracle-stale raised on a node', () => nodes.some((n) => n.watchdog!.tracker.active.get(`oracle-stale/${feed}`)?.sinceBlock === S), 60_000)
    const flooding = (async () => {
      for (const bytes of flood) {
        await rogue.network.publish('alert', bytes).catch(() => undefined)
        // ~200 alerts/s: faster bursts through one connection stall gossip for every node of this in-process
        // cluster (a p2p-layer limit, reported separately), which is not what this case measures
        if (++sent % 10 === 0) await new Promise((r) => setTimeout(r, 50))
      }
    })()
    try {
      await until('oracle-stale raised on every honest node', () => honest.every((n) => n.watchdog!.tracker.active.get(`oracle-stale/${feed}`)?.sinceBlock === S), 60_000)
      await until('the emergency certificate on every honest node', () => honest.every((n) => n.certificates.get(S - 1n, 1) !== undefined), 300_000)
      await until('the emergency record on every honest node', () => honest.every((n) => [...n.watchdog!.book.entries.values()].some((e) => e.status === 'certified' && e.subject === feed && e.block === S - 1n && e.record !== undefined)), 120_000)
      await until('the exchange paused', async () => (await pauses()) === 1, 60_000)
    } finally {
      await flooding
    }
    // the rogue's direct peer validated the whole flood and ignored what exceeded the signer's budget (not forwarded, no score)
    const seen = (n: ArchiveNode): number => n.network.metrics.get('alert', 'accept') + n.network.metrics.get('alert', 'ignore', 'RATE_LIMITED')
    await until('the flood validated by the rogue’s peer', () => seen(nodes[0]!) >= FLOOD, 240_000)
    expect(nodes[0]!.network.metrics.get('alert', 'ignore', 'RATE_LIMITED')).toBeGreaterThan(FLOOD / 2)
    for (const n of honest) {
      expect(n.watchdog!.pool.openCount(rogueAddress)).toBeLessThanOrEqual(MAX_OPEN_PER_SIGNER)
      expect(n.watchdog!.pool.size).toBeLessThanOrEqual(MAX_OPEN_PER_SIGNER + 16)
      expect(n.network.peerScore(rogue.network.peerId)).toBeGreaterThanOrEqual(0)
    }
    expect(await pauses()).toBe(1)
    expect(JSON.parse(await readFile(join(nodes[0]!.config.dataDir, 'breaker.json'), 'utf8')).status).toBe('sent')
    // fresh feeds, then past the cooldown (50 blocks) so the next case's stale feed is a new emergency
    await setPrice(f, f.deployment.markets[0]!.feed, 2000n * 10n ** 8n)
    await setPrice(f, f.deployment.markets[1]!.feed, 60_000n * 10n ** 8n)
    await until('oracle-stale cleared on every node', () => nodes.every((n) => ![...n.watchdog!.tracker.active.keys()].some((k) => k.startsWith('oracle-stale/'))), 60_000)
    await f.rpc('anvil_mine', ['0x3c', '0x1'])
    // nothing of the flood left in flight before the next cases count accepted alerts
    let last = { count: -1, at: Date.now() }
    await until('alert gossip quiet for 2 s', () => {
      const count = nodes.reduce((t, n) => t + seen(n), 0)
      if (count !== last.count) last = { count, at: Date.now() }
      return Date.now() - last.at >= 2_000
    }, 120_000)
    // the later case has the rogue send a few false alerts: its budget (30 a minute) must have refilled that far
    await until('the rogue’s alert budget refilled', () => honest.every((n) => n.watchdog!.alertBudget.tokens(rogueAddress) >= 8), 60_000)
  })

  it('a price feed stops updating: every node raises oracle-stale, the emergency certificate for sinceBlock − 1 forms everywhere, webhooks arrive signed, pause is sent once; when it clears, alerts resolve and nothing more is certified', { timeout: 240_000 }, async () => {
    stopKeepAlive.abort()
    await keepAlive
    // the heartbeat is exceeded in exactly one block: S
    await mineAfter(f, HEARTBEAT + 5)
    const S = await blockNumber(f)
    const eth = f.deployment.markets[0]!.feed.toLowerCase()
    await until('oracle-stale raised on every node', () => nodes.every((n) => n.watchdog!.tracker.active.get(`oracle-stale/${eth}`)?.sinceBlock === S), 60_000)
    await until('the emergency certificate on every node', () => nodes.every((n) => n.certificates.get(S - 1n, 1) !== undefined), 120_000)
    const cids = new Set(nodes.map((n) => n.certificates.get(S - 1n, 1)!.cid.toString()))
    await until('one certificate CID everywhere (union of signatures)', () => new Set(nodes.map((n) => n.certificates.get(S - 1n, 1)!.cid.toString())).size === 1, 30_000).catch(() => undefined)
    expect(cids.size).toBeGreaterThanOrEqual(1)
    for (const n of nodes) {
      const cert = n.certificates.get(S - 1n, 1)!
      expect(cert.certificate.body.kind).toBe(1)
      expect(cert.certificate.signatures.length).toBeGreaterThanOrEqual(3)
      // the emergency record links the condition's alerts and this certificate, and verifies
      await until('the emergency record', () => [...n.watchdog!.book.entries.values()].some((e) => e.status === 'certified' && e.block === S - 1n && e.record !== undefined), 30_000)
      const entry = [...n.watchdog!.book.entries.values()].find((e) => e.status === 'certified' && e.subject === eth && e.block === S - 1n)!
      expect(entry.block).toBe(S - 1n)
      const record = decodeEmergency((await n.store.get(CID.parse(entry.record!)))!)
      // the record links the certificate CID it was built with (a later, extended certificate rebuilds it): fetch that block
      const linked = decodeCertificate((await n.store.get(record.certificate))!)
      await expect(verifyEmergency(record, linked, record.certificate, n.operatorSet)).resolves.toMatchObject({ conditionKey: entry.conditionKey })
      expect(conditionKey(record.alerts[0]!.body)).toBe(entry.conditionKey)
    }
    // webhooks: every node delivered raised + certified, all with a valid signature
    await until('emergency.certified webhooks from every node', () => nodes.every((n) => hooks.some((h) => h.event === 'emergency.certified' && h.operator === n.operator)), 30_000)
    expect(hooks.every((h) => h.valid)).toBe(true)
    expect(hooks.some((h) => h.event === 'alert.raised')).toBe(true)
    // the breaker (node 0 only) paused the exchange exactly once
    await until('the exchange paused', async () => (await pauses()) === 1, 30_000)
    const state = JSON.parse(await readFile(join(nodes[0]!.config.dataDir, 'breaker.json'), 'utf8')) as { status: string }
    expect(state.status).toBe('sent')
    await until('breaker.paused webhook', () => hooks.some((h) => h.event === 'breaker.paused'), 30_000)
    // HTTP and metrics
    const api = (await (await fetch(`${nodes[1]!.httpUrl}/v1/alerts`)).json()) as { active: { kind: string }[]; emergencies: { status: string }[] }
    expect(api.active.map((a) => a.kind)).toContain('oracle-stale')
    expect(api.emergencies.some((e) => e.status === 'certified')).toBe(true)
    const metrics = await (await fetch(`${nodes[1]!.httpUrl}/metrics`)).text()
    expect(metrics).toContain(`ark_watchdog_condition_active{kind="oracle-stale",subject="${eth}"} 1`)
    expect(metrics).toMatch(/ark_gossip_messages_total\{kind="alert",action="accept",code="OK"\} [1-9]/)
    const cp = (await (await fetch(`${nodes[2]!.httpUrl}/v1/checkpoints?from=${S - 1n}&to=${S - 1n}`)).json()) as { checkpoints: { kind: string }[] }
    expect(cp.checkpoints.map((c) => c.kind)).toContain('emergency')

    // the condition clears: fresh answers on both feeds
    const before = nodes.map(emergencies)
    await setPrice(f, f.deployment.markets[0]!.feed, 2000n * 10n ** 8n)
    await setPrice(f, f.deployment.markets[1]!.feed, 60_000n * 10n ** 8n)
    await until('oracle-stale cleared on every node', () => nodes.every((n) => ![...n.watchdog!.tracker.active.keys()].some((k) => k.startsWith('oracle-stale/'))), 60_000)
    await until('alert.cleared webhooks', () => hooks.some((h) => h.event === 'alert.cleared' && (h.body.condition as { kind: string }).kind === 'oracle-stale'), 30_000)
    for (let i = 0; i < 8; i++) await mineAfter(f, 2)
    await new Promise((r) => setTimeout(r, 1500))
    expect(nodes.map(emergencies)).toEqual(before)
    expect(await pauses()).toBe(1)
    for (const n of nodes) expect(n.fatal).toBeUndefined()
  })
  it('a byzantine operator raising false alerts: rejected (FALSE_ALERT), loses peer score; no emergency checkpoint, no further pause', { timeout: 120_000 }, async () => {
    const [n0, , , rogue] = nodes as [ArchiveNode, ArchiveNode, ArchiveNode, ArchiveNode]
    const before = nodes.map(emergencies)
    const keysBefore = nodes.map((n) => n.watchdog!.conditionKeys().length)
    const acceptedBefore = nodes.map((n) => n.network.metrics.get('alert', 'accept'))
    const key = privateKeyToAccount(operatorKey(3))
    const ctx = rogue.validatorContext()
    const head = await blockNumber(f)
    for (let i = 0n; i < 6n; i++) {
      const a = await signAlert({ chainId: 31337n, adapterId: 'perp-reference', configHash: ctx.configHash as Hex, paramsHash: paramsHash(rogue.watchdog!.options), kind: 'oracle-stale', subject: f.deployment.markets[0]!.feed.toLowerCase() as Address, sinceBlock: head - 1n - i, block: head, values: [] }, key.address.toLowerCase() as Address, (d) => key.sign({ hash: d }))
      await rogue.network.publish('alert', encodeAlert(a))
    }
    // rejected messages are not forwarded: the rogue's direct peers see them
    await until('false alerts rejected', () => n0.network.metrics.get('alert', 'reject', 'FALSE_ALERT') >= 3, 30_000)
    await until('the rogue node to score below zero', () => n0.network.peerScore(rogue.network.peerId) < 0, 30_000)
    await new Promise((r) => setTimeout(r, 1000))
    nodes.slice(0, 3).forEach((n, i) => {
      expect(n.network.metrics.get('alert', 'accept')).toBe(acceptedBefore[i])
      expect(n.watchdog!.conditionKeys().length).toBe(keysBefore[i])
    })
    expect(nodes.map(emergencies)).toEqual(before)
    expect(await pauses()).toBe(1)
    expect(JSON.parse(await readFile(join(nodes[0]!.config.dataDir, 'breaker.json'), 'utf8')).status).toBe('sent')
  })

})
