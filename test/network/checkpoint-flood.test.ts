/**
 * Issue 10 item 1 on a real network: 7 archive nodes over TCP on a real anvil, checkpoint interval
 * 2,000 (blocks mined in bulk with anvil_mine), one byzantine operator flooding attestations for
 * off-schedule and future blocks at ≥ 100 per second while the honest checkpoints form.
 *
 * Fails on the old code: validators accepted every block in [oldest, finalized + 4·interval + 64]
 * (8,064 blocks ahead here), the aggregator held 256 checkpoints and evicted the oldest — the honest
 * in-progress one — and it dropped everything 7,200 blocks below the newest block *seen*, so one
 * attestation 8,000 blocks ahead wiped it too; and since nothing was rejected, the flooder's peer
 * score never fell. Now: off-schedule → reject OFF_SCHEDULE (scored), an on-schedule future flood
 * stops at the signer's cap, and the honest checkpoint is never evicted.
 */
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { attestationDigest, encodeAttestation, normalizeV, type AttestationBody } from '../../protocol/attestation.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { archiveFixture, operatorKey, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'
import { blockNumber } from '../support/chain.ts'

const INTERVAL = 2000n
const N = 7
const BYZANTINE = 6
const JUNK_SIGNATURE = `0x${'5a'.repeat(64)}1b` as const

let fx: ArchiveFixture

beforeAll(async () => {
  fx = await archiveFixture({ name: 'flood', seed: 31, traders: 4, steps: 8 })
}, 180_000)

afterAll(async () => {
  await fx?.stop()
}, 120_000)

describe('a byzantine operator flooding attestations', () => {
  it('cannot evict an honest checkpoint: every honest checkpoint certifies, and the flooder loses peer score', { timeout: 600_000 }, async () => {
    const f = fx.chain
    const start = await blockNumber(f)
    const first = ((start + INTERVAL) / INTERVAL) * INTERVAL
    const configs = await writeClusterConfigs(fx.dir, f, N, { firstBlock: first, interval: Number(INTERVAL), quorumTimeoutMs: 60_000 })
    const n0 = await fx.start(configs[0]!)
    const boot = n0.network.multiaddrs().map(String)
    const rest: ArchiveNode[] = []
    for (let i = 1; i < N; i++) {
      configs[i]!.p2p.bootstrap = boot
      rest.push(await fx.start(configs[i]!))
    }
    const nodes = [n0, ...rest]
    const honest = nodes.filter((_, i) => i !== BYZANTINE)
    const attacker = nodes[BYZANTINE]!
    await until('every node connected to node 0', () => n0.network.libp2p.getPeers().length >= N - 1, 60_000)
    // nodes sign nothing up to their doppelganger quiet period (head at start + interval): the first
    // checkpoint they all sign is the next multiple of the interval past that
    const signed = ((await blockNumber(f)) + INTERVAL) / INTERVAL * INTERVAL + INTERVAL
    const targets = [signed, signed + INTERVAL]

    // the flood: operator 6's key, published from its own node, ≥ 100 per second
    const rogue = privateKeyToAccount(operatorKey(BYZANTINE))
    const configHash = n0.validatorContext().configHash as `0x${string}`
    let sent = 0
    const stop = new AbortController()
    const floodStart = Date.now()
    const attestation = async (n: bigint): Promise<Uint8Array> => {
      // alternately: off-schedule blocks near the head, on-schedule blocks ahead (in and past the window)
      const block = n % 2n === 0n ? first + 1n + (n % (INTERVAL - 1n)) : first + INTERVAL * (2n + (n % 8n)) + (n % 3n === 0n ? 1_000_000n : 0n)
      const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash, blockNumber: block, blockHash: `0x${(n + 1n).toString(16).padStart(64, '0')}`, snapshotCid: encodeBlock({ flood: Number(n) }).cid, stateRoot: `0x${'ee'.repeat(32)}`, specVersion: 1, kind: 0 }
      // off-schedule ones are refused before any signature is looked at: signing only what could pass keeps the flood ≥ 100/s on a loaded box
      const signature = n % 2n === 0n ? JUNK_SIGNATURE : normalizeV(await rogue.sign({ hash: attestationDigest(body) }))
      return encodeAttestation({ body, signer: rogue.address.toLowerCase() as `0x${string}`, signature })
    }
    // every 50 ms, send what keeps the total at 120 per second since the start (catching up after a slow tick)
    const flood = (async () => {
      while (!stop.signal.aborted) {
        const due = Math.ceil(((Date.now() - floodStart) / 1000) * 120) - sent
        const batch: Promise<unknown>[] = []
        for (let k = 0; k < due; k++) batch.push(attacker.network.publish('attestation', await attestation(BigInt(++sent))).catch(() => {}))
        await Promise.all(batch)
        await new Promise((r) => setTimeout(r, 50))
      }
    })()

    try {
      // two checkpoints while the flood runs: mine up to each in one go (anvil mines fast)
      for (const target of targets) {
        const now = await blockNumber(f)
        if (now < target) await f.rpc('anvil_mine', [`0x${(target - now).toString(16)}`])
        await until(`checkpoint ${target} certified on every honest node`, () => honest.every((n) => n.certificates.get(target) !== undefined), 300_000).catch((err: unknown) => {
          // what each node's validators saw, to tell a slow box from a broken rule
          for (const [i, n] of nodes.entries()) console.error(i, JSON.stringify(n.network.metrics.snapshot()), n.network.libp2p.getPeers().length, n.finalizedHead, JSON.stringify(n.counters))
          throw err
        })
      }
      const rate = sent / ((Date.now() - floodStart) / 1000)
      expect(rate).toBeGreaterThanOrEqual(100)
      for (const target of targets) {
        const cids = new Set(honest.map((n) => n.certificates.get(target)!.certificate.body.snapshotCid.toString()))
        expect(cids.size).toBe(1)
      }
      // the flooder is scored down by its direct peer; honest peers are not
      await until('the flooder to have a negative peer score on node 0', () => n0.network.peerScore(attacker.network.peerId) < 0, 60_000)
      for (const n of rest.filter((x) => x !== attacker)) expect(n0.network.peerScore(n.network.peerId)).toBeGreaterThanOrEqual(0)
    } finally {
      stop.abort()
      await flood
    }
  })
})
