import { describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'
import { collectGarbage, retainedBlocks } from '../../node/archive/retention.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { synthChanges, synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

describe('retention', () => {
  it('keeps the newest N and every M-th checkpoint', () => {
    const blocks = [5n, 10n, 15n, 20n, 25n, 30n, 35n]
    expect([...retainedBlocks(blocks, 2, 20n)].sort()).toEqual([20n, 30n, 35n].sort())
    expect(retainedBlocks(blocks, 10, 20n).size).toBe(7)
  })

  it('garbage-collects the blocks only dropped snapshots use, never a block a kept snapshot references (on-disk blockstore)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-gc-'))
    try {
      const fs = new FsBlockstore(join(dir, 'blocks'))
      await fs.open()
      const mem = new MemoryBlockStore()
      const opts = { accounts: 2000, seed: 'gc' }
      const a = (await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store: mem })).snapshot
      const b = (await applyChanges(a, synthChanges(opts, 0.01, 1), { meta: synthMeta(opts, 1), markets: synthMarkets(opts, 1) })).snapshot
      for (const [k, bytes] of mem.blocks) {
        const { CID } = await import('multiformats/cid')
        await fs.put(CID.parse(k), bytes)
      }
      const store = {
        get: async (c: CID) => Buffer.concat(await (async () => { const parts: Uint8Array[] = []; for await (const x of fs.get(c) as unknown as AsyncIterable<Uint8Array>) parts.push(x); return parts })()),
        has: async (c: CID) => fs.has(c),
        delete: async (c: CID) => fs.delete(c),
      }
      const aBlocks = new Set<string>()
      for await (const c of a.blockCids()) aBlocks.add(c.toString())
      const bBlocks = new Set<string>()
      for await (const c of b.blockCids()) bBlocks.add(c.toString())
      const onlyA = [...aBlocks].filter((k) => !bBlocks.has(k))
      const { deleted } = await collectGarbage(store, [b.cid], [a.cid])
      expect(deleted).toBe(onlyA.length)
      expect(deleted).toBeGreaterThan(0)
      // b is intact and verifies from disk alone
      const fromDisk = { get: store.get, has: store.has, put: async () => {} }
      const reopened = await Snapshot.open(fromDisk, b.cid, derivativesSchema)
      await reopened.verify()
      // a's exclusive blocks are gone
      for (const k of onlyA.slice(0, 20)) {
        const { CID } = await import('multiformats/cid')
        expect(await fs.has(CID.parse(k))).toBe(false)
      }
      await fs.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
