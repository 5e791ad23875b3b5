import { peerIdFromCID, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { readBodyCapped } from '../../snapshot/chain/rpc.ts'
import { httpTarget, redact } from '../../snapshot/chain/errors.ts'
import { SourceError } from './source.ts'

/** What one routing answer may hold: a hostile endpoint cannot make the fetch dial without bound. */
export const ROUTING_LIMITS = Object.freeze({ bodyBytes: 256 * 1024, providers: 16, addrsPerProvider: 8, timeoutMs: 15_000 })

/**
 * Providers of `cid` from a Delegated Routing V1 HTTP endpoint (`GET /routing/v1/providers/{cid}`, as
 * archive nodes, someguy or a Kubo node serve it), as multiaddrs with `/p2p/<peer id>` that
 * `ark fetch --peer` dials. Only TCP addresses are kept (the peers Ark dials use TCP); records that
 * do not parse are skipped. Every provider is untrusted like any other source: what it sends is
 * hash-checked and verified against the trust root.
 */
export async function routingProviders(endpoint: string, cid: CID, signal?: AbortSignal): Promise<string[]> {
  const t = httpTarget(endpoint)
  const url = `${t.url.replace(/\/+$/, '')}/routing/v1/providers/${cid.toString()}`
  let res: Response
  try {
    const timeout = AbortSignal.timeout(ROUTING_LIMITS.timeoutMs)
    res = await fetch(url, { headers: { accept: 'application/json', ...t.headers }, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
  } catch (cause) {
    signal?.throwIfAborted()
    throw new SourceError(`routing endpoint ${redact(endpoint)} is unreachable (${(cause as Error).message})`, { cause, retryable: true })
  }
  if (res.status === 404) {
    await res.body?.cancel()
    return []
  }
  if (!res.ok) {
    await res.body?.cancel()
    throw new SourceError(`routing endpoint ${redact(endpoint)} answered HTTP ${res.status}`, { retryable: res.status >= 500 })
  }
  const body = await readBodyCapped(res, ROUTING_LIMITS.bodyBytes)
  if (body === undefined) throw new SourceError(`routing endpoint ${redact(endpoint)} sent more than ${ROUTING_LIMITS.bodyBytes} bytes`)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'))
  } catch {
    throw new SourceError(`routing endpoint ${redact(endpoint)} did not answer JSON`)
  }
  const providers = (parsed as { Providers?: unknown })?.Providers
  if (providers === null) return []
  if (!Array.isArray(providers)) throw new SourceError(`routing endpoint ${redact(endpoint)}: no "Providers" list in the answer`)
  const out: string[] = []
  for (const p of providers.slice(0, ROUTING_LIMITS.providers)) {
    const r = p as { Schema?: unknown; ID?: unknown; Addrs?: unknown }
    if (r?.Schema !== 'peer' || typeof r.ID !== 'string' || !Array.isArray(r.Addrs)) continue
    let id: string
    try {
      id = (r.ID.startsWith('b') ? peerIdFromCID(CID.parse(r.ID)) : peerIdFromString(r.ID)).toString()
    } catch {
      continue
    }
    for (const a of r.Addrs.slice(0, ROUTING_LIMITS.addrsPerProvider)) {
      if (typeof a !== 'string' || a.length > 256) continue
      try {
        const ma = multiaddr(a)
        if (!ma.getComponents().some((c) => c.name === 'tcp') || ma.getComponents().some((c) => c.name === 'p2p')) continue
        out.push(`${ma.toString()}/p2p/${id}`)
      } catch {
        // not a multiaddr: skipped
      }
    }
  }
  return [...new Set(out)]
}
