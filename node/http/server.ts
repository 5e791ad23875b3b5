import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino, type Logger } from 'pino'
import { ArkError } from '../../snapshot/ark-error.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { Service } from '../p2p/service.ts'
import { sendGatewayError, serveIpfs } from './gateway.ts'
import { PROM_CONTENT_TYPE, type Counter, type Histogram, type PromRegistry } from './metrics.ts'
import { HttpError, sendJSON, sendJSONError, sendText } from './respond.ts'
import { background } from '../util/background.ts'

/**
 * The archive node's HTTP API (node:http only):
 *
 *   GET  /v1/status                       node status (JSON)
 *   GET  /v1/checkpoints?from=&to=&limit= certified checkpoints in a block range
 *   GET  /v1/checkpoints/{block|latest}   one checkpoint
 *   GET  /v1/evidence?cursor=&limit=      equivocation evidence seen, one page (next: the cursor for the next page)
 *   GET  /v1/alerts                       watchdog conditions, alert quorums, emergencies (404 without a watchdog)
 *   GET  /metrics                         Prometheus text format 0.0.4
 *   GET  /healthz                         200 "ok" or 503 with the reasons
 *   GET  /ipfs/{cid}                      trustless gateway: raw block or CAR
 *   POST /v1/admin/snapshot               take a snapshot now (bearer token)
 *
 * JSON everywhere except /metrics, /healthz and /ipfs; errors are
 * {"error":{"code","message"[,"parameter"]}} and never carry stack traces.
 * No CORS headers: browsers on other origins cannot read responses. HEAD
 * is answered wherever GET is. Binds 127.0.0.1 unless told otherwise.
 */

export const HTTP_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  /** /v1/checkpoints page size when no limit is given, and the largest allowed */
  checkpointsLimit: 100,
  maxCheckpointsLimit: 1000,
  /** largest POST body accepted */
  maxBodyBytes: 4 * 1024,
  /** CAR streams served at once; more get 503 + Retry-After */
  maxCarStreams: 8,
  maxConnections: 256,
  /** connections held at once by one client address; more are closed at once (one client cannot hold every slot) */
  maxConnectionsPerIp: 16,
  /** /v1/evidence page size when no limit is given, and the largest allowed */
  evidenceLimit: 100,
  maxEvidenceLimit: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  /** a connection with no traffic either way this long is closed (a client that stops reading a CAR) */
  idleTimeoutMs: 60_000,
  /** on stop, in-flight requests get this long before connections are cut */
  shutdownGraceMs: 2_000,
})

/** One certified checkpoint as the API shows it (integers as decimal strings, bytes as 0x-hex). */
export interface CheckpointView {
  block: string
  kind: 'scheduled' | 'emergency'
  certificateCid: string
  snapshotCid: string
  stateRoot: string
  blockHash: string
  signers: { signer: string; weight: string }[]
  weight: string
  threshold: string
  /** certificateJSON(): domain, types, primaryType, message, signatures */
  certificate: Record<string, unknown>
}

/** One page of /v1/evidence: items after the cursor, and the cursor of the next page (null: the last page). */
export interface EvidencePage {
  evidence: Record<string, unknown>[]
  next: string | null
}

export interface CheckpointRange {
  from?: bigint
  to?: bigint
  limit: number
}

/** What the HTTP API reads from the node. */
export interface NodeView {
  status(): Record<string, unknown>
  /** checkpoints with from ≤ block ≤ to (bounds optional), at most `limit` */
  checkpoints(range: CheckpointRange): CheckpointView[] | Promise<CheckpointView[]>
  checkpoint(block: bigint | 'latest'): CheckpointView | undefined | Promise<CheckpointView | undefined>
  /** evidence after `cursor` (an opaque decimal from a previous page's `next`), at most `limit`; a plain list (a view without pagination) is one last page */
  evidence(page: { cursor?: number; limit: number }): EvidencePage | Record<string, unknown>[]
  /** watchdog view (GET /v1/alerts); absent when the node runs no watchdog */
  alerts?: () => Record<string, unknown>
  /** local blocks only: the gateway never fetches from the network */
  blocks: BlockStore
  /** Prometheus text exposition, already formatted */
  metrics(): string
  health(): { ok: boolean; reasons: string[] }
  admin?: { snapshotNow(block?: bigint): Promise<Record<string, unknown>> }
}

export interface HttpLimits {
  checkpointsLimit: number
  maxCheckpointsLimit: number
  maxBodyBytes: number
  maxCarStreams: number
  maxConnections: number
  maxConnectionsPerIp: number
  evidenceLimit: number
  maxEvidenceLimit: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  idleTimeoutMs: number
  shutdownGraceMs: number
}

