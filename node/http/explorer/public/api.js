// The node's JSON API. The base is this page's own node unless ?node=URL names another (which must
// list this page's origin in ARK_HTTP_CORS).

export function nodeBase() {
  const given = new URLSearchParams(location.search).get('node')
  if (given !== null && /^https?:\/\//.test(given)) return given.replace(/\/+$/, '')
  return location.origin
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

const cache = new Map()

/** GET a JSON path; answers of immutable endpoints are kept for the page's life. */
export async function get(path, { keep = false } = {}) {
  const url = `${nodeBase()}${path}`
  if (keep && cache.has(url)) return cache.get(url)
  const p = (async () => {
    let res
    try {
      res = await fetch(url, { headers: { accept: 'application/json' } })
    } catch (e) {
      throw new ApiError(0, 'NETWORK', `cannot reach ${nodeBase()} (${e.message}); is the node running, and does it allow this origin (ARK_HTTP_CORS)?`)
    }
    const body = await res.json().catch(() => ({}))
    if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'HTTP', body?.error?.message ?? `HTTP ${res.status}`)
    return body
  })()
  if (keep) {
    cache.set(url, p)
    p.catch(() => cache.delete(url))
  }
  return p
}

export const checkpoints = (q = '') => get(`/v1/checkpoints${q}`)
export const checkpoint = (block) => get(`/v1/checkpoints/${encodeURIComponent(block)}`, { keep: block !== 'latest' })
export const summary = (block) => get(`/v1/checkpoints/${encodeURIComponent(block)}/summary`, { keep: true })
export const anchor = (block) => get(`/v1/checkpoints/${encodeURIComponent(block)}/anchor`)
export const account = (block, address) => get(`/v1/checkpoints/${encodeURIComponent(block)}/accounts/${encodeURIComponent(address)}`, { keep: true })
export const diff = (from, to) => get(`/v1/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&top=5`, { keep: true })
export const totals = (limit = 24) => get(`/v1/totals?limit=${limit}`)
export const status = () => get('/v1/status')
export const evidence = () => get('/v1/evidence?limit=50')
export const alerts = () => get('/v1/alerts').catch((e) => (e.status === 404 ? null : Promise.reject(e)))
export const divergences = () => get('/v1/divergences').catch((e) => (e.status === 404 ? { divergences: [] } : Promise.reject(e)))
export const operators = () => get('/v1/operators').catch((e) => (e.status === 404 ? null : Promise.reject(e)))

/** One raw block from the node's trustless gateway (checked by the caller against its CID). */
export async function rawBlock(cid) {
  const res = await fetch(`${nodeBase()}/ipfs/${encodeURIComponent(cid)}?format=raw`, { headers: { accept: 'application/vnd.ipld.raw' } })
  if (!res.ok) throw new ApiError(res.status, 'HTTP', `block ${cid}: HTTP ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}
