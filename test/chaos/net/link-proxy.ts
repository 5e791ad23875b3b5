import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * What one directed link does to the bytes it carries, changeable at run time.
 * TCP never loses bytes the application can see: a lost segment shows up as a retransmission delay, so
 * `loss` is modelled as that delay (a chunk is held `lossPenaltyMs` longer, order kept). `blackhole`
 * keeps the connections open but forwards nothing (a silent partition); `blocked` refuses connections
 * and resets the open ones (a loud partition).
 */
export interface LinkFault {
  blocked?: boolean
  blackhole?: boolean
  latencyMs?: number
  jitterMs?: number
  /** 0..1: share of chunks delayed by a retransmission penalty */
  loss?: number
  lossPenaltyMs?: number
  /** bytes per second in each direction (0 or undefined: unlimited) */
  bytesPerSecond?: number
}

export interface LinkStats {
  connections: number
  refused: number
  cut: number
  bytes: number
  /** local ports of the proxy's upstream sockets (to tell proxied connections from bypassing ones) */
  upstreamPorts: number[]
}

/** One direction of a connection: chunks leave in order, each no earlier than its fault says. */
class Pipe {
  private nextAt = 0
  private pending = 0
  private readonly from: Socket
  private readonly to: Socket
  private readonly fault: () => LinkFault
  private readonly count: (n: number) => void
  constructor(from: Socket, to: Socket, fault: () => LinkFault, count: (n: number) => void) {
    this.from = from
    this.to = to
    this.fault = fault
    this.count = count
    from.on('data', (chunk: Buffer) => this.push(chunk))
    // a half-close travels after the bytes queued before it
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, this.nextAt - Date.now())).unref())
  }

  private push(chunk: Buffer): void {
    const f = this.fault()
    if (f.blackhole === true) return
    const now = Date.now()
    let delay = (f.latencyMs ?? 0) + (f.jitterMs ?? 0) * (Math.random() * 2 - 1)
    if ((f.loss ?? 0) > 0 && Math.random() < f.loss!) delay += f.lossPenaltyMs ?? 200
    let at = Math.max(this.nextAt, now + Math.max(0, delay))
    if ((f.bytesPerSecond ?? 0) > 0) at += (chunk.length * 1000) / f.bytesPerSecond!
    this.nextAt = at
    if (at <= now && this.pending === 0) return this.write(chunk)
    this.pending++
    // back-pressure: a throttled or delayed link must not buffer without bound in the proxy
    if (this.pending > 256) this.from.pause()
    const t = setTimeout(() => {
      this.pending--
      if (this.pending < 64) this.from.resume()
      this.write(chunk)
    }, at - now)
    t.unref()
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed) return
    this.count(chunk.length)
    this.to.write(chunk)
  }
}

/**
 * A TCP proxy for one directed link (node A dials node B through it). Its upstream (B's real listen
 * port) can change when B restarts; until it is known, connections are refused.
 */
export class LinkProxy {
  private server: Server | undefined
  private upstream: number | undefined
  private readonly open = new Set<{ a: Socket; b: Socket }>()
  fault: LinkFault = {}
  readonly stats: LinkStats = { connections: 0, refused: 0, cut: 0, bytes: 0, upstreamPorts: [] }
  port = 0

  async listen(): Promise<number> {
    this.server = createServer({ noDelay: true }, (a) => this.accept(a))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this.port
  }

  setUpstream(port: number | undefined): void {
    this.upstream = port
  }

  setFault(f: LinkFault): void {
    this.fault = f
    if (f.blocked === true) this.cut()
  }

  /** Reset every open connection (mid-stream); new ones are accepted again unless blocked. */
  cut(): number {
    let n = 0
    for (const c of this.open) {
      c.a.resetAndDestroy()
      c.b.resetAndDestroy()
      n++
    }
    this.open.clear()
    this.stats.cut += n
    return n
  }

  private accept(a: Socket): void {
    a.on('error', () => {})
    if (this.upstream === undefined || this.fault.blocked === true) {
      this.stats.refused++
      a.resetAndDestroy()
      return
    }
    const b = connect({ host: '127.0.0.1', port: this.upstream, noDelay: true })
    b.on('error', () => {})
    const pair = { a, b }
    this.open.add(pair)
    this.stats.connections++
    b.on('connect', () => {
      if (b.localPort !== undefined) this.stats.upstreamPorts.push(b.localPort)
      if (this.stats.upstreamPorts.length > 4096) this.stats.upstreamPorts.splice(0, 2048)
    })
    const count = (n: number): void => void (this.stats.bytes += n)
    new Pipe(a, b, () => this.fault, count)
    new Pipe(b, a, () => this.fault, count)
    const close = (): void => {
      this.open.delete(pair)
      a.destroy()
      b.destroy()
    }
    a.on('close', close)
    b.on('close', close)
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())))
  }
}
