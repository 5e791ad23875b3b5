import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeBlock, sha256 } from '../../snapshot/codec/block.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { FS_BLOCKS_DIR, FS_BLOCKS_RETIRED, migrateFsBlocks } from '../../node/p2p/blockstore-migration.ts'
import { BLOCKSTORE_DIR, DiskBlockstore } from '../../node/p2p/disk-blockstore.ts'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'
import { fillDisk, freeDisk, mountTmpfs, unmount } from '../chaos/storage/tmpfs.ts'

const CHILD = fileURLToPath(new URL('storage-crash-child.ts', import.meta.url))
const dirs: string[] = []
const children: ChildProcess[] = []
const networks: ArkNetwork[] = []

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const n of networks.splice(0)) await n.stop().catch(() => {})
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true, maxRetries: 3 })
})

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ark-storage-'))
  dirs.push(d)
  return d
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/**
 * A data directory in the layout of earlier versions, written by blockstore-fs itself: a snapshot's
 * blocks one file each, plus one file whose bytes do not match its name and one stray temporary file.
 */
async function oldLayout(dataDir: string, accounts: number): Promise<{ snapshot: Snapshot<unknown, unknown>; cids: CID[]; corrupt: CID }> {
  const mem = new MemoryBlockStore()
  const opts = { accounts, seed: 'migrate' }
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store: mem })
  const fs = new FsBlockstore(join(dataDir, FS_BLOCKS_DIR))
  await fs.open()
  const cids: CID[] = []
  for await (const cid of snapshot.blockCids()) {
    await fs.put(cid, mem.get(cid))
    cids.push(cid)
  }
  const corrupt = encodeBlock('not what is stored').cid
  await fs.put(corrupt, encodeBlock('something else').bytes)
  await fs.close()
  const shard = (await readdir(join(dataDir, FS_BLOCKS_DIR)))[0]!
  await writeFile(join(dataDir, FS_BLOCKS_DIR, shard, '.half-written.data.tmp'), 'x')
  return { snapshot: snapshot as Snapshot<unknown, unknown>, cids, corrupt }
}

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { log: pino({ level: 'info' }, sink), lines }
}

async function startNetwork(dataDir: string, log: pino.Logger): Promise<ArkNetwork> {
  const n = await createArkNetwork({
    dataDir,
    chainId: 31337n,
    adapterId: 'synth',
    logger: log,
    context: () => {
      throw new Error('this node validates no gossip')
    },
  })
  networks.push(n)
  await n.start()
  return n
}

/** Every block present in the store hashes to its key (no torn or mixed-up value). */
async function allIntact(store: DiskBlockstore): Promise<number> {
  let n = 0
  for await (const { cid, bytes } of store.getAll()) {
    const parts: Uint8Array[] = []
    for await (const p of bytes) parts.push(p)
    expect(Buffer.from(sha256(Buffer.concat(parts)))).toEqual(Buffer.from(cid.multihash.digest))
    n++
  }
  return n
}

