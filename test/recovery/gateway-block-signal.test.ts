/**
 * An incremental fetch asks a gateway for thousands of single blocks under
 * one fetch-wide signal. fetch() leaves its abort listener on the signal it
 * is given until the response is garbage-collected, so the listeners piled
 * up and every request's addEventListener scanned them all (most of an
 * incremental fetch's CPU in the issue 18 profile). Fails without the
 * per-request signal in gatewaySource.fetchBlock: 60 requests leave 60
 * listeners on the fetch's signal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getEventListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { gatewaySource } from '../../node/recovery/gateway-source.ts'
import { Watchdog } from '../../node/recovery/source.ts'
import { Staging } from '../../node/recovery/staging.ts'
import { certifiedSnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'

let dir: string
let c: Certified
let node: ServingNode

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-gateway-signal-'))
  c = await certifiedSnapshot({ accounts: 400, seed: 'gateway-signal' })
  node = await startServingNode(join(dir, 'node'), [c])
}, 60_000)

afterAll(async () => {
  await node?.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('gateway single-block requests', () => {
  it('leave no abort listener behind on the fetch signal', { timeout: 60_000 }, async () => {
    const cids: CID[] = []
    for await (const cid of c.snapshot.blockCids()) if (cids.length < 60) cids.push(cid)
    expect(cids.length).toBe(60)
    const { staging } = await Staging.open(join(dir, 'staging'), c.certificateBlock.bytes)
    const watch = new Watchdog({ stallMs: 10_000 })
    const src = gatewaySource(node.url)
    try {
      const before = getEventListeners(watch.signal, 'abort').length
      for (const cid of cids) await src.fetchBlock(cid, staging, watch)
      expect(staging.size).toBe(60)
      expect(getEventListeners(watch.signal, 'abort').length).toBe(before)
    } finally {
      watch.dispose()
      await staging.remove()
      await src.close()
    }
  })
})
