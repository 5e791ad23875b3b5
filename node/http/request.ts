import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { HTTP_DEFAULTS, type HttpLimits } from './limits.ts'
import { HttpError } from './respond.ts'

/** Parsing and checking what a client sends (paths, query parameters, bodies, tokens): every failure is a 4xx HttpError naming the parameter. */

export interface CheckpointRange {
  from?: bigint
  to?: bigint
  limit: number
}

const UINT64_MAX = (1n << 64n) - 1n
const DECIMAL = /^[0-9]{1,20}$/

export type Route = 'status' | 'checkpoints' | 'checkpoint' | 'checkpoint_proof' | 'evidence' | 'alerts' | 'metrics' | 'healthz' | 'readyz' | 'ipfs' | 'routing_providers' | 'blocks' | 'admin_snapshot' | 'admin_restitution' | 'explorer' | ExplorerRoute | 'unknown'

export function parseBlockNumber(text: string, parameter: string): bigint {
  if (!DECIMAL.test(text)) throw new HttpError(400, 'INVALID_PARAMETER', `${parameter} must be a non-negative decimal integer, got ${JSON.stringify(text.slice(0, 40))}`, { parameter })
  const n = BigInt(text)
  if (n > UINT64_MAX) throw new HttpError(400, 'INVALID_PARAMETER', `${parameter} must be at most 2^64-1`, { parameter })
  return n
}

/** Validate ?from=&to=&limit= (non-negative integers, from ≤ to, 1 ≤ limit ≤ max). */
export function parseCheckpointRange(query: URLSearchParams, limits: Pick<HttpLimits, 'checkpointsLimit' | 'maxCheckpointsLimit'> = HTTP_DEFAULTS): CheckpointRange {
  for (const k of new Set(query.keys())) {
    if (k !== 'from' && k !== 'to' && k !== 'limit') throw new HttpError(400, 'INVALID_PARAMETER', `unknown query parameter ${JSON.stringify(k.slice(0, 40))}; use from, to and limit`, { parameter: k.slice(0, 40) })
    if (query.getAll(k).length > 1) throw new HttpError(400, 'INVALID_PARAMETER', `${k} is given more than once`, { parameter: k })
  }
  const range: CheckpointRange = { limit: limits.checkpointsLimit }
  const from = query.get('from')
  const to = query.get('to')
  const limit = query.get('limit')
  if (from !== null) range.from = parseBlockNumber(from, 'from')
  if (to !== null) range.to = parseBlockNumber(to, 'to')
  if (range.from !== undefined && range.to !== undefined && range.to < range.from) throw new HttpError(400, 'INVALID_PARAMETER', `to (${range.to}) is below from (${range.from})`, { parameter: 'to' })
  if (limit !== null) {
    if (!/^[0-9]{1,7}$/.test(limit) || Number(limit) < 1 || Number(limit) > limits.maxCheckpointsLimit) {
      throw new HttpError(400, 'INVALID_PARAMETER', `limit must be an integer from 1 to ${limits.maxCheckpointsLimit}`, { parameter: 'limit' })
    }
    range.limit = Number(limit)
  }
  return range
}

/** Validate ?cursor=&limit= of /v1/evidence. */
export function parseEvidencePage(query: URLSearchParams, limits: Pick<HttpLimits, 'evidenceLimit' | 'maxEvidenceLimit'> = HTTP_DEFAULTS): { cursor?: number; limit: number } {
  for (const k of new Set(query.keys())) {
    if (k !== 'cursor' && k !== 'limit') throw new HttpError(400, 'INVALID_PARAMETER', `unknown query parameter ${JSON.stringify(k.slice(0, 40))}; use cursor and limit`, { parameter: k.slice(0, 40) })
    if (query.getAll(k).length > 1) throw new HttpError(400, 'INVALID_PARAMETER', `${k} is given more than once`, { parameter: k })
  }
  const page: { cursor?: number; limit: number } = { limit: limits.evidenceLimit }
  const cursor = query.get('cursor')
  const limit = query.get('limit')
  if (cursor !== null) {
    if (!/^[0-9]{1,15}$/.test(cursor)) throw new HttpError(400, 'INVALID_PARAMETER', 'cursor must be the "next" value of a previous page', { parameter: 'cursor' })
    page.cursor = Number(cursor)
  }
  if (limit !== null) {
    if (!/^[0-9]{1,7}$/.test(limit) || Number(limit) < 1 || Number(limit) > limits.maxEvidenceLimit) throw new HttpError(400, 'INVALID_PARAMETER', `limit must be an integer from 1 to ${limits.maxEvidenceLimit}`, { parameter: 'limit' })
    page.limit = Number(limit)
  }
  return page
}

