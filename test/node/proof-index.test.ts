/**
 * The node's proof index (node/archive/proof-index.ts): proofs through it equal the library's
 * (snapshot/proof/prove.ts, what `ark snapshot prove` prints) for every account of a real
 * synthetic snapshot; a deleted, truncated, bit-flipped or foreign index is noticed and rebuilt,
 * never served; indexes of snapshots no longer held are pruned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ProofIndex } from '../../node/archive/proof-index.ts'
import { proveAccount, treeBytes } from '../../snapshot/proof/prove.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'

const OPTS = { accounts: 777, seed: 'ark-proof-index' }
let dir: string
let store: MemoryBlockStore
let snap: Snapshot<unknown, unknown>
let keys: Uint8Array[]
const log = pino({ level: 'silent' })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-proof-index-'))
  store = new MemoryBlockStore()
  snap = (await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(OPTS), markets: synthMarkets(OPTS), records: synthRecords(OPTS), store })).snapshot as Snapshot<unknown, unknown>
  keys = []
  for await (const e of snap.rawEntries()) keys.push(e.key)
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const sample = (): Uint8Array[] => [keys[0]!, keys[1]!, keys[388]!, keys[keys.length - 1]!]

describe('proof index', () => {
  it('answers every account with exactly the proof the library gives, and each verifies', async () => {
    const idx = new ProofIndex({ dir, log })
    await idx.ensure(snap)
    expect((await stat(idx.path(snap.cid))).size).toBe(64 + treeBytes(OPTS.accounts))
    for (const key of keys) {
      const p = await idx.prove(snap, key)
      expect(p).toEqual(await proveAccount(snap, key))
      verifyAccountProof(p, { schema: derivativesSchema as never, expectedRoot: snap.root.stateRoot })
    }
    await expect(idx.prove(snap, new Uint8Array(20).fill(0xee))).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' })
    await idx.close()
  })

  it('is built on first use when missing, and rebuilt after deletion', async () => {
    const idx = new ProofIndex({ dir, log })
    await rm(idx.path(snap.cid), { force: true })
    expect(await idx.prove(snap, keys[5]!)).toEqual(await proveAccount(snap, keys[5]!))
    const first = await readFile(idx.path(snap.cid))
    await idx.close()
    await rm(idx.path(snap.cid))
    const again = new ProofIndex({ dir, log })
    expect(await again.prove(snap, keys[6]!)).toEqual(await proveAccount(snap, keys[6]!))
    // deterministic: the rebuilt file is byte-identical
    expect(Buffer.compare(await readFile(again.path(snap.cid)), first)).toBe(0)
    await again.close()
  })

  it('a corrupt index (truncated, bit flips in the leaf layer or the upper tree, another snapshot\'s file) is rebuilt, never served', async () => {
    const good = await readFile(new ProofIndex({ dir, log }).path(snap.cid))
    const corruptions: [string, (path: string) => Promise<void>][] = [
      ['truncated', (p) => truncate(p, 1000)],
      ['header magic', async (p) => writeFile(p, Buffer.concat([Buffer.from('XXXXXXXX'), good.subarray(8)]))],
      ['leaf layer flipped', async (p) => {
        const b = Buffer.from(good)
        // every leaf of the lower half: binary search lands on garbage
        for (let o = b.length - 32 * 400; o < b.length; o += 32) b[o + 31]! ^= 0xff
        await writeFile(p, b)
      }],
      ['inner node flipped', async (p) => {
        const b = Buffer.from(good)
        for (let node = 1; node < 700; node++) b[64 + node * 32 + 7]! ^= 0x01
        await writeFile(p, b)
      }],
      ['stateRoot in header', async (p) => {
        const b = Buffer.from(good)
        b[40]! ^= 0x01
        await writeFile(p, b)
      }],
    ]
    for (const [what, corrupt] of corruptions) {
      const idx = new ProofIndex({ dir, log })
      await corrupt(idx.path(snap.cid))
      for (const key of sample()) expect(await idx.prove(snap, key), what).toEqual(await proveAccount(snap, key))
      expect(Buffer.compare(await readFile(idx.path(snap.cid)), good), what).toBe(0)
      await idx.close()
    }
  })

  it('onKept writes the index of a stored snapshot and prunes those of snapshots no longer held', async () => {
    const idx = new ProofIndex({ dir, log })
    const gone = join(dir, 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.pidx')
    await writeFile(gone, 'stale')
    await writeFile(join(dir, 'notes.txt'), 'not ours')
    await rm(idx.path(snap.cid), { force: true })
    await idx.onKept(store, snap.cid)
    const names = await readdir(dir)
    expect(names).toContain(`${snap.cid.toString()}.pidx`)
    expect(names).not.toContain('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.pidx')
    expect(names).toContain('notes.txt')
    await idx.close()
  })
})
