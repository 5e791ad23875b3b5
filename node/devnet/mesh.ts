import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreatePeerKey } from '../p2p/identity.ts'

export interface Mesh {
  /** each node's listen address, a fixed loopback port so a restarted node is found where it was */
  listen: string[]
  /** each node's full address (listen + /p2p/<peer id>) */
  addrs: string[]
  /** the addresses node i bootstraps from: every other node */
  bootstrap: (i: number) => string[]
}

/**
 * The kernel's ephemeral range: ports handed out to `listen(0)` and to outgoing connections.
 * Fixed mesh ports are chosen below it, because a port released after probing and then bound
 * later (the nodes start seconds after their configs are written) could meanwhile be handed to
 * any other process's `listen(0)` or outgoing dial if it lay inside: EADDRINUSE at node start.
 */
export function ephemeralPortRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return { low: low!, high: high! }
  } catch {
    // not Linux, or /proc not mounted: the IANA dynamic range
  }
  return { low: 49152, high: 65535 }
}

const FIXED_PORT_FLOOR = 10000

function bind(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(undefined))
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}

/**
 * Free loopback TCP ports outside the ephemeral range, all held at once so none is handed out
 * twice, then released for the nodes to bind. Random picks keep concurrent callers (parallel
 * test workers, two devnets) apart; a taken port is skipped.
 */
export async function reservePorts(n: number): Promise<number[]> {
  const { low } = ephemeralPortRange()
  const floor = low - FIXED_PORT_FLOOR >= 1000 ? FIXED_PORT_FLOOR : 1024
  const span = low - floor
  const servers: Server[] = []
  try {
    for (let tries = 0; servers.length < n; tries++) {
      // a host whose ephemeral range starts too low to leave room: the kernel's own choice
      const s = span < 1000 || tries > 50 * n ? await bind(0) : await bind(floor + Math.floor(Math.random() * span))
      if (s !== undefined) servers.push(s)
      else if (span < 1000 || tries > 50 * n) throw new Error('no free loopback TCP port: free some ports, or set p2p.listen explicitly')
    }
    return servers.map((s) => (s.address() as { port: number }).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  }
}

/**
 * A full mesh decided before any node starts: each data directory gets its
 * peer key now (the node loads it, never replaces it) and each node a fixed
 * port, so every node's config can name all the others. No node is a hub:
 * losing any one leaves the rest connected to each other, and a node started
 * again with the same config comes back at the same address.
 */
export async function prepareMesh(dataDirs: readonly string[]): Promise<Mesh> {
  const ports = await reservePorts(dataDirs.length)
  const listen = ports.map((p) => `/ip4/127.0.0.1/tcp/${p}`)
  const addrs: string[] = []
  for (const [i, d] of dataDirs.entries()) addrs.push(`${listen[i]!}/p2p/${peerIdFromPrivateKey(await loadOrCreatePeerKey(d)).toString()}`)
  return { listen, addrs, bootstrap: (i) => addrs.filter((_, k) => k !== i) }
}
