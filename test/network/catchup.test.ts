/**
 * The catch-up protocol: pages bounded by count and bytes, a block cursor
 * that reaches every certificate however many a node misses, and a client
 * that is never held by a peer that stalls or lies about the cursor.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificate, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import { CATCHUP_LIMITS, CATCHUP_PROTOCOL, catchupPage, decodeCatchupRequest, type CatchupPage } from '../../protocol/catchup.ts'
import { certificatePages, requestCertificatePage, serveCatchup } from '../../node/p2p/catchup.ts'
import { CatchUpClient } from '../../node/archive/catchup-client.ts'
import { encodeFrame, frameHeader } from '../../protocol/catchup.ts'
import { pino } from 'pino'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'
import { ADAPTER_ID, body, CHAIN_ID, CONFIG_HASH, fourOperators, OP, addr } from '../protocol/support.ts'

/** A decodable certificate for (block, kind) with `signers` placeholder signatures (catch-up moves bytes; the node verifies). */
function cert(block: bigint, kind = 0, signers = 3): Uint8Array {
  const c: Certificate = { body: body({ blockNumber: block, kind }), signatures: OP.slice(0, signers).map(addr).sort().map((signer) => ({ signer, signature: `0x${'ab'.repeat(64)}1b` })) }
  return encodeCertificate(c).bytes
}

const blockOf = (bytes: Uint8Array): bigint => decodeCertificate(bytes).body.blockNumber
const key = (bytes: Uint8Array): string => `${blockOf(bytes)}/${decodeCertificate(bytes).body.kind}`

/** Follow the cursor through catchupPage the way a client does. */
function follow(all: Uint8Array[], from: bigint, limits: { maxCertificates: number; maxResponseBytes: number }): CatchupPage[] {
  const pages: CatchupPage[] = []
  for (let cursor: bigint | undefined = from; cursor !== undefined; ) {
    const page = catchupPage(all.filter((b) => blockOf(b) >= cursor!), cursor, limits)
    pages.push(page)
    if (page.next !== undefined) expect(page.next).toBeGreaterThan(cursor)
    cursor = page.next
    if (pages.length > all.length + 1) throw new Error('the cursor does not move')
  }
  return pages
}