export interface HttpApiInit {
  /** default 127.0.0.1; anything else exposes the API beyond this host */
  host?: string
  /** 0 picks a free port */
  port?: number
  view: NodeView
  /** admin endpoints exist only when this is set (and the view has `admin`) */
  adminToken?: string
  logger?: Logger
  /** aborting stops the server */
  signal?: AbortSignal
  /** if given, request counts and latencies are recorded here (the node should include it in view.metrics()) */
  metrics?: PromRegistry
  limits?: Partial<HttpLimits>
}

export interface HttpApi {
  readonly name: 'http'
  /** listening URL once started */
  readonly url: string | undefined
  start(): Promise<{ url: string }>
  stop(): Promise<void>
}

/** The API as a node Service (start resolves to void), for startAll/stopAll. */
export function httpService(api: HttpApi): Service {
  return {
    name: api.name,
    start: async () => {
      await api.start()
    },
    stop: () => api.stop(),
  }
}

const UINT64_MAX = (1n << 64n) - 1n
const DECIMAL = /^[0-9]{1,20}$/

type Route = 'status' | 'checkpoints' | 'checkpoint' | 'evidence' | 'alerts' | 'metrics' | 'healthz' | 'ipfs' | 'admin_snapshot' | 'unknown'

interface HttpMetrics {
  requests: Counter<'route' | 'method' | 'code'>
  duration: Histogram<'route'>
  carAborts: Counter<'reason'>
}

