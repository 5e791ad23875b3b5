/**
 * Issue 10 item 5 (replayed old certificates), node side: genuine old certificates whose DAGs no
 * peer holds are replayed by gossip and catch-up; the next live checkpoint's snapshot is still
 * fetched at once. Certificates below the retention floor are ignored (not stored, not fetched);
 * every fetch has a deadline and runs from a bounded queue; a stalled fetch blocks nothing else.
 *
 * Fails on the code before this change: catch-up fetches were chained one after another with no
 * deadline (`snapshotFetches = snapshotFetches.then(...)`), every replayed certificate was stored
 * and fetched whatever its age, and gossip fetches of old certificates ran unbounded beside.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { CertificateStore } from '../../node/archive/certificate-store.ts'
import { EvidenceStore } from '../../node/archive/evidence-store.ts'
import { SnapshotFetches } from '../../node/archive/snapshot-fetches.ts'
import { certify, testOperators } from '../support/recovery.ts'
import { until } from '../support/archive-cluster.ts'
import { certificateHandling } from './fixtures/certificate-handling.ts'
import { testBody } from './fixtures/signlog-body.ts'

const { ops } = testOperators()
const SET = { weights: new Map(ops.map((o) => [o.address.toLowerCase() as `0x${string}`, 1n])), threshold: 3n, totalWeight: 4n }
const INTERVAL = 100n
const HEAD = 20_000n
const FLOOR = 10_000n

const dirs: string[] = []
const controllers: AbortController[] = []
afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

describe('replayed old certificates', () => {
  it('100 old certificates with missing DAGs (gossip and catch-up) do not delay the live checkpoint; stalled fetches end at their deadline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-replay-'))
    dirs.push(dir)
    const ac = new AbortController()
    controllers.push(ac)
    const certificates = new CertificateStore(dir)
    await certificates.open()
    const fetches = new SnapshotFetches({ signal: ac.signal, log: pino({ level: 'silent' }), limits: { deadlineMs: 1_500, concurrency: 2, maxQueued: 16 } })
    const started: string[] = []
    const finished: string[] = []
    const live = new Set<string>()
    // a DAG nobody holds: the fetch waits until its signal aborts (bitswap wants that never resolve)
    const fetchDag = (root: CID, signal: AbortSignal): Promise<void> => {
      started.push(root.toString())
      if (live.has(root.toString())) {
        finished.push(root.toString())
        return Promise.resolve()
      }
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))
    }
    const handling = certificateHandling({
      certificates,
      evidence: new EvidenceStore(dir),
      fetches,
      fetchDag,
      operatorsAt: async () => SET,
      floor: () => FLOOR,
      recent: (b) => b + 2n * INTERVAL >= HEAD,
      signal: ac.signal,
    })

    const old: Certificate[] = []
    // 50 below the retention floor, 50 inside it but long past: all genuine, none of their DAGs reachable
    for (let i = 0; i < 100; i++) old.push(await certify(testBody(i < 50 ? 1_000n + BigInt(i) * INTERVAL : FLOOR + BigInt(i) * 10n), ops.slice(0, 3)))
    for (const [i, c] of old.entries()) {
      if (i % 2 === 0) await handling.onCertificate(c, 'gossip')
      else await handling.acceptCaughtUp(encodeCertificate(c).bytes)
    }
    // below the floor: neither stored nor fetched
    expect(certificates.list().filter((s) => s.certificate.body.blockNumber < FLOOR)).toHaveLength(0)
    expect(certificates.size).toBe(50)
    expect(started.every((cid) => !old.slice(0, 50).some((c) => c.body.snapshotCid.toString() === cid))).toBe(true)
    // bounded: 2 running, at most 16 waiting, the rest dropped (catch-up offers them again)
    expect(fetches.running).toBe(2)
    expect(fetches.queued).toBeLessThanOrEqual(16)
    expect(fetches.stats.dropped).toBe(50 - 2 - 16)

    // the live checkpoint certifies: its snapshot is fetched while the old ones are still stalled
    const current = await certify(testBody(HEAD), ops.slice(0, 3))
    live.add(current.body.snapshotCid.toString())
    await handling.onCertificate(current, 'aggregated')
    await until('the live snapshot fetched', () => finished.includes(current.body.snapshotCid.toString()), 1_000)
    expect(fetches.stats.timedOut).toBe(0)
    expect(certificates.get(HEAD)).toBeDefined()

    // every stalled fetch ends at its deadline and frees its slot; the queue drains
    await until('the stalled queue drained', () => fetches.running === 0 && fetches.queued === 0, 30_000)
    expect(fetches.stats.timedOut).toBe(18)
  })
})
