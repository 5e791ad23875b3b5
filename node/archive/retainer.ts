import { CID } from 'multiformats/cid'
import type { Logger } from 'pino'
import { collectGarbage, retainedBlocks, retentionFloor, type GcStore } from './retention.ts'
import type { CertificateStore } from './certificate-store.ts'
import type { NodeConfig } from './config.ts'

/** Dropped snapshot roots remembered while garbage collection waits for incomplete kept DAGs. */
export const MAX_PENDING_DROPS = 1024

export interface RetainerInit {
  config: Pick<NodeConfig, 'retention' | 'checkpoint'>
  certificates: CertificateStore
  /** the local blockstore (never the network) */
  blocks: () => GcStore
  /** snapshots of our own recent checkpoints (the next one builds on them) */
  ownRecent: () => CID[]
  /** every per-checkpoint record outside the certificate store, pruned to the floor with it */
  pruneBelow: (floor: bigint) => void
  finalizedHead: () => bigint
  log: Logger
  counters: { retentionDeletedBlocks: number }
}

/**
 * Retention (the policy's functions live in retention.ts): drop certificates
 * the policy no longer keeps, garbage-collect the blocks no kept snapshot
 * uses, and prune every per-checkpoint record (evidence, own signatures,
 * reports) below the retention floor. One run at a time.
 */
export class Retainer {
  private readonly init: RetainerInit
  private running = false
  /** roots of dropped snapshots whose garbage collection was postponed (a kept DAG was incomplete) */
  private pending: CID[] = []

  constructor(init: RetainerInit) {
    this.init = init
  }

  /** The oldest checkpoint the node still cares about (gossip, catch-up, fetches, records). */
  floor(): bigint {
    const c = this.init.config
    return retentionFloor(this.init.finalizedHead(), c.checkpoint.interval, c.retention.keepLast)
  }

  async apply(): Promise<void> {
    const { config, certificates, log } = this.init
    const r = config.retention
    this.init.pruneBelow(this.floor())
    const all = certificates.list()
    if (this.running || (all.length <= r.keepLast && this.pending.length === 0)) return
    this.running = true
    try {
      const keep = retainedBlocks(
        all.map((s) => s.certificate.body.blockNumber),
        r.keepLast,
        config.checkpoint.interval * BigInt(r.keepEvery),
      )
      const dropped = all.filter((s) => !keep.has(s.certificate.body.blockNumber))
      if (dropped.length === 0 && this.pending.length === 0) return
      const kept = all.filter((s) => keep.has(s.certificate.body.blockNumber)).map((s) => s.cid)
      for (const s of dropped) await certificates.remove(s.certificate.body.blockNumber, s.certificate.body.kind)
      const drop = [...this.pending, ...dropped.map((s) => s.cid)]
      const { deleted, postponed } = await collectGarbage(this.init.blocks(), [...kept, ...this.init.ownRecent()], drop)
      this.init.counters.retentionDeletedBlocks += deleted
      // bounded: past the cap the oldest postponed roots are forgotten (their blocks stay on disk, never a kept block lost)
      this.pending = postponed ? drop.slice(-MAX_PENDING_DROPS) : []
      if (postponed) log.info({ dropped: dropped.map((s) => s.certificate.body.blockNumber.toString()), pending: this.pending.length }, 'retention: a kept snapshot is still incomplete here; block garbage collection postponed')
      else log.info({ dropped: dropped.map((s) => s.certificate.body.blockNumber.toString()), deletedBlocks: deleted }, 'retention: dropped old checkpoints')
    } finally {
      this.running = false
    }
  }
}

/** Our newest own snapshots as CIDs. */
export function recentSnapshots(snapshots: Iterable<{ snapshot: string }>, n = 4): CID[] {
  return [...snapshots].slice(-n).map((o) => CID.parse(o.snapshot))
}