function parseBlockNumber(text: string, parameter: string): bigint {
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

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Bearer token check in constant time (hashes make the lengths equal). */
function authorized(header: string | undefined, tokenDigest: Buffer): boolean {
  if (header === undefined) return false
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  if (m === null) return false
  return timingSafeEqual(sha256(m[1]!), tokenDigest)
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
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

/** Body of POST /v1/admin/snapshot: empty, or {"block": "<decimal>" | <integer>}. */
function parseSnapshotBody(req: IncomingMessage, body: Buffer): bigint | undefined {
  if (body.length === 0) return undefined
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
  let v: unknown
  try {
    v = JSON.parse(body.toString('utf8'))
  } catch {
    throw new HttpError(400, 'INVALID_BODY', 'body is not valid JSON')
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'INVALID_BODY', 'body must be a JSON object')
  for (const k of Object.keys(v)) if (k !== 'block') throw new HttpError(400, 'INVALID_PARAMETER', `unknown field ${JSON.stringify(k.slice(0, 40))}; the only field is block`, { parameter: k.slice(0, 40) })
  const block = (v as { block?: unknown }).block
  if (block === undefined) return undefined
  if (typeof block === 'number' && Number.isSafeInteger(block) && block >= 0) return BigInt(block)
  if (typeof block === 'string') return parseBlockNumber(block, 'block')
  throw new HttpError(400, 'INVALID_PARAMETER', 'block must be a non-negative integer or a decimal string', { parameter: 'block' })
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { headers: { Allow: allow } })
}

function route(pathname: string): Route {
  if (pathname === '/v1/status') return 'status'
  if (pathname === '/v1/checkpoints') return 'checkpoints'
  if (/^\/v1\/checkpoints\/[^/]+$/.test(pathname)) return 'checkpoint'
  if (pathname === '/v1/evidence') return 'evidence'
  if (pathname === '/v1/alerts') return 'alerts'
  if (pathname === '/metrics') return 'metrics'
  if (pathname === '/healthz') return 'healthz'
  if (pathname.startsWith('/ipfs/')) return 'ipfs'
  if (pathname === '/v1/admin/snapshot') return 'admin_snapshot'
  return 'unknown'
}

export function createHttpApi(init: HttpApiInit): HttpApi {
  const view = init.view
  const host = init.host ?? HTTP_DEFAULTS.host
  const port = init.port ?? HTTP_DEFAULTS.port
  const limits: HttpLimits = { ...HTTP_DEFAULTS, ...init.limits }
  const log = init.logger ?? pino({ level: 'silent' })
  if (init.adminToken !== undefined && init.adminToken.length < 16) throw new ArkError('INVALID_INPUT', 'the admin token is too short (under 16 characters); use loadOrCreateAdminToken() to get a random one')
  const tokenDigest = init.adminToken === undefined ? undefined : sha256(init.adminToken)
  const metrics: HttpMetrics | undefined =
    init.metrics === undefined
      ? undefined
      : {
          requests: init.metrics.counter({ name: 'ark_http_requests_total', help: 'HTTP requests answered, by route, method and status code.', labelNames: ['route', 'method', 'code'] }),
          duration: init.metrics.histogram({ name: 'ark_http_request_duration_seconds', help: 'Time to answer an HTTP request (to the last byte for CAR streams).', labelNames: ['route'] }),
          carAborts: init.metrics.counter({ name: 'ark_http_car_aborts_total', help: 'CAR streams cut short, by reason (missing/corrupt block, client gone, shutdown).', labelNames: ['reason'] }),
        }

  let server: Server | undefined
  let url: string | undefined
  let lifetime = new AbortController()
  let carStreams = 0
  let stopping: Promise<void> | undefined
  let onSignal: (() => void) | undefined

  const gatewayCtx = () => ({
    blocks: view.blocks,
    log,
    signal: lifetime.signal,
    acquireStream: (): boolean => {
      if (carStreams >= limits.maxCarStreams) return false
      carStreams++
      return true
    },
    releaseStream: (): void => {
      carStreams--
    },
    onAbort: (reason: 'missing' | 'corrupt' | 'client' | 'shutdown' | 'error'): void => metrics?.carAborts.inc({ reason }),
  })

  async function dispatch(req: IncomingMessage, res: ServerResponse, url: URL, r: Route): Promise<void> {
    const method = req.method ?? 'GET'
    const read = method === 'GET' || method === 'HEAD'
    switch (r) {
      case 'status':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return sendJSON(res, 200, view.status())
      case 'checkpoints': {
        if (!read) throw methodNotAllowed('GET, HEAD')
        const range = parseCheckpointRange(url.searchParams, limits)
        return sendJSON(res, 200, { checkpoints: await view.checkpoints(range) })
      }
      case 'checkpoint': {
        if (!read) throw methodNotAllowed('GET, HEAD')
        const text = decodeURIComponent(url.pathname.slice('/v1/checkpoints/'.length))
        const block = text === 'latest' ? 'latest' : parseBlockNumber(text, 'block')
        const cp = await view.checkpoint(block)
        if (cp === undefined) throw new HttpError(404, 'NOT_FOUND', block === 'latest' ? 'no checkpoint has been certified yet' : `no certified checkpoint at block ${block}`)
        return sendJSON(res, 200, cp)
      }
      case 'evidence': {
        if (!read) throw methodNotAllowed('GET, HEAD')
        const page = view.evidence(parseEvidencePage(url.searchParams, limits))
        return sendJSON(res, 200, Array.isArray(page) ? { evidence: page, next: null } : page)
      }
      case 'alerts':
        if (!read) throw methodNotAllowed('GET, HEAD')
        if (view.alerts === undefined) throw new HttpError(404, 'NOT_FOUND', 'this node runs no watchdog (config "watchdog")')
        return sendJSON(res, 200, view.alerts())
      case 'metrics':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return sendText(res, 200, view.metrics(), {}, PROM_CONTENT_TYPE)
      case 'healthz': {
        if (!read) throw methodNotAllowed('GET, HEAD')
        let h: { ok: boolean; reasons: string[] }
        try {
          h = view.health()
        } catch (err) {
          log.error({ err }, 'health check threw')
          h = { ok: false, reasons: ['health check failed'] }
        }
        return h.ok ? sendText(res, 200, 'ok\n') : sendText(res, 503, `unhealthy\n${h.reasons.map((x) => `- ${x.replace(/[\r\n]+/g, ' ')}\n`).join('')}`)
      }
      case 'ipfs':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return serveIpfs(req, res, url, gatewayCtx())
      case 'admin_snapshot': {
        const admin = view.admin
        if (tokenDigest === undefined || admin === undefined) throw new HttpError(404, 'NOT_FOUND', 'no such endpoint')
        if (method !== 'POST') throw methodNotAllowed('POST')
        if (!authorized(req.headers.authorization, tokenDigest)) throw new HttpError(401, 'UNAUTHORIZED', 'send Authorization: Bearer <admin token>', { headers: { 'WWW-Authenticate': 'Bearer realm="ark-admin"' } })
        const block = parseSnapshotBody(req, await readBody(req, limits.maxBodyBytes))
        log.info({ block: block?.toString() }, 'admin: snapshot requested')
        let result: Record<string, unknown>
        try {
          result = await admin.snapshotNow(block)
        } catch (err) {
          if (err instanceof ArkError) {
            log.warn({ err }, 'admin snapshot failed')
            // the caller is authenticated: Ark's messages say what to do
            throw new HttpError(err.code === 'INVALID_INPUT' || err.code === 'USAGE' ? 400 : 500, err.code, err.message)
          }
          throw err
        }
        return sendJSON(res, 200, result)
      }
      case 'unknown':
        throw new HttpError(404, 'NOT_FOUND', 'no such endpoint; see /v1/status, /v1/checkpoints, /v1/evidence, /metrics, /healthz, /ipfs/{cid}')
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = process.hrtime.bigint()
    let r: Route = 'unknown'
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      const m = req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST' ? req.method : 'other'
      const code = res.writableFinished ? String(res.statusCode) : 'aborted'
      metrics?.requests.inc({ route: r, method: m, code })
      metrics?.duration.observe({ route: r }, seconds)
      log.debug({ method: m, route: r, status: code, ms: Math.round(seconds * 1000) }, 'http request')
    })
    try {
      let parsed: URL
      try {
        parsed = new URL(req.url ?? '/', 'http://localhost')
      } catch {
        throw new HttpError(400, 'BAD_REQUEST', 'the request target is not a valid URL')
      }
      r = route(parsed.pathname)
      await dispatch(req, res, parsed, r)
    } catch (err) {
      let e: HttpError
      if (err instanceof HttpError) e = err
      else if (err instanceof URIError) e = new HttpError(400, 'BAD_REQUEST', 'the path is not valid percent-encoding')
      else {
        log.error({ err, route: r }, 'http handler failed')
        e = new HttpError(500, 'INTERNAL', "internal error; see the node's log")
      }
      if (res.headersSent || res.destroyed) {
        res.destroy()
        return
      }
      if (r === 'ipfs') sendGatewayError(res, e)
      else sendJSONError(res, e)
    }
  }

  const api: HttpApi = {
    name: 'http',
    get url() {
      return url
    },
    async start() {
      if (url !== undefined) return { url }
      if (stopping !== undefined) throw new ArkError('USAGE', 'the HTTP API was stopped; create a new one')
      init.signal?.throwIfAborted()
      lifetime = new AbortController()
      const s = createServer({ requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs }, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          log.error({ err }, 'http handler failed')
          res.destroy()
        })
      })
      s.timeout = limits.idleTimeoutMs
      s.maxConnections = limits.maxConnections
      // per-address connection cap: a flood from one address is closed before it holds the server's slots
      const perIp = new Map<string, number>()
      s.on('connection', (socket) => {
        const ip = socket.remoteAddress ?? '?'
        const n = perIp.get(ip) ?? 0
        if (n >= limits.maxConnectionsPerIp) {
          socket.destroy()
          return
        }
        perIp.set(ip, n + 1)
        socket.once('close', () => {
          const left = (perIp.get(ip) ?? 1) - 1
          if (left <= 0) perIp.delete(ip)
          else perIp.set(ip, left)
        })
      })
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          reject(new ArkError('IO', `cannot listen on ${host}:${port}: ${err.code ?? err.message}${err.code === 'EADDRINUSE' ? ' (the port is taken; choose another)' : err.code === 'EACCES' ? ' (permission denied; use a port above 1023)' : ''}`, { cause: err, retryable: err.code === 'EADDRINUSE' }))
        }
        s.once('error', onError)
        s.listen(port, host, () => {
          s.off('error', onError)
          resolve()
        })
      })
      s.on('error', (err) => log.error({ err }, 'http server error'))
      server = s
      const addr = s.address() as AddressInfo
      url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
      if (init.signal !== undefined) {
        onSignal = () => background(api.stop(), log, 'stopping the HTTP API')
        init.signal.addEventListener('abort', onSignal, { once: true })
      }
      if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') log.warn({ host }, 'HTTP API listens beyond this host')
      log.info({ url, admin: tokenDigest !== undefined && view.admin !== undefined }, 'HTTP API listening')
      return { url }
    },
    async stop() {
      if (stopping !== undefined) return stopping
      const s = server
      if (s === undefined) {
        stopping = Promise.resolve()
        return stopping
      }
      stopping = (async () => {
        if (onSignal !== undefined) init.signal?.removeEventListener('abort', onSignal)
        const closed = new Promise<void>((resolve) => s.close(() => resolve()))
        s.closeIdleConnections()
        const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limits.shutdownGraceMs).unref())
        if ((await Promise.race([closed.then(() => 'closed' as const), grace])) === 'timeout') {
          lifetime.abort()
          s.closeAllConnections()
          await closed
        }
        lifetime.abort()
        server = undefined
        url = undefined
        log.info('HTTP API stopped')
      })()
      return stopping
    },
  }
  return api
}
