/**
 * CertificateStore (node/archive/certificate-store.ts).
 *
 * Issue 10 item 11: a torn or damaged .cert file is moved aside with a warning and comes back
 * through catch-up; it never stops the node from starting. Fails on the code before this change:
 * open() threw on the first file that did not decode, so the node could not start.
 *
 * Issue 10 item 13: an ordered index maintained on insert. Fails on the code before this change:
 * list() copied and sorted every certificate on each call (no range(), no shared index).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import type { AttestationBody } from '../../protocol/attestation.ts'
import { encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { CertificateStore, DAMAGED_SUFFIX } from '../../node/archive/certificate-store.ts'
import { EvidenceStore } from '../../node/archive/evidence-store.ts'
import { SnapshotFetches } from '../../node/archive/snapshot-fetches.ts'
import { certify, testOperators } from '../support/recovery.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import type { CID } from 'multiformats/cid'
import { certificateHandling } from './fixtures/certificate-handling.ts'
import { testBody } from './fixtures/signlog-body.ts'
import { useTempDirs } from './fixtures/temp-dirs.ts'

const { ops } = testOperators()
const SET = { weights: new Map(ops.map((o) => [o.address.toLowerCase() as `0x${string}`, 1n])), threshold: 3n, totalWeight: 4n }
const body = (block: bigint, kind = 0): AttestationBody => ({ ...testBody(block), kind })
const cert = (block: bigint, kind = 0, signers = 3): Promise<Certificate> => certify(body(block, kind), ops.slice(0, signers))

const dataDir = useTempDirs('ark-certstore-')

function collectingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const log: Logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  return { log, lines }
}

describe('CertificateStore', () => {
  it('a torn and a foreign .cert file are moved aside with a warning, the rest loads, and catch-up brings the torn one back', async () => {
    const dir = await dataDir()
    const store = new CertificateStore(dir)
    await store.open()
    const certs = [await cert(1000n), await cert(2000n), await cert(3000n)]
    for (const c of certs) expect(await store.put(c)).toBe(true)
    const certDir = join(dir, 'certificates')
    const torn = join(certDir, `${'2000'.padStart(20, '0')}-0.cert`)
    const bytes = readFileSync(torn)
    writeFileSync(torn, bytes.subarray(0, bytes.length >> 1))
    // a valid certificate under another checkpoint's name is damage too
    writeFileSync(join(certDir, `${'4000'.padStart(20, '0')}-0.cert`), readFileSync(join(certDir, `${'1000'.padStart(20, '0')}-0.cert`)))

    const { log, lines } = collectingLogger()
    const again = new CertificateStore(dir, log)
    await again.open()
    expect(again.list().map((s) => s.certificate.body.blockNumber)).toEqual([1000n, 3000n])
    expect(again.damaged).toHaveLength(2)
    expect(readdirSync(certDir).filter((n) => n.includes(DAMAGED_SUFFIX))).toHaveLength(2)
    expect(lines.filter((l) => String(l.msg).includes('damaged certificate file moved aside'))).toHaveLength(2)

    // catch-up offers it again: accepted, stored, its snapshot queued for fetching
    const fetched: string[] = []
    const handling = certificateHandling({
      certificates: again,
      evidence: new EvidenceStore(dir),
      fetches: new SnapshotFetches({ signal: new AbortController().signal, log: pino({ level: 'silent' }) }),
      fetchDag: async (root) => void fetched.push(root.toString()),
      operatorsAt: async () => SET,
    })
    expect(await handling.acceptCaughtUp(encodeCertificate(certs[1]!).bytes)).toBe(true)
    expect(again.get(2000n)?.cid.toString()).toBe(encodeCertificate(certs[1]!).cid.toString())
    await new Promise((r) => setTimeout(r, 20))
    expect(fetched).toEqual([certs[1]!.body.snapshotCid.toString()])
    const third = new CertificateStore(dir)
    await third.open()
    expect(third.list().map((s) => s.certificate.body.blockNumber)).toEqual([1000n, 2000n, 3000n])
  })

  it('keeps an ordered index on insert: list() is the index itself (no copy, no sort), range() is a binary search', async () => {
    const store = new CertificateStore(await dataDir())
    await store.open()
    for (const b of [5000n, 1000n, 3000n, 4000n, 2000n]) await store.put(await cert(b))
    await store.put(await cert(3000n, 1))
    const list = store.list()
    expect(store.list()).toBe(list)
    expect(list.map((s) => `${s.certificate.body.blockNumber}-${s.certificate.body.kind}`)).toEqual(['1000-0', '2000-0', '3000-0', '3000-1', '4000-0', '5000-0'])
    expect(store.range(2500n, 4000n, 10).map((s) => s.certificate.body.blockNumber)).toEqual([3000n, 3000n, 4000n])
    expect(store.range(undefined, undefined, 2).map((s) => s.certificate.body.blockNumber)).toEqual([1000n, 2000n])
    expect(store.latest()?.certificate.body.blockNumber).toBe(5000n)
    expect(store.latestOfKind(1)?.certificate.body.blockNumber).toBe(3000n)
    // more signatures replace in place; fewer are refused
    expect(await store.put(await cert(2000n, 0, 4))).toBe(true)
    expect(await store.put(await cert(2000n, 0, 3))).toBe(false)
    expect(store.size).toBe(6)
    await store.remove(3000n, 0)
    expect(store.list().map((s) => `${s.certificate.body.blockNumber}-${s.certificate.body.kind}`)).toEqual(['1000-0', '2000-0', '3000-1', '4000-0', '5000-0'])
  })

  // Fails before this change: the certificate was indexed (visible to /v1/checkpoints/latest) before its
  // block was in the blockstore, so the gateway answered 404 for the CID the API had just named.
  it('a certificate becomes visible only once its block is in the blockstore', async () => {
    const dir = await dataDir()
    const certificates = new CertificateStore(dir)
    await certificates.open()
    const blocks = new MemoryBlockStore()
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const visibleWithoutBlock: string[] = []
    const store = {
      put: async (b: { cid: CID; bytes: Uint8Array }) => {
        await held
        blocks.put(b)
      },
    }
    const handling = certificateHandling({
      certificates,
      evidence: new EvidenceStore(dir),
      fetches: new SnapshotFetches({ signal: new AbortController().signal, log: pino({ level: 'silent' }) }),
      store: () => store as unknown as MemoryBlockStore,
      operatorsAt: async () => SET,
    })
    const c = await cert(5000n)
    const accepting = handling.acceptCaughtUp(encodeCertificate(c).bytes)
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 5))
      const listed = certificates.get(5000n)
      if (listed !== undefined && !blocks.has(listed.cid)) visibleWithoutBlock.push(listed.cid.toString())
    }
    release()
    expect(await accepting).toBe(true)
    expect(visibleWithoutBlock).toEqual([])
    const listed = certificates.get(5000n)!
    expect(blocks.has(listed.cid)).toBe(true)
  })
})
