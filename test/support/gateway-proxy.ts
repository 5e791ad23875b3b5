import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CID } from 'multiformats/cid'
import { encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { encodeCar, parseCar } from '../cli/helpers.ts'

/**
 * An HTTP proxy in front of a real archive node's API / trustless gateway that injects faults into
 * the responses: the node stays the source of truth, only what reaches the client is altered.
 */

export interface ProxyResponse {
  status: number
  contentType: string
  body: Buffer
}

export interface GatewayProxy {
  url: string
  /** request paths seen, in order */
  seen: string[]
  close(): Promise<void>
}

/**
 * `rewrite(path, response, upstream)` may return a different response (or undefined to pass it
 * through); `upstream(path)` fetches any other path from the real node.
 */
export async function startGatewayProxy(
  upstream: string,
  rewrite: (path: string, res: ProxyResponse, fetchUpstream: (path: string) => Promise<ProxyResponse>) => Promise<ProxyResponse | undefined> | ProxyResponse | undefined,
): Promise<GatewayProxy> {
  const seen: string[] = []
  const fetchUpstream = async (path: string, accept = '*/*'): Promise<ProxyResponse> => {
    const up = await fetch(`${upstream}${path}`, { headers: { accept } })
    return { status: up.status, contentType: up.headers.get('content-type') ?? 'application/octet-stream', body: Buffer.from(await up.arrayBuffer()) }
  }
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    seen.push(path)
    void (async () => {
      const accept = String(req.headers.accept ?? '*/*')
      const original = await fetchUpstream(path, accept)
      const out = (await rewrite(path, original, (p) => fetchUpstream(p, accept))) ?? original
      if (!res.destroyed) res.writeHead(out.status, { 'content-type': out.contentType }).end(req.method === 'HEAD' ? undefined : out.body)
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(String(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const cidInPath = (path: string): string | undefined => /^\/ipfs\/([^/?]+)/.exec(path)?.[1]

function flipByte(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes)
  const i = out.length >> 1
  out[i] = out[i]! ^ 0x01
  return out
}

/**
 * Serves one snapshot block with one bit flipped, whether it is asked for alone (`format=raw`) or
 * inside a CAR: the first block that is not protected (certificates) is chosen, then always the same.
 * Everything else passes through.
 */
export function tamperOneBlock(protect: ReadonlySet<string>): { rewrite: Parameters<typeof startGatewayProxy>[1]; target: () => string | undefined } {
  let target: string | undefined
  const rewrite = (path: string, res: ProxyResponse): ProxyResponse | undefined => {
    const cid = cidInPath(path)
    if (cid === undefined || res.status !== 200) return undefined
    if (res.contentType.includes('car')) {
      const car = parseCar(res.body)
      const candidates = car.blocks.filter((b) => !protect.has(b.cid.toString()))
      const victim = candidates.find((b) => b.cid.toString() === target) ?? (target === undefined ? candidates.at(-1) : undefined)
      if (victim === undefined) return undefined
      target = victim.cid.toString()
      const blocks = car.blocks.map((b) => (b === victim ? { cid: b.cid, bytes: flipByte(b.bytes) } : b))
      return { ...res, body: Buffer.from(encodeCar(car.roots, blocks)) }
    }
    if (protect.has(cid)) return undefined
    target ??= cid
    return cid === target ? { ...res, body: Buffer.from(flipByte(res.body)) } : undefined
  }
  return { rewrite, target: () => target }
}

/**
 * Serves `forged` in place of the certificate `real`: every JSON answer that names the real
 * certificate's CID names the forged one instead, and the forged block is served for its CID (raw,
 * or as the root of the CAR that also carries the snapshot).
 */
export function substituteCertificate(real: CID, forged: Certificate): { rewrite: Parameters<typeof startGatewayProxy>[1]; cid: CID } {
  const block = encodeCertificate(forged)
  const realText = real.toString()
  const forgedText = block.cid.toString()
  const rewrite = async (path: string, res: ProxyResponse, upstream: (p: string) => Promise<ProxyResponse>): Promise<ProxyResponse | undefined> => {
    const cid = cidInPath(path)
    if (cid === undefined) {
      if (!res.contentType.includes('json')) return undefined
      return { ...res, body: Buffer.from(res.body.toString('utf8').split(realText).join(forgedText)) }
    }
    if (cid !== forgedText) return undefined
    const query = path.slice(path.indexOf(cid) + cid.length)
    const real_ = await upstream(`/ipfs/${realText}${query}`)
    if (real_.status !== 200) return real_
    if (real_.contentType.includes('car')) {
      const car = parseCar(real_.body)
      const blocks = car.blocks.map((b) => (b.cid.equals(real) ? { cid: block.cid, bytes: block.bytes } : b))
      return { ...real_, body: Buffer.from(encodeCar([block.cid], blocks)) }
    }
    return { ...real_, body: Buffer.from(block.bytes) }
  }
  return { rewrite, cid: block.cid }
}
