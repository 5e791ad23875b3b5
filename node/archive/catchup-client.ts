import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { CATCHUP_LIMITS } from '../../protocol/catchup.ts'
import { certificatePages } from '../p2p/catchup.ts'
import { background } from '../util/background.ts'

export interface CatchUpClientInit {
  libp2p: Libp2p
  /** the block to ask from (the node's retention floor), read at each catch-up */
  from: () => bigint
  /** decode, check, verify and keep one certificate; true if it was new to the node */
  accept: (bytes: Uint8Array) => Promise<boolean>
  log: Logger
  signal: AbortSignal
  /** pages in a row with nothing new before a peer's catch-up stops (default CATCHUP_LIMITS.maxStalePages) */
  maxStalePages?: number
}

/**
 * The node side of catch-up: asks peers for every certificate from the
 * retention floor on, page by page, and hands each to `accept`. A peer is
 * asked when the node calls `all()` (at start, after skipping ahead) and,
 * once `watch()` was called, whenever a peer connects: a restarted node
 * learns what it missed while down from the first peer it reaches, and a
 * healed partition fills its hole. One catch-up per peer at a time: asked
 * again meanwhile, it runs once more when done (what was certified since its
 * first page must not be missed). A peer that fails (timeout, bad answer, bad
 * certificate) is skipped until next time.
 */
export class CatchUpClient {
  private readonly init: CatchUpClientInit
  private readonly busy = new Set<string>()
  private readonly again = new Set<string>()

  constructor(init: CatchUpClientInit) {
    this.init = init
  }

  /** Every connected peer, one after the other; the number of certificates that were new. */
  async all(): Promise<number> {
    let got = 0
    for (const peer of this.init.libp2p.getPeers()) got += await this.peer(peer)
    return got
  }

  async peer(peer: PeerId): Promise<number> {
    const key = peer.toString()
    if (this.init.signal.aborted) return 0
    if (this.busy.has(key)) {
      this.again.add(key)
      return 0
    }
    this.busy.add(key)
    let got = 0
    try {
      do {
        this.again.delete(key)
        got += await this.once(peer)
      } while (this.again.has(key) && !this.init.signal.aborted)
    } finally {
      this.busy.delete(key)
      this.again.delete(key)
    }
    if (got > 0) this.init.log.info({ peer: key, certificates: got }, 'caught up from a peer')
    return got
  }

  /**
   * One catch-up from one peer. Each page is checked as it arrives (protocol/catchup.ts: blocks from
   * the cursor on, ascending, nothing repeated, the cursor past them), and a peer whose pages bring
   * nothing new `maxStalePages` times in a row is stopped (PROTOCOL.md §8.9): a peer can no longer
   * make us read 1,024 MiB of certificates we hold on every connection.
   */
  private async once(peer: PeerId): Promise<number> {
    let got = 0
    let stale = 0
    const maxStale = this.init.maxStalePages ?? CATCHUP_LIMITS.maxStalePages
    try {
      for await (const page of certificatePages(this.init.libp2p, peer, this.init.from(), { signal: this.init.signal })) {
        let fresh = 0
        for (const bytes of page) if (await this.init.accept(bytes)) fresh++
        got += fresh
        stale = fresh === 0 ? stale + 1 : 0
        if (stale >= maxStale) {
          this.init.log.debug({ peer: peer.toString(), pages: stale }, 'catch-up peer sends only certificates we hold; stopped')
          break
        }
      }
    } catch (err) {
      if (!this.init.signal.aborted) this.init.log.debug({ err, peer: peer.toString() }, 'catch-up from a peer failed')
    }
    return got
  }

  /** From now on, catch up from each peer as it connects. */
  watch(): void {
    const onConnect = (evt: CustomEvent<PeerId>): void => background(this.peer(evt.detail), this.init.log, 'catch-up from a new peer', this.init.signal)
    this.init.libp2p.addEventListener('peer:connect', onConnect)
    this.init.signal.addEventListener('abort', () => this.init.libp2p.removeEventListener('peer:connect', onConnect), { once: true })
  }
}