export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Bearer token check in constant time (hashes make the lengths equal). */
export function authorized(header: string | undefined, tokenDigest: Buffer): boolean {
  if (header === undefined) return false
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  if (m === null) return false
  return timingSafeEqual(sha256(m[1]!), tokenDigest)
}

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > max) throw new HttpError(413, 'BODY_TOO_LARGE', `request body is over ${max} bytes`, { headers: { Connection: 'close' } })
  const parts: Buffer[] = []
  let n = 0
  for await (const chunk of req) {
    n += (chunk as Buffer).length
    if (n > max) throw new HttpError(413, 'BODY_TOO_LARGE', `request body is over ${max} bytes`, { headers: { Connection: 'close' } })
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts)
}

/** An admin request's JSON object body (content type, syntax, an object, only `fields`), or 4xx. */
export function jsonObjectBody(req: IncomingMessage, body: Buffer, fields: readonly string[]): Record<string, unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
  let v: unknown
  try {
    v = JSON.parse(body.toString('utf8'))
  } catch {
    throw new HttpError(400, 'INVALID_BODY', 'body is not valid JSON')
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'INVALID_BODY', 'body must be a JSON object')
  for (const k of Object.keys(v)) if (!fields.includes(k)) throw new HttpError(400, 'INVALID_PARAMETER', `unknown field ${JSON.stringify(k.slice(0, 40))}; ${fields.length === 1 ? `the only field is ${fields[0]}` : `the fields are ${fields.join(', ')}`}`, { parameter: k.slice(0, 40) })
  return v as Record<string, unknown>
}

/** Body of POST /v1/admin/snapshot: empty, or {"block": "<decimal>" | <integer>}. */
export function parseSnapshotBody(req: IncomingMessage, body: Buffer): bigint | undefined {
  if (body.length === 0) return undefined
  const v = jsonObjectBody(req, body, ['block'])
  const block = (v as { block?: unknown }).block
  if (block === undefined) return undefined
  if (typeof block === 'number' && Number.isSafeInteger(block) && block >= 0) return BigInt(block)
  if (typeof block === 'string') return parseBlockNumber(block, 'block')
  throw new HttpError(400, 'INVALID_PARAMETER', 'block must be a non-negative integer or a decimal string', { parameter: 'block' })
}

export function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { headers: { Allow: allow } })
}

/** The explorer's read endpoints (api-explorer.ts). */
export type ExplorerRoute = 'checkpoint_summary' | 'checkpoint_anchor' | 'checkpoint_account' | 'diff' | 'totals' | 'divergences' | 'operators'

function explorerRoute(pathname: string): ExplorerRoute | undefined {
  if (/^\/v1\/checkpoints\/[0-9]{1,20}\/summary$/.test(pathname)) return 'checkpoint_summary'
  if (/^\/v1\/checkpoints\/[0-9]{1,20}\/anchor$/.test(pathname)) return 'checkpoint_anchor'
  if (/^\/v1\/checkpoints\/[0-9]{1,20}\/accounts\/[^/]+$/.test(pathname)) return 'checkpoint_account'
  if (pathname === '/v1/diff') return 'diff'
  if (pathname === '/v1/totals') return 'totals'
  if (pathname === '/v1/divergences') return 'divergences'
  if (pathname === '/v1/operators') return 'operators'
  return undefined
}

export function route(pathname: string): Route {
  if (pathname === '/v1/status') return 'status'
  if (pathname === '/v1/checkpoints') return 'checkpoints'
  if (/^\/v1\/checkpoints\/[^/]+$/.test(pathname)) return 'checkpoint'
  if (/^\/v1\/checkpoints\/[^/]+\/proof\/[^/]+$/.test(pathname)) return 'checkpoint_proof'
  if (pathname === '/v1/evidence') return 'evidence'
  if (pathname === '/v1/alerts') return 'alerts'
  if (pathname === '/metrics') return 'metrics'
  if (pathname === '/healthz') return 'healthz'
  if (pathname === '/readyz') return 'readyz'
  if (pathname.startsWith('/ipfs/')) return 'ipfs'
  if (pathname.startsWith('/routing/v1/providers/')) return 'routing_providers'
  if (pathname === '/v1/blocks') return 'blocks'
  if (pathname === '/v1/admin/snapshot') return 'admin_snapshot'
  if (pathname === '/v1/admin/restitution') return 'admin_restitution'
  if (pathname === '/explorer' || pathname.startsWith('/explorer/')) return 'explorer'
  return explorerRoute(pathname) ?? 'unknown'
}
