import type { IncomingMessage, ServerResponse } from 'node:http'
import { ArkError } from '../../snapshot/ark-error.ts'

/**
 * Opt-in CORS for the read API, so an explorer page served from another origin (a static host,
 * another node) can read this node. Off unless origins are listed: the init option `cors`, else
 * the environment variable ARK_HTTP_CORS (comma-separated origins, or "*" for any). Only GET and
 * HEAD are ever allowed cross-origin; the admin endpoint never is.
 */

export const CORS_ENV = 'ARK_HTTP_CORS'

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/

/** Parse and check the allowed origins (exact scheme://host[:port], or "*"). */
export function parseCorsOrigins(list: readonly string[] | string | undefined): ReadonlySet<string> {
  const items = (typeof list === 'string' ? list.split(',') : (list ?? [])).map((x) => x.trim()).filter((x) => x.length > 0)
  for (const o of items) {
    if (o !== '*' && !ORIGIN.test(o)) throw new ArkError('INVALID_INPUT', `CORS origin ${JSON.stringify(o.slice(0, 80))} is not an origin; give scheme://host[:port] with no path or trailing slash (e.g. http://localhost:8080), or "*" for any`)
  }
  return new Set(items)
}

/**
 * Add the CORS headers a listed origin needs. Returns true when the request was a preflight
 * (OPTIONS) and has been answered.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: ReadonlySet<string>, pathname: string): boolean {
  if (allowed.size === 0 || pathname.startsWith('/v1/admin/')) return false
  const origin = req.headers.origin
  if (origin === undefined) return false
  const ok = allowed.has('*') || allowed.has(origin)
  res.setHeader('Vary', 'Origin')
  if (!ok) return false
  res.setHeader('Access-Control-Allow-Origin', allowed.has('*') ? '*' : origin)
  if (req.method !== 'OPTIONS') return false
  res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Accept, Range', 'Access-Control-Max-Age': '600', 'Content-Length': '0' })
  res.end()
  return true
}
