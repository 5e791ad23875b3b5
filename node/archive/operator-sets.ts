import { readFile } from 'node:fs/promises'
import { parseOperatorSet, type OperatorSet } from '../../protocol/operator-set.ts'
import type { BlockHeader, ChainSource } from '../../snapshot/chain/source.ts'
import { readOperatorSet } from '../chain/registry.ts'
import type { NodeConfig } from './config.ts'

export interface OperatorSetsInit {
  source: ChainSource
  config: NodeConfig['operators']
  /** sets kept per block (registry); the oldest read goes first. Default 512. */
  maxCached?: number
}

type Header = Pick<BlockHeader, 'number' | 'hash'>

/** Same addresses, weights and threshold. */
export function sameOperatorSet(a: OperatorSet, b: OperatorSet): boolean {
  return a.threshold === b.threshold && a.weights.size === b.weights.size && [...a.weights].every(([k, w]) => b.weights.get(k) === w)
}

/**
 * The operator set that counts for each checkpoint. From a file: one set for
 * every block. From the on-chain ArkRegistry: the set the chain had at the
 * checkpoint block (eth_calls pinned to its hash), read once per block and
 * cached; for a block this node does not yet see as final, the newest final
 * set it knows (`latest`). A certificate for block N is checked against the
 * set at N, whatever governance did since.
 */
export class OperatorSets {
  private readonly source: ChainSource
  private readonly registry: `0x${string}` | undefined
  private readonly maxCached: number
  private readonly byBlock = new Map<bigint, OperatorSet>()
  private readonly reading = new Map<bigint, Promise<OperatorSet>>()
  private newest: { block: bigint; set: OperatorSet }

  private constructor(init: OperatorSetsInit, first: { block: bigint; set: OperatorSet }) {
    this.source = init.source
    this.registry = 'registry' in init.config ? init.config.registry : undefined
    this.maxCached = init.maxCached ?? 512
    this.newest = first
  }

  /** Reads the file, or the registry at `head` (the finalized head at start). */
  static async open(init: OperatorSetsInit, head: Header, signal?: AbortSignal): Promise<OperatorSets> {
    if ('file' in init.config) return new OperatorSets(init, { block: -1n, set: parseOperatorSet(JSON.parse(await readFile(init.config.file, 'utf8'))) })
    const sets = new OperatorSets(init, { block: head.number, set: await readOperatorSet(init.source, init.config.registry, head.hash, signal) })
    sets.remember(head.number, sets.newest.set)
    return sets
  }

  get onChain(): boolean {
    return this.registry !== undefined
  }

  /** The set at the newest final block read so far (the file's set for a file source). */
  get latest(): OperatorSet {
    return this.newest.set
  }

  /** Read the set at a checkpoint's final header (registry only); true if it differs from the newest set before. */
  async refresh(header: Header, signal?: AbortSignal): Promise<boolean> {
    if (this.registry === undefined) return false
    const before = this.newest.set
    await this.at(header, signal)
    return !sameOperatorSet(before, this.newest.set)
  }

  /** The set at a final, canonical header (the caller vouches for both); cached per block. */
  async at(header: Header, signal?: AbortSignal): Promise<OperatorSet> {
    if (this.registry === undefined) return this.newest.set
    const registry = this.registry
    return this.read(header.number, async () => readOperatorSet(this.source, registry, header.hash, signal))
  }

  /**
   * The set that counts for block `block`: cached, else read at the canonical header of that block if
   * it is final (`<= finalizedHead`), else the newest final set.
   */
  async forBlock(block: bigint, finalizedHead: bigint, signal?: AbortSignal): Promise<OperatorSet> {
    if (this.registry === undefined) return this.newest.set
    const hit = this.byBlock.get(block)
    if (hit !== undefined) return hit
    if (block > finalizedHead) return this.newest.set
    const registry = this.registry
    return this.read(block, async () => readOperatorSet(this.source, registry, (await this.source.agreedHeader(block, signal)).hash, signal))
  }

  /** Without I/O: the cached set for `block`, else the newest final set. */
  cached(block: bigint): OperatorSet {
    return this.byBlock.get(block) ?? this.newest.set
  }

  private read(block: bigint, load: () => Promise<OperatorSet>): Promise<OperatorSet> {
    const hit = this.byBlock.get(block)
    if (hit !== undefined) return Promise.resolve(hit)
    let p = this.reading.get(block)
    if (p === undefined) {
      p = load().then((set) => this.remember(block, set))
      this.reading.set(block, p)
      const forget = (): void => void this.reading.delete(block)
      p.then(forget, forget)
    }
    return p
  }

  private remember(block: bigint, set: OperatorSet): OperatorSet {
    this.byBlock.set(block, set)
    if (block > this.newest.block) this.newest = { block, set }
    while (this.byBlock.size > this.maxCached) this.byBlock.delete(this.byBlock.keys().next().value!)
    return set
  }
}
