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

const BASE32 = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')
const chars = Buffer.alloc(256)

/**
 * cid.toString() without its per-CID cache: a CIDv1's string is "b" + RFC 4648
 * base32 (lower case, unpadded) of its bytes. multiformats memoizes the string
 * in a WeakMap of Maps, which costs more than encoding for the many CIDs a
 * tree walk decodes once and looks up once.
 */
export function cidKey(cid: CID): string {
  const bytes = cid.bytes
  if (cid.version !== 1 || bytes.length > 150) return cid.toString()
  chars[0] = 0x62 // 'b'
  let n = 1
  let acc = 0
  let bits = 0
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      chars[n++] = BASE32[(acc >> bits) & 31]!
    }
  }
  if (bits > 0) chars[n++] = BASE32[(acc << (5 - bits)) & 31]!
  return chars.toString('latin1', 0, n)
}

/** Memory store that hash-checks every block it accepts. Keys are CID strings (cid.toString()). */
export class MemoryBlockStore implements BlockStore {
  readonly blocks = new Map<string, Uint8Array>()
  private readonly verifyOnPut: boolean

  constructor(options: { verifyOnPut?: boolean } = {}) {
    this.verifyOnPut = options.verifyOnPut ?? false
  }

  get(cid: CID): Uint8Array {
    const bytes = this.blocks.get(cidKey(cid))
    if (bytes === undefined) throw new BlockNotFoundError(cid.toString())
    return bytes
  }

  put(block: Block): void {
    if (this.verifyOnPut) checkBlock(block.cid, block.bytes)
    this.blocks.set(cidKey(block.cid), block.bytes)
  }

  has(cid: CID): boolean {
    return this.blocks.has(cidKey(cid))
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
