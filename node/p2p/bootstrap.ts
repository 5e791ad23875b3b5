import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import type { Service } from './service.ts'

export interface BootstrapInit {
  /** resolved when the service starts (libp2p exists only once Helia has started) */
  libp2p: () => Libp2p
  self: PeerId
  /** multiaddrs of peers to stay connected to; a /p2p/<id> suffix lets the dialer know who it reached without dialing */
  addrs: readonly (string | Multiaddr)[]
  /** first retry after a failed dial or a disconnect (default 500 ms), doubling per failure */
  minBackoffMs?: number
  /** retry interval ceiling (default 30 s) */
  maxBackoffMs?: number
  /** one dial attempt's deadline (default 10 s) */
  dialTimeoutMs?: number
  /** how often the loop looks for peers to (re)dial (default 250 ms) */
  tickMs?: number
  log?: Logger
}

interface Entry {
  addr: Multiaddr
  peer: string | undefined
  failures: number
  nextAt: number
  dialing: boolean
}

export interface BootstrapDialer extends Service {
  /** bootstrap addresses with their state, for status pages and tests */
  status(): { addr: string; peer: string | undefined; connected: boolean; failures: number }[]
}

function peerOf(addr: Multiaddr): string | undefined {
  const p2p = addr.getComponents().filter((c) => c.name === 'p2p')
  return p2p.length === 0 ? undefined : p2p[p2p.length - 1]!.value
}

/**
 * Keeps this node connected to its bootstrap peers: dials them at start and
 * redials on disconnect or failure with exponential backoff (with jitter so a
 * restarted network does not redial in lockstep). Owns one timer and one
 * AbortController, both gone after stop().
 */
export function bootstrapDialer(init: BootstrapInit): BootstrapDialer {
  const minMs = init.minBackoffMs ?? 500
  const maxMs = init.maxBackoffMs ?? 30_000
  const dialTimeoutMs = init.dialTimeoutMs ?? 10_000
  const tickMs = init.tickMs ?? 250
  const self = init.self.toString()
  const entries: Entry[] = init.addrs
    .map((a) => (typeof a === 'string' ? multiaddr(a) : a))
    .map((addr) => ({ addr, peer: peerOf(addr), failures: 0, nextAt: 0, dialing: false }))
    .filter((e) => e.peer !== self)
  let libp2p: Libp2p | undefined
  let controller: AbortController | undefined
  let timer: NodeJS.Timeout | undefined
  const inflight = new Set<Promise<void>>()

  const backoff = (failures: number): number => {
    const base = Math.min(maxMs, minMs * 2 ** Math.min(failures, 20))
    return base / 2 + Math.random() * (base / 2)
  }

  const connected = (e: Entry): boolean => {
    if (libp2p === undefined || e.peer === undefined) return false
    try {
      return libp2p.getConnections(peerIdFromString(e.peer)).length > 0
    } catch {
      return false
    }
  }

  const dial = async (e: Entry, signal: AbortSignal): Promise<void> => {
    e.dialing = true
    try {
      const conn = await libp2p!.dial(e.addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]) })
      const peer = conn.remotePeer.toString()
      if (e.peer !== undefined && e.peer !== peer) init.log?.warn({ addr: e.addr.toString(), expected: e.peer, got: peer }, 'bootstrap address answered with a different peer id')
      e.peer = peer
      e.failures = 0
      init.log?.debug({ addr: e.addr.toString(), peer }, 'connected to bootstrap peer')
    } catch (err) {
      if (signal.aborted) return
      e.failures++
      e.nextAt = Date.now() + backoff(e.failures)
      init.log?.debug({ addr: e.addr.toString(), failures: e.failures, err: (err as Error).message }, 'bootstrap dial failed; will retry')
    } finally {
      e.dialing = false
    }
  }

  const tick = (): void => {
    timer = undefined
    const c = controller
    if (c === undefined || c.signal.aborted) return
    const now = Date.now()
    for (const e of entries) {
      if (e.dialing || now < e.nextAt || connected(e)) continue
      const p = dial(e, c.signal)
      inflight.add(p)
      p.then(() => inflight.delete(p), () => inflight.delete(p))
    }
    timer = setTimeout(tick, tickMs)
    timer.unref()
  }

  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    for (const e of entries) {
      if (e.peer !== peer) continue
      // reconnect soon, but not in a tight loop with a peer that keeps hanging up
      e.nextAt = Math.max(e.nextAt, Date.now() + backoff(e.failures))
      e.failures++
    }
  }

  return {
    name: 'bootstrap',
    async start() {
      libp2p = init.libp2p()
      controller = new AbortController()
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      tick()
    },
    async stop() {
      controller?.abort()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      libp2p?.removeEventListener('peer:disconnect', onDisconnect)
      await Promise.allSettled([...inflight])
      controller = undefined
    },
    status() {
      return entries.map((e) => ({ addr: e.addr.toString(), peer: e.peer, connected: connected(e), failures: e.failures }))
    },
  }
}
