/**
 * Issue 10 item 2 (evidence flood), node side: one operator equivocating at 10,000 distinct blocks
 * keeps memory, disk and work bounded; honest evidence still gets in; /v1/evidence pages.
 *
 * Fails on the code before this change: the node kept every item in an unbounded array (10,000
 * items, 10,000 files, 10,000 gossip re-publications), deduplicated each new one by re-encoding
 * all held (O(n) per item, O(n²) for the flood), and had no EvidenceStore, caps or pages.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { SignedAttestation } from '../../protocol/attestation.ts'
import { checkpointKey } from '../../protocol/attestation.ts'
import { encodeEvidence, type Evidence } from '../../protocol/evidence.ts'
import { EVIDENCE_LIMITS, EvidenceStore } from '../../node/archive/evidence-store.ts'
import { certificateHandling } from './fixtures/certificate-handling.ts'
import { testBody } from './fixtures/signlog-body.ts'
import { useTempDirs } from './fixtures/temp-dirs.ts'

const SIG = `0x${'11'.repeat(64)}1b` as Hex
const addr = (n: number): `0x${string}` => `0x${n.toString(16).padStart(40, '0')}`
const att = (signer: `0x${string}`, block: bigint, variant: number): SignedAttestation => ({ body: testBody(block, variant), signer, signature: SIG })
const equivocation = (signer: `0x${string}`, block: bigint): Evidence => ({ a: att(signer, block, 1), b: att(signer, block, 2) })

const dataDir = useTempDirs('ark-evidence-')
const files = (dir: string): number => readdirSync(join(dir, 'evidence')).filter((n) => n.endsWith('.evidence')).length

function handlerWith(evidence: EvidenceStore, published: Uint8Array[]) {
  return certificateHandling({ evidence, publish: async (_kind, bytes) => void published.push(bytes) })
}

describe('EvidenceStore under an equivocation flood', () => {
  it('one operator equivocating at 10,000 blocks: memory, disk and re-publications stay at the per-signer cap', async () => {
    const dir = await dataDir()
    const store = new EvidenceStore(dir)
    await store.open()
    const published: Uint8Array[] = []
    const handler = handlerWith(store, published)
    const rogue = addr(0xbad)
    for (let i = 1; i <= 10_000; i++) {
      const e = equivocation(rogue, BigInt(i) * 10n)
      handler.onEvents([{ type: 'evidence', checkpoint: checkpointKey(e.a.body), signer: rogue, evidence: e }])
    }
    await store.flush()
    expect(store.size).toBe(EVIDENCE_LIMITS.maxPerSigner)
    expect(store.bytes).toBeLessThanOrEqual(EVIDENCE_LIMITS.maxBytes)
    expect(files(dir)).toBe(EVIDENCE_LIMITS.maxPerSigner)
    expect(published).toHaveLength(EVIDENCE_LIMITS.maxPerSigner)

    // the same flood again: every item is a duplicate or over the cap, found by key (nothing re-encoded, written or published)
    const outcomes = new Map<string, number>()
    for (let i = 1; i <= 10_000; i++) {
      const o = store.add(equivocation(rogue, BigInt(i) * 10n), 0n)
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1)
    }
    expect(outcomes.get('duplicate')).toBe(EVIDENCE_LIMITS.maxPerSigner)
    expect(outcomes.get('signer-cap')).toBe(10_000 - EVIDENCE_LIMITS.maxPerSigner)
    expect(outcomes.get('added')).toBeUndefined()

    // an honest node's evidence about another operator still gets in
    expect(store.add(equivocation(addr(0x1), 50n), 0n)).toBe('added')
    await store.flush()
    expect(files(dir)).toBe(EVIDENCE_LIMITS.maxPerSigner + 1)

    // a restart loads the same bounded set
    const again = new EvidenceStore(dir)
    await again.open()
    expect(again.size).toBe(EVIDENCE_LIMITS.maxPerSigner + 1)
  })

  it('count and byte caps hold across many signers (oldest out first); retention prunes below the floor', async () => {
    const dir = await dataDir()
    const store = new EvidenceStore(dir, { limits: { maxItems: 50, maxPerSigner: 5 } })
    await store.open()
    for (let s = 1; s <= 40; s++) for (let b = 1; b <= 5; b++) store.add(equivocation(addr(s), BigInt(s * 1000 + b)), 0n)
    expect(store.size).toBe(50)
    // the newest stay: signers 31..40
    expect(store.all().every((e) => BigInt(e.a.body.blockNumber) > 30_000n)).toBe(true)
    const small = new EvidenceStore(await dataDir(), { limits: { maxBytes: 3 * 1024 } })
    for (let s = 1; s <= 20; s++) small.add(equivocation(addr(s), 10n), 0n)
    expect(small.bytes).toBeLessThanOrEqual(3 * 1024)
    expect(small.size).toBeGreaterThan(0)
    await small.flush()

    expect(store.add(equivocation(addr(99), 5n), 100n)).toBe('too-old')
    expect(store.add(equivocation(addr(99), 1_000_000n), 100n, 999_999n)).toBe('too-new')
    expect(store.prune(36_000n)).toBe(25)
    expect(store.size).toBe(25)
    await store.flush()
    expect(files(dir)).toBe(25)
  })

  it('a file of the older layout (named by hash) loads and is rewritten under its key', async () => {
    const dir = await dataDir()
    mkdirSync(join(dir, 'evidence'))
    const e = equivocation(addr(7), 70n)
    writeFileSync(join(dir, 'evidence', '0123456789abcdef.evidence'), encodeEvidence(e))
    const store = new EvidenceStore(dir)
    await store.open()
    expect(store.has(e)).toBe(true)
    expect(readdirSync(join(dir, 'evidence'))).toEqual([`${EvidenceStore.key(e)}.evidence`])
  })

  it('pages: every item exactly once, page size clamped', async () => {
    const store = new EvidenceStore(await dataDir())
    for (let s = 1; s <= 250; s++) store.add(equivocation(addr(s), 10n), 0n)
    const seen: string[] = []
    let cursor: number | undefined
    for (let pages = 0; pages < 10; pages++) {
      const p = store.page(cursor, 100)
      seen.push(...p.items.map((i) => i.key))
      if (p.next === undefined) break
      cursor = p.next
    }
    expect(seen).toHaveLength(250)
    expect(new Set(seen).size).toBe(250)
    expect(store.page(undefined, 1_000_000).items.length).toBeLessThanOrEqual(EVIDENCE_LIMITS.maxPageLimit)
    await store.flush()
  })
})

describe('aggregator cap events', () => {
  it('an attestation past its signer cap is counted (ark_node_events_total{event="signerCapIgnored"}), never evidence or a publication', async () => {
    const published: Uint8Array[] = []
    const counters = { certificates: 0, catchupCertificates: 0, divergences: 0, signerCapIgnored: 0 }
    const h = certificateHandling({ evidence: new EvidenceStore(await dataDir()), publish: async (_kind, bytes) => void published.push(bytes), counters })
    for (let b = 0; b < 5; b++) h.onEvents([{ type: 'ignored', checkpoint: checkpointKey(testBody(BigInt(b), 1)), signer: addr(7), reason: 'SIGNER_CAP' }])
    expect(counters.signerCapIgnored).toBe(5)
    expect(published).toEqual([])
  })
})
