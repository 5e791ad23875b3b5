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

/** Free loopback TCP ports, all held at once so none is handed out twice, then released for the nodes to bind. */
export async function reservePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer()
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(0, '127.0.0.1', () => resolve())
      })
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