describe('packed blockstore: migration from one file per block', () => {
  it('a node started on an old-layout data dir migrates it: every block kept (checked by CID), old files removed, logged; a restart migrates nothing', async () => {
    const dataDir = await tempDir()
    const { snapshot, cids, corrupt } = await oldLayout(dataDir, 2000)
    const first = capture()
    const n1 = await startNetwork(dataDir, first.log)
    const done = first.lines.find((l) => l.msg === 'blockstore migration: done; the old block files are removed')
    expect(done).toMatchObject({ blocks: cids.length, corrupt: 1, foreign: 1 })
    expect(await exists(join(dataDir, FS_BLOCKS_DIR))).toBe(false)
    expect(await exists(join(dataDir, FS_BLOCKS_RETIRED))).toBe(false)
    for (const cid of cids) expect(await n1.blocks.has(cid)).toBe(true)
    // the corrupt file was not the block its name says: not carried over
    expect(await n1.blocks.has(corrupt)).toBe(false)
    await (await Snapshot.open(n1.blocks, snapshot.cid, derivativesSchema, { verifyBlocks: true })).verify()
    // Helia (bitswap's server side) sees the same blocks
    expect(await n1.helia.blockstore.has(snapshot.cid)).toBe(true)
    await n1.stop()

    const second = capture()
    const n2 = await startNetwork(dataDir, second.log)
    expect(second.lines.filter((l) => String(l.msg).startsWith('blockstore migration'))).toEqual([])
    await (await Snapshot.open(n2.blocks, snapshot.cid, derivativesSchema, { verifyBlocks: true })).verify()
  })

  // Kills the migrating process at growing delays until a run completes: every kill lands somewhere in
  // copy / read-back / rename / removal, and the next run must resume from there without losing a block.
  it('a migration killed midway (SIGKILL) resumes on the next run and loses nothing; at least one kill lands mid-copy', { timeout: 60_000 }, async () => {
    const dataDir = await tempDir()
    const { cids } = await oldLayout(dataDir, 10_000)
    let midCopy = 0
    let completed = false
    for (let delay = 10; !completed && delay < 20_000; delay *= 2) {
      const child = spawn(process.execPath, [CHILD, 'migrate', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
      // the delay counts from the migration's first log line (after Node and the imports are up)
      await new Promise<void>((r) => {
        const poll = setInterval(() => {
          if (out.includes('blockstore migration') || child.exitCode !== null) {
            clearInterval(poll)
            r()
          }
        }, 2)
      })
      await new Promise((r) => setTimeout(r, delay))
      child.kill('SIGKILL')
      const code = await exited
      completed = code === 0
      if (!completed && (await exists(join(dataDir, FS_BLOCKS_DIR))) && !out.includes('"msg":"blockstore migration: done')) midCopy++
    }
    expect(completed).toBe(true)
    expect(midCopy).toBeGreaterThan(0)
    expect(await exists(join(dataDir, FS_BLOCKS_DIR))).toBe(false)
    expect(await exists(join(dataDir, FS_BLOCKS_RETIRED))).toBe(false)
    const store = new DiskBlockstore(join(dataDir, BLOCKSTORE_DIR))
    await store.open()
    try {
      for (const cid of cids) expect(await store.has(cid)).toBe(true)
      expect(await allIntact(store)).toBe(cids.length)
      // nothing left to do: a further run is a no-op
      expect(await migrateFsBlocks(dataDir, store, pino({ level: 'silent' }))).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('an interrupted removal of the old files (renamed aside) is finished at the next start', async () => {
    const dataDir = await tempDir()
    await oldLayout(dataDir, 200)
    const { rename } = await import('node:fs/promises')
    await rename(join(dataDir, FS_BLOCKS_DIR), join(dataDir, FS_BLOCKS_RETIRED))
    const store = new DiskBlockstore(join(dataDir, BLOCKSTORE_DIR))
    await store.open()
    try {
      expect(await migrateFsBlocks(dataDir, store, pino({ level: 'silent' }))).toBeUndefined()
      expect(await exists(join(dataDir, FS_BLOCKS_RETIRED))).toBe(false)
    } finally {
      await store.close()
    }
  })
})

describe('packed blockstore: crash safety', () => {
  it('a writer killed mid-put (SIGKILL) leaves a store that opens, holds every acknowledged block, and no torn block', { timeout: 60_000 }, async () => {
    const dir = join(await tempDir(), 'store')
    const child = spawn(process.execPath, [CHILD, 'write', dir, 'crash'], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    let acked = 0
    const exited = new Promise<void>((r) => child.on('exit', () => r()))
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        for (const m of d.toString().matchAll(/acked (\d+)/g)) acked = Number(m[1])
        // a few MiB into LevelDB's log: kill mid-stream
        if (acked >= 5_000) resolve()
      })
    })
    child.kill('SIGKILL')
    await exited
    const store = new DiskBlockstore(dir)
    await store.open()
    try {
      for (let i = 0; i < acked; i++) {
        const b = encodeBlock(`crash:${i}:${'x'.repeat(i % 2000)}`)
        expect(await store.has(b.cid), `acknowledged block ${i}`).toBe(true)
      }
      expect(await allIntact(store)).toBeGreaterThanOrEqual(acked)
    } finally {
      await store.close()
    }
  })

  // Fails without DiskBlockstore's reopen: LevelDB keeps a failed compaction's ENOSPC for every later
  // write, so after space is freed the node could still write no block (no snapshot, no signature).
  it('a full disk fails writes with ENOSPC; once space is freed, writes succeed again and nothing written before is lost', { timeout: 60_000 }, async (ctx) => {
    const mount = join(await tempDir(), 'tmpfs')
    const m = await mountTmpfs(mount, 40)
    if (!m.ok) {
      ctx.skip(m.reason)
      return
    }
    const store = new DiskBlockstore(join(mount, 'store'))
    try {
      // room for LevelDB's 16 MiB log but not for the table its compaction then writes
      const filler = join(mount, 'filler')
      await writeFile(filler, Buffer.alloc(20 * 2 ** 20))
      await store.open()
      const block = (i: number): ReturnType<typeof encodeBlock> => encodeBlock(`full:${i}:${'y'.repeat(1000)}`)
      let written = 0
      let failure: Error | undefined
      for (; written < 100_000; written++) {
        const b = block(written)
        try {
          await store.put(b.cid, b.bytes)
        } catch (err) {
          failure = err as Error
          break
        }
      }
      expect(failure?.message).toMatch(/No space left on device/)
      await freeDisk(filler)
      const after = encodeBlock('after the disk was freed')
      await store.put(after.cid, after.bytes)
      expect(await store.has(after.cid)).toBe(true)
      for (let i = 0; i < written; i += 97) expect(await store.has(block(i).cid), `block ${i}`).toBe(true)
      expect(await allIntact(store)).toBeGreaterThanOrEqual(written)
      // and a disk filled up by another file (not LevelDB's compaction) is survived the same way
      const other = await fillDisk(mount)
      await freeDisk(other.file)
      await store.put(block(written).cid, block(written).bytes)
    } finally {
      await store.close().catch(() => {})
      await unmount(mount)
    }
  })

  it('keys are the multihash: a block is found under any CID of the same hash (as with blockstore-fs)', async () => {
    const store = new DiskBlockstore(join(await tempDir(), 'store'))
    await store.open()
    try {
      const b = encodeBlock({ a: 1 })
      await store.putBatch([b])
      expect(await store.has(CID.createV1(0x55, b.cid.multihash))).toBe(true)
    } finally {
      await store.close()
    }
  })
})
