import { open, readdir, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { CID } from 'multiformats/cid'
import { ArkError } from '../../snapshot/ark-error.ts'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import type { AccountProof } from '../../snapshot/proof/format.ts'
import { checkedMerkle, proveAccountFromTree, treeBytes, TreeNodesMismatchError, type TreeNodes } from '../../snapshot/proof/prove.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { writeFileAtomic } from '../fs/atomic.ts'

/**
 * Proof index: beside each stored snapshot the node keeps its Merkle tree in
 * OpenZeppelin's array layout (buildStandardTree: 2n-1 hashes, root first, the
 * sorted leaf layer last), one file per snapshot CID, so one account's proof
 * is ~2·log2(n) 32-byte reads (binary search over the leaf layer, then the
 * siblings) instead of reading every record and rebuilding the tree
 * (seconds at 1M accounts). Not consensus data: it is derived from the
 * snapshot, written when a snapshot is kept, rebuilt when missing, stale or
 * corrupt (every proof it gives is checked against the snapshot's stateRoot
 * before it leaves), and deleted with the snapshot. Size: 64 bytes per account.
 *
 * File: 64-byte header (magic "ARKPIDX1", u32 BE version 1, u32 BE leaf count n,
 * 16 zero bytes, the stateRoot) then the 2n-1 tree nodes.
 */
const MAGIC = Buffer.from('ARKPIDX1', 'latin1')
const VERSION = 1
const HEADER = 64
const SUFFIX = '.pidx'

export const PROOF_INDEX_LIMITS = Object.freeze({
  /** open index files kept (an open file is a handle, not its contents) */
  openFiles: 4,
  /** builds waiting behind the running one; more are refused (the caller retries later) */
  queue: 8,
})

interface OpenIndex extends TreeNodes {
  readonly handle: FileHandle
}

export class ProofIndex {
  private readonly dir: string
  private readonly log: Pick<Logger, 'warn' | 'info' | 'debug'>
  private readonly files = new Map<string, Promise<OpenIndex | undefined>>()
  private readonly builds = new Map<string, Promise<void>>()
  private chain: Promise<unknown> = Promise.resolve()

  constructor(init: { dir: string; log: Pick<Logger, 'warn' | 'info' | 'debug'> }) {
    this.dir = init.dir
    this.log = init.log
  }

  path(cid: CID | string): string {
    return join(this.dir, `${cid.toString()}${SUFFIX}`)
  }

  /**
   * Write (or rewrite) the index of `s`: the tree rebuilt from every record
   * must give the stateRoot (checkedMerkle), then the file is written
   * atomically. One build at a time; a second call for the same snapshot joins
   * the running one.
   */
  build(s: Snapshot<unknown, unknown>): Promise<void> {
    // a composed stateRoot (schema v4: accounts and market state) is not the account tree's root: the index
    // would never check out; such proofs come from the snapshot itself (ark prove --snapshot)
    if (s.schema.marketLeaves !== undefined) return Promise.reject(new ArkError('KEY_NOT_FOUND', `the proof index does not cover schema ${s.schema.id} v${s.schema.version} (its stateRoot also commits to the market state); prove from the snapshot with "ark prove --snapshot DIR"`))
    const key = s.cid.toString()
    const running = this.builds.get(key)
    if (running !== undefined) return running
    if (this.builds.size >= PROOF_INDEX_LIMITS.queue) return Promise.reject(new ArkError('IO', `the proof index is busy building ${this.builds.size} snapshots; retry in a few seconds`, { retryable: true }))
    const work = this.chain.then(async () => {
      const t = performance.now()
      await this.close(key)
      // a fresh handle on the same snapshot: the tree (64 bytes per account) is dropped once written, not cached on the caller's object
      const merkle = await checkedMerkle(await Snapshot.open(s.store, s.cid, s.schema, { verifyBlocks: s.reader.verify }))
      const head = Buffer.alloc(HEADER)
      MAGIC.copy(head, 0)
      head.writeUInt32BE(VERSION, 8)
      head.writeUInt32BE(s.root.accountCount, 12)
      Buffer.from(hexToBytes(s.root.stateRoot, 'stateRoot', 32)).copy(head, 32)
      await writeFileAtomic(this.path(key), merkle === null ? [head] : [head, merkle.tree])
      this.log.info({ snapshot: key, accounts: s.root.accountCount, ms: Math.round(performance.now() - t) }, 'proof index written')
    })
    this.chain = work.catch(() => {})
    const tracked = work.finally(() => this.builds.delete(key))
    this.builds.set(key, tracked)
    return tracked
  }

  /**
   * A snapshot was kept here (certified, every block local): write its index
   * unless a valid one is there, then drop the indexes of snapshots no longer held.
   */
  async onKept(store: BlockStore, root: CID): Promise<void> {
    const r = decodeRoot(root, await store.get(root))
    const schema = schemaById(r.schema.id, r.schema.version)
    if (schema.marketLeaves === undefined) await this.ensure(await Snapshot.open(store, root, schema, { verifyBlocks: false }))
    const removed = await this.prune((cid) => store.has(CID.parse(cid)))
    if (removed > 0) this.log.info({ removed }, 'proof indexes of pruned snapshots removed')
  }

  /** Build the index of `s` unless a valid one is there. */
  async ensure(s: Snapshot<unknown, unknown>): Promise<void> {
    if ((await this.openFile(s)) === undefined) await this.build(s)
  }

  /**
   * One account's proof through the index (built first if missing or
   * invalid; rebuilt once if it gives a leaf or root that does not match).
   * KEY_NOT_FOUND when the account is not in the snapshot.
   */
  async prove(s: Snapshot<unknown, unknown>, key: Uint8Array): Promise<AccountProof> {
    let idx = await this.openFile(s)
    if (idx === undefined) {
      await this.build(s)
      idx = await this.openFile(s)
    }
    try {
      if (idx === undefined) throw new TreeNodesMismatchError(`the proof index of ${s.cid.toString()} was just written but does not read back`)
      return await proveAccountFromTree(s, key, idx)
    } catch (err) {
      if (!(err instanceof TreeNodesMismatchError)) throw err
      this.log.warn({ snapshot: s.cid.toString(), err: err.message }, 'proof index does not match its snapshot; rebuilding it')
      await this.build(s)
      const again = await this.openFile(s)
      if (again === undefined) throw err
      return proveAccountFromTree(s, key, again)
    }
  }

  /** Delete the index files of snapshots `keep` says no longer held here. */
  async prune(keep: (cid: string) => boolean | Promise<boolean>): Promise<number> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      return 0
    }
    let removed = 0
    for (const name of names) {
      if (!name.endsWith(SUFFIX)) continue
      const cid = name.slice(0, -SUFFIX.length)
      let held = false
      try {
        held = await keep(CID.parse(cid).toString())
      } catch {
        held = false
      }
      if (held || this.builds.has(cid)) continue
      await this.close(cid)
      await rm(join(this.dir, name), { force: true })
      removed++
    }
    return removed
  }

  async close(cid?: string): Promise<void> {
    const keys = cid === undefined ? [...this.files.keys()] : [cid]
    for (const k of keys) {
      const f = this.files.get(k)
      this.files.delete(k)
      const h = await f?.catch(() => undefined)
      await h?.handle.close().catch(() => {})
    }
  }

  /** The open index of `s` if its file is there and its header fits the snapshot; a bad file is removed. */
  private openFile(s: Snapshot<unknown, unknown>): Promise<OpenIndex | undefined> {
    const key = s.cid.toString()
    let f = this.files.get(key)
    if (f !== undefined) {
      // most recently used last
      this.files.delete(key)
      this.files.set(key, f)
      return f
    }
    f = this.load(s)
    this.files.set(key, f)
    f.then(
      (x) => {
        if (x === undefined && this.files.get(key) === f) this.files.delete(key)
      },
      () => this.files.delete(key),
    ).catch(() => {})
    while (this.files.size > PROOF_INDEX_LIMITS.openFiles) {
      const oldest = this.files.keys().next().value!
      const closing = this.files.get(oldest)!
      this.files.delete(oldest)
      closing.then((x) => x?.handle.close(), () => {}).catch(() => {})
    }
    return f
  }

  private async load(s: Snapshot<unknown, unknown>): Promise<OpenIndex | undefined> {
    const path = this.path(s.cid)
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, path }, 'cannot open the proof index; rebuilding it')
      return undefined
    }
    const n = s.root.accountCount
    const problem = await (async (): Promise<string | undefined> => {
      const size = (await handle.stat()).size
      const want = HEADER + (n === 0 ? 0 : treeBytes(n))
      if (size !== want) return `${size} bytes, not ${want}`
      const head = Buffer.alloc(HEADER + (n === 0 ? 0 : 32))
      await handle.read(head, 0, head.length, 0)
      if (!head.subarray(0, 8).equals(MAGIC) || head.readUInt32BE(8) !== VERSION) return 'not a version-1 proof index'
      if (head.readUInt32BE(12) !== n) return `it counts ${head.readUInt32BE(12)} leaves, the snapshot ${n}`
      const root = bytesToHex(head.subarray(32, 64))
      if (root !== s.root.stateRoot) return `it is for stateRoot ${root}`
      if (n > 0 && bytesToHex(head.subarray(64, 96)) !== s.root.stateRoot) return 'its tree root is not the stateRoot'
      return undefined
    })().catch((err: unknown) => `unreadable (${(err as Error).message})`)
    if (problem !== undefined) {
      await handle.close().catch(() => {})
      this.log.warn({ path, problem }, 'proof index does not fit its snapshot; rebuilding it')
      await rm(path, { force: true })
      return undefined
    }
    return {
      n,
      handle,
      async node(position: number): Promise<Uint8Array> {
        const out = new Uint8Array(32)
        const { bytesRead } = await handle.read(out, 0, 32, HEADER + position * 32)
        if (bytesRead !== 32) throw new TreeNodesMismatchError(`the proof index ${path} is short`)
        return out
      },
    }
  }
}
