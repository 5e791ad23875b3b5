import type { CID } from 'multiformats/cid'
import type { Block } from '../../snapshot/codec/block.ts'
import { cidKey, type BlockStore } from '../../snapshot/store.ts'
import type { Staging } from './staging.ts'

/**
 * A view of the staging store whose get() waits for a block that
 * has not arrived yet, so the snapshot can be verified while it is being
 * fetched (a CAR arrives depth-first, the order verification reads it in).
 * fail() rejects every wait, now and later.
 */
export class WaitingStore implements BlockStore {
  private readonly staging: Staging
  private readonly waiters = new Map<string, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }[]>()
  private failed: { err: unknown } | undefined

  constructor(staging: Staging) {
    this.staging = staging
    staging.onPut = (block: Block) => {
      if (this.waiters.size === 0) return
      const key = cidKey(block.cid)
      const w = this.waiters.get(key)
      if (w === undefined) return
      this.waiters.delete(key)
      for (const x of w) x.resolve(block.bytes)
    }
  }

  get(cid: CID): Uint8Array | Promise<Uint8Array> {
    if (this.staging.has(cid)) return this.staging.get(cid)
    if (this.failed !== undefined) return Promise.reject(this.failed.err)
    return new Promise((resolve, reject) => {
      const key = cidKey(cid)
      const list = this.waiters.get(key)
      if (list === undefined) this.waiters.set(key, [{ resolve, reject }])
      else list.push({ resolve, reject })
    })
  }

  has(cid: CID): boolean {
    return this.staging.has(cid)
  }

  /** blocks derived from the snapshot later (e.g. applyChanges) go to memory only, not to the staging log */
  put(block: Block): void {
    this.staging.memory.put(block)
  }

  /** whether `err` is the one fail() was given (a wait cut short, not a verification failure) */
  failedWith(err: unknown): boolean {
    return this.failed !== undefined && this.failed.err === err
  }

  fail(err: unknown): void {
    this.failed = { err }
    for (const w of this.waiters.values()) for (const x of w) x.reject(err)
    this.waiters.clear()
  }

  detach(): void {
    this.staging.onPut = undefined
  }
}