describe('catchupPage', () => {
  const all = [1n, 2n, 3n, 5n, 8n, 13n].flatMap((b) => (b === 5n ? [cert(b, 0), cert(b, 1)] : [cert(b)]))

  it('cuts pages by count between blocks, with the first block left out as the cursor', () => {
    const p = catchupPage(all, 0n, { maxCertificates: 3, maxResponseBytes: 1 << 20 })
    expect(p.certificates.map(key)).toEqual(['1/0', '2/0', '3/0'])
    expect(p.next).toBe(5n)
    // block 5 has two certificates: they never straddle two pages
    const q = catchupPage(all, 3n, { maxCertificates: 2, maxResponseBytes: 1 << 20 })
    expect(q.certificates.map(key)).toEqual(['3/0'])
    expect(q.next).toBe(5n)
    expect(catchupPage(all, 5n, { maxCertificates: 2, maxResponseBytes: 1 << 20 })).toMatchObject({ next: 8n })
    expect(catchupPage(all, 14n, CATCHUP_LIMITS)).toEqual({ certificates: [] })
    expect(catchupPage(all, 0n, CATCHUP_LIMITS)).toEqual({ certificates: all })
  })

  it('cuts pages by bytes, but always carries the first block', () => {
    const size = all[0]!.length
    const p = catchupPage(all, 0n, { maxCertificates: 100, maxResponseBytes: 64 + 2 * (size + 9) })
    expect(p.certificates.map(key)).toEqual(['1/0', '2/0'])
    expect(p.next).toBe(3n)
    expect(catchupPage(all, 0n, { maxCertificates: 100, maxResponseBytes: 1 }).certificates).toHaveLength(1)
  })

  it('says where to go on when its input was cut at the hint', () => {
    expect(catchupPage(all.slice(0, 2), 0n, { maxCertificates: 1, maxResponseBytes: 1 << 20 }, 2)).toMatchObject({ next: 2n })
    // a first block bigger than a page goes in whole; the input ended at the hint, so the next page starts after it
    expect(catchupPage([cert(5n, 0), cert(5n, 1)], 5n, { maxCertificates: 1, maxResponseBytes: 1 << 20 }, 2)).toMatchObject({ next: 6n })
  })

  it('following the cursor yields every certificate from `from` on, once, in order, within the limits', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ block: fc.bigInt({ min: 0n, max: 60n }), kind: fc.integer({ min: 0, max: 1 }) }), { selector: (x) => `${x.block}/${x.kind}`, maxLength: 40 }),
        fc.bigInt({ min: 0n, max: 61n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 6 }),
        (entries, from, maxCertificates, perPage) => {
          const sorted = entries.sort((a, b) => (a.block < b.block ? -1 : a.block > b.block ? 1 : a.kind - b.kind)).map((e) => cert(e.block, e.kind))
          const limits = { maxCertificates, maxResponseBytes: 64 + perPage * (sorted[0]?.length ?? 0) + perPage * 9 }
          const pages = follow(sorted, from, limits)
          expect(pages.flatMap((p) => p.certificates).map(key)).toEqual(sorted.filter((b) => blockOf(b) >= from).map(key))
          for (const p of pages) {
            const blocks = new Set(p.certificates.map(blockOf))
            // over a limit only when one block alone is (its certificates stay together)
            if (blocks.size > 1) expect(p.certificates.length).toBeLessThanOrEqual(maxCertificates)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('catch-up over libp2p', () => {
  let dir: string
  let server: ArkNetwork
  let client: ArkNetwork
  const context = (): ValidatorContext => ({ chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: 0n, maxAheadBlocks: 0n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } })
  // a node that missed 600 checkpoints (two kinds at every tenth): more than two full pages
  const held = Array.from({ length: 600 }, (_, i) => BigInt(i + 1)).flatMap((b) => (b % 10n === 0n ? [cert(b, 0), cert(b, 1)] : [cert(b)]))
  const from = (f: bigint, limit: number): Uint8Array[] => held.filter((b) => blockOf(b) >= f).slice(0, limit)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ark-catchup-'))
    server = await createArkNetwork({ dataDir: join(dir, 'server'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context })
    client = await createArkNetwork({ dataDir: join(dir, 'client'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context })
    await server.start()
    await client.start()
    await serveCatchup(server.libp2p, from)
    await client.dial(server.multiaddrs()[0]!)
  }, 60_000)

  afterAll(async () => {
    await client?.stop()
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('a node missing many certificates gets every one, page by page', async () => {
    const first = await requestCertificatePage(client.libp2p, server.peerId, 0n, AbortSignal.timeout(10_000))
    expect(first.certificates.length).toBeLessThanOrEqual(CATCHUP_LIMITS.maxCertificates)
    expect(first.next).toBeDefined()
    const pages: Uint8Array[][] = []
    for await (const page of certificatePages(client.libp2p, server.peerId, 0n, { signal: AbortSignal.timeout(30_000) })) pages.push(page)
    expect(pages.length).toBeGreaterThanOrEqual(3)
    expect(pages.flat().map(key)).toEqual(held.map(key))
    // a smaller page on request, and a cursor in the middle
    const small: Uint8Array[][] = []
    for await (const page of certificatePages(client.libp2p, server.peerId, 595n, { signal: AbortSignal.timeout(30_000), limit: 2 })) small.push(page)
    expect(small.map((p) => p.map(key))).toEqual([['595/0', '596/0'], ['597/0', '598/0'], ['599/0'], ['600/0', '600/1']])
  })

  it('a server with smaller limits pages by them', async () => {
    const tight = await createArkNetwork({ dataDir: join(dir, 'tight'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context })
    await tight.start()
    try {
      await serveCatchup(tight.libp2p, from, { maxCertificates: 7, maxResponseBytes: 4 * (held[0]!.length + 9) + 64 })
      await client.dial(tight.multiaddrs()[0]!)
      const pages: Uint8Array[][] = []
      for await (const page of certificatePages(client.libp2p, tight.peerId, 520n, { signal: AbortSignal.timeout(60_000) })) pages.push(page)
      expect(pages.flat().map(key)).toEqual(held.filter((b) => blockOf(b) >= 520n).map(key))
      expect(Math.max(...pages.map((p) => p.length))).toBeLessThanOrEqual(4)
    } finally {
      await tight.stop()
    }
  })

  it('a peer that stalls or moves the cursor backwards cannot hold the client', async () => {
    const liar = await createArkNetwork({ dataDir: join(dir, 'liar'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context })
    await liar.start()
    try {
      let mode: 'stall' | 'backwards' = 'stall'
      await liar.libp2p.handle(CATCHUP_PROTOCOL, async (stream) => {
        const chunks: Uint8Array[] = []
        for await (const c of stream) {
          chunks.push(c instanceof Uint8Array ? c : c.subarray())
          const buf = Buffer.concat(chunks)
          if (buf.length > 1 && buf.length >= buf[0]! + 1) break
        }
        const req = decodeCatchupRequest(Buffer.concat(chunks).subarray(1))
        if (mode === 'stall') return // never answers, never closes
        const res = dagCbor.encode({ certificates: [cert(req.from)], next: req.from })
        stream.send(Buffer.concat([Uint8Array.of((res.length & 0x7f) | 0x80, res.length >> 7), res]))
        await stream.close()
      })
      await client.dial(liar.multiaddrs()[0]!)
      await expect(requestCertificatePage(client.libp2p, liar.peerId, 5n, AbortSignal.timeout(1500))).rejects.toThrow()
      mode = 'backwards'
      await expect(requestCertificatePage(client.libp2p, liar.peerId, 5n, AbortSignal.timeout(10_000))).rejects.toThrow(/does not move past 5/)
    } finally {
      await liar.stop()
    }
  })

  /**
   * Issue 10 item 6: a hostile catch-up server, a real libp2p peer speaking the protocol. Fails on the
   * old client: it followed any cursor that moved for up to 1,024 pages of certificates it already
   * held, and took certificates before `from` or repeated within a page without a word.
   */
  describe('a hostile catch-up server', () => {
    let hostile: ArkNetwork
    let mode: 'stale' | 'backwards' | 'repeat' | 'cursor-behind' = 'stale'
    let requests = 0

    beforeAll(async () => {
      hostile = await createArkNetwork({ dataDir: join(dir, 'hostile'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context })
      await hostile.start()
      await hostile.libp2p.handle(CATCHUP_PROTOCOL, async (stream) => {
        let buf = new Uint8Array(0)
        for await (const c of stream) {
          buf = Buffer.concat([buf, c instanceof Uint8Array ? c : c.subarray()])
          const h = frameHeader(buf, 64)
          if (h !== undefined && buf.length >= h.offset + h.length) break
        }
        const req = decodeCatchupRequest(buf.subarray(frameHeader(buf, 64)!.offset))
        requests++
        const page =
          mode === 'stale' ? { certificates: [cert(req.from)], next: req.from + 1n } // moves, but only ever sends what the client holds
          : mode === 'backwards' ? { certificates: [cert(req.from - 1n)], next: req.from + 10n }
          : mode === 'repeat' ? { certificates: [cert(req.from), cert(req.from)], next: req.from + 10n }
          : { certificates: [cert(req.from + 5n)], next: req.from + 2n }
        stream.send(encodeFrame(dagCbor.encode(page)))
        await stream.close()
      })
      await client.dial(hostile.multiaddrs()[0]!)
    }, 60_000)

    afterAll(async () => {
      await hostile?.stop()
    })

    const catchUp = (accepted: Uint8Array[]) =>
      new CatchUpClient({
        libp2p: client.libp2p,
        from: () => 10n,
        accept: async (bytes) => {
          accepted.push(bytes)
          return false // the client holds every one of them already
        },
        log: pino({ level: 'silent' }),
        signal: AbortSignal.timeout(60_000),
      })

    it('stops a peer that sends only certificates the client holds after a few pages, not 1,024', async () => {
      mode = 'stale'
      requests = 0
      const accepted: Uint8Array[] = []
      expect(await catchUp(accepted).peer(hostile.peerId)).toBe(0)
      expect(requests).toBe(CATCHUP_LIMITS.maxStalePages)
      expect(accepted).toHaveLength(CATCHUP_LIMITS.maxStalePages)
    })

    it('stops at the first page that goes back before `from`, repeats, or whose cursor does not pass its own blocks', async () => {
      for (const m of ['backwards', 'repeat', 'cursor-behind'] as const) {
        mode = m
        requests = 0
        const accepted: Uint8Array[] = []
        expect(await catchUp(accepted).peer(hostile.peerId)).toBe(0)
        expect(requests, m).toBe(1)
        expect(accepted, m).toHaveLength(0)
      }
      mode = 'backwards'
      await expect(requestCertificatePage(client.libp2p, hostile.peerId, 10n, AbortSignal.timeout(10_000))).rejects.toThrow(/goes backwards/)
      mode = 'repeat'
      await expect(requestCertificatePage(client.libp2p, hostile.peerId, 10n, AbortSignal.timeout(10_000))).rejects.toThrow(/repeats/)
    })
  })
})

