import type { CID } from 'multiformats/cid'
import { BlockNotFoundError } from './errors.ts'
import { checkBlock, type Block } from './codec/block.ts'

/**
 * The engine reads and writes blocks through this interface only; the node
 * backs it with Helia's on-disk blockstore, the CLI with a CAR file, tests
 * with memory. Implementations may be async.
 */
export interface BlockStore {
  get(cid: CID): Promise<Uint8Array> | Uint8Array
  put(block: Block): Promise<void> | void
  has(cid: CID): Promise<boolean> | boolean
}

/** Memory store that hash-checks every block it accepts. */
export class MemoryBlockStore implements BlockStore {
  readonly blocks = new Map<string, Uint8Array>()
  private readonly verifyOnPut: boolean

  constructor(options: { verifyOnPut?: boolean } = {}) {
    this.verifyOnPut = options.verifyOnPut ?? false
  }

  get(cid: CID): Uint8Array {
    const bytes = this.blocks.get(cid.toString())
    if (bytes === undefined) throw new BlockNotFoundError(cid.toString())
    return bytes
  }

  put(block: Block): void {
    if (this.verifyOnPut) checkBlock(block.cid, block.bytes)
    this.blocks.set(block.cid.toString(), block.bytes)
  }

  has(cid: CID): boolean {
    return this.blocks.has(cid.toString())
  }

  get size(): number {
    return this.blocks.size
  }

  get byteLength(): number {
    let n = 0
    for (const b of this.blocks.values()) n += b.length
    return n
  }
}
