/**
 * Per-checkpoint records that would otherwise grow with the chain (the node's
 * own signatures, no-quorum reports, divergence reports): capped in count
 * (oldest insertion out first) and pruned below the retention floor.
 */
export class BlockMap<V> {
  private readonly map = new Map<bigint, V>()
  readonly max: number

  constructor(max: number) {
    this.max = max
  }

  set(block: bigint, v: V): void {
    this.map.delete(block)
    this.map.set(block, v)
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!)
  }

  get(block: bigint): V | undefined {
    return this.map.get(block)
  }

  get size(): number {
    return this.map.size
  }

  values(): IterableIterator<V> {
    return this.map.values()
  }

  pruneBelow(floor: bigint): void {
    for (const b of this.map.keys()) if (b < floor) this.map.delete(b)
  }
}

/** Reports about checkpoints (block as a decimal string), newest last, capped and pruned with retention. */
export class ReportLog<T extends { block: string }> {
  private readonly list: T[] = []
  readonly max: number

  constructor(max: number) {
    this.max = max
  }

  push(r: T): void {
    this.list.push(r)
    if (this.list.length > this.max) this.list.splice(0, this.list.length - this.max)
  }

  /** Oldest first; read-only view of the log itself. */
  get items(): readonly T[] {
    return this.list
  }

  pruneBelow(floor: bigint): void {
    const kept = this.list.filter((r) => BigInt(r.block) >= floor)
    this.list.splice(0, this.list.length, ...kept)
  }
}

/** Caps of the per-checkpoint records (PROTOCOL.md "Node resource bounds"). */
export const RECORD_LIMITS = Object.freeze({ own: 1024, noQuorum: 256, divergences: 64 })
