/**
 * `ark mirror` follows certificates over gossip (issue 18): with a poll
 * interval of 10 minutes, a certificate an archive node gossips on the
 * certificate topic makes the mirror fetch and verify the new checkpoint at
 * once; the gossip client is one long-lived libp2p client (not one per
 * poll). The certificate bytes are only a hint: the mirror locates and
 * verifies through its sources as always.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { topicName } from '../../protocol/gossip/topics.ts'
import { applyChanges } from '../../snapshot/state/build.ts'
import { synthChanges, synthMarkets, synthMeta } from '../../snapshot/synth/synth.ts'
import { createHttpApi, type NodeView } from '../../node/http/server.ts'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { runMirror, type MirroredCheckpoint } from '../../node/recovery/mirror.ts'
import { readLatest } from '../../node/recovery/mirror-dir.ts'
import { fileTrust } from '../../node/recovery/trust.ts'
import { addr, OP } from '../protocol/support.ts'
import { certifiedSnapshot, certifySnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import type { CheckpointView } from '../../node/http/server.ts'

let dir: string
let older: Certified
let newer: Certified
let node: ServingNode
let api: { start(): Promise<{ url: string }>; stop(): Promise<void> }
let url: string
/** what the HTTP API lists: the newer checkpoint is added when the test gossips it */
const cps: CheckpointView[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-mirror-gossip-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
  const opts = { accounts: 1000, seed: 'mirror-gossip' }
  older = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 0) })
  newer = await certifySnapshot((await applyChanges(older.snapshot, synthChanges(opts, 0.01, 1) as never, { meta: synthMeta(opts, 1), markets: synthMarkets(opts) })).snapshot, older.store)
  older.store.put(older.certificateBlock)
  older.store.put(newer.certificateBlock)
  cps.push(older.checkpoint)
  // the gossiping archive node (libp2p + gossipsub); the blocks come from an HTTP API whose listing the test controls
  node = await startServingNode(join(dir, 'node'), [older])
  const view: NodeView = { status: () => ({}), checkpoints: () => cps, checkpoint: (b) => (b === 'latest' ? cps.at(-1) : cps.find((c) => BigInt(c.block) === b)), evidence: () => [], blocks: older.store, metrics: () => '', health: () => ({ ok: true, reasons: [] }) }
  api = createHttpApi({ view, logger: pino({ level: 'silent' }) })
  url = (await api.start()).url
}, 120_000)

afterAll(async () => {
  await api?.stop().catch(() => {})
  await node?.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('ark mirror over gossip', () => {
  it('fetches a gossiped certificate at once, without waiting for the 10-minute poll', { timeout: 90_000 }, async () => {
    const trust = await fileTrust(join(dir, 'operators.json'))
    const events: MirroredCheckpoint[] = []
    const notices: string[] = []
    const stop = new AbortController()
    let rounds = 0
    const mirrorDir = join(dir, 'mirror')
    const running = runMirror({
      sources: () => {
        rounds++
        return [gatewaySource(url)]
      },
      gossipPeers: [node.multiaddr],
      chainId: 31337n,
      adapterId: 'synth',
      trust,
      dir: mirrorDir,
      pollMs: 600_000,
      stallMs: 10_000,
      signal: stop.signal,
      onCheckpoint: (e) => events.push(e),
      onNotice: (m) => notices.push(m),
    })
    try {
      const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
        const end = Date.now() + ms
        while (!(await ok())) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; notices: ${notices.join(' | ')}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      await until('the first checkpoint', () => events.length === 1)
      // the node sees the mirror's subscription to the certificate topic
      const topic = topicName('certificate', 31337n, 'synth')
      await until('the subscription', () => node.network.libp2p.services.pubsub.getSubscribers(topic).length > 0)
      // the idle round after the first checkpoint has begun: from here on only gossip (or the 10-minute poll) starts one
      await until('the idle round', () => rounds >= 2)
      const roundsBefore = rounds
      cps.push(newer.checkpoint)
      const t0 = Date.now()
      await node.network.publish('certificate', newer.certificateBlock.bytes)
      await until('the gossiped checkpoint', () => events.length === 2, 20_000)
      // started by the gossip, long before the poll interval: the round that fetched it and the check after it (a mirror looks again at once after a success)
      expect(Date.now() - t0).toBeLessThan(20_000)
      expect(rounds - roundsBefore).toBeLessThanOrEqual(2)
      expect(events[1]!.block).toBe(newer.certificate.body.blockNumber)
      expect(events[1]!.downloaded.blocks).toBeGreaterThan(0)
      expect(await readLatest(mirrorDir)).toBe(newer.certificate.body.blockNumber.toString())
    } finally {
      stop.abort()
      await running
    }
  })
})
