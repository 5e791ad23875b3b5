import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { LinkProxy, type LinkFault } from './link-proxy.ts'

/**
 * The cluster's network, made of one LinkProxy per directed pair of nodes: node i dials node j only
 * through link(i, j), so a fault on that proxy is a fault on exactly that link. Set per link, per
 * node or for all at run time.
 */
export class FaultNet {
  private readonly links = new Map<string, LinkProxy>()
  private readonly upstream: (number | undefined)[]

  readonly n: number
  private constructor(n: number) {
    this.n = n
    this.upstream = Array.from({ length: n }, () => undefined)
  }

  static async create(n: number): Promise<FaultNet> {
    const net = new FaultNet(n)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i === j) continue
        const l = new LinkProxy()
        await l.listen()
        net.links.set(`${i}>${j}`, l)
      }
    return net
  }

  link(from: number, to: number): LinkProxy {
    const l = this.links.get(`${from}>${to}`)
    if (l === undefined) throw new Error(`no link ${from}>${to} in a ${this.n}-node net`)
    return l
  }

  /** The address node `from` dials to reach node `to` (with `to`'s peer id). */
  addr(from: number, to: number, peerId: string): string {
    return `/ip4/127.0.0.1/tcp/${this.link(from, to).port}/p2p/${peerId}`
  }

  /** Node i listens on this real port now (after a restart: a new one). */
  setUpstream(i: number, port: number | undefined): void {
    this.upstream[i] = port
    for (let from = 0; from < this.n; from++) if (from !== i) this.link(from, i).setUpstream(port)
  }

  /** Both directions between a and b. */
  setPair(a: number, b: number, f: LinkFault): void {
    this.link(a, b).setFault(f)
    this.link(b, a).setFault(f)
  }

  setAll(f: LinkFault): void {
    for (const l of this.links.values()) l.setFault(f)
  }

  /** Nodes in different groups cannot reach each other; inside a group the links are clean. */
  partition(groups: number[][]): void {
    const group = new Map<number, number>()
    groups.forEach((g, k) => g.forEach((i) => group.set(i, k)))
    for (let i = 0; i < this.n; i++)
      for (let j = 0; j < this.n; j++) if (i !== j) this.link(i, j).setFault(group.get(i) === group.get(j) ? {} : { blocked: true })
  }

  /** Cut node i off from everyone (its process keeps running). */
  isolate(i: number): void {
    for (let j = 0; j < this.n; j++) if (j !== i) this.setPair(i, j, { blocked: true })
  }

  heal(): void {
    this.setAll({})
  }

  /** Reset the open connections of node i's links (or all), without blocking new ones. */
  cut(i?: number): number {
    let n = 0
    for (const [k, l] of this.links) {
      const [a, b] = k.split('>').map(Number)
      if (i === undefined || a === i || b === i) n += l.cut()
    }
    return n
  }

  stats(): { connections: number; refused: number; cut: number; bytes: number } {
    const s = { connections: 0, refused: 0, cut: 0, bytes: 0 }
    for (const l of this.links.values()) {
      s.connections += l.stats.connections
      s.refused += l.stats.refused
      s.cut += l.stats.cut
      s.bytes += l.stats.bytes
    }
    return s
  }

  /**
   * Established TCP connections to a node's real listen port that did not come through a proxy: a
   * node that learned a peer's real address (identify) and dialed it bypasses the faults. Linux only
   * (/proc/net/tcp); elsewhere 0.
   */
  async bypassing(): Promise<number> {
    return (await this.bypassConnections()).length
  }

  private async bypassConnections(): Promise<{ real: number; remote: number }[]> {
    const real = new Set(this.upstream.filter((p): p is number => p !== undefined))
    const ours = new Set<number>()
    for (const l of this.links.values()) for (const p of l.stats.upstreamPorts) ours.add(p)
    const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '')
    const out: { real: number; remote: number }[] = []
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 4 || f[3] !== '01') continue // 01 = ESTABLISHED
      const local = parseInt(f[1]!.split(':')[1]!, 16)
      const remote = parseInt(f[2]!.split(':')[1]!, 16)
      if (real.has(local) && !ours.has(remote)) out.push({ real: local, remote })
    }
    return out
  }

  /** connections that bypassed the proxies and were reset by enforce() */
  bypassKilled = 0
  /** why enforcement is off, when it is */
  enforcement: 'on' | 'off' | string = 'off'
  private enforcer: NodeJS.Timeout | undefined

  /**
   * The node config has no announce option, so identify tells peers each node's real listen address
   * and libp2p sometimes dials it, around the proxies. Until the node can announce the proxy address,
   * such connections are reset as soon as they are seen twice in a row (a proxied connection is
   * recognised by its upstream port, known a moment after it connects), with `ss -K` (root, Linux).
   */
  enforce(everyMs = 300): void {
    if (this.enforcer !== undefined) return
    this.enforcement = 'on'
    let suspects = new Set<string>()
    const scan = async (): Promise<void> => {
      const now = new Set<string>()
      for (const c of await this.bypassConnections()) {
        const k = `${c.real}:${c.remote}`
        now.add(k)
        if (!suspects.has(k)) continue
        const ok = await new Promise<boolean>((resolve) => execFile('ss', ['-K', 'state', 'established', `( sport = :${c.real} and dport = :${c.remote} ) or ( sport = :${c.remote} and dport = :${c.real} )`], (err) => resolve(err === null)))
        if (ok) this.bypassKilled++
        else this.enforcement = 'ss -K failed (needs root and a kernel with socket destroy): bypassing connections are only counted'
      }
      suspects = now
    }
    const tick = (): void => {
      this.enforcer = setTimeout(() => void scan().catch(() => {}).finally(() => this.enforcer !== undefined && tick()), everyMs)
      this.enforcer.unref()
    }
    tick()
  }

  async close(): Promise<void> {
    if (this.enforcer !== undefined) clearTimeout(this.enforcer)
    this.enforcer = undefined
    await Promise.all([...this.links.values()].map((l) => l.close()))
  }
}
