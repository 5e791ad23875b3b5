import { serveProviders, type ProviderRecord } from './api-routing.ts'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino, type Logger } from 'pino'
import { ArkError } from '../../snapshot/ark-error.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import type { Service } from '../p2p/service.ts'
import { sendGatewayError, serveIpfs } from './gateway.ts'
import { BLOCK_BATCH_LIMITS, serveBlockBatch } from './block-batch.ts'
import { PROM_CONTENT_TYPE, type Counter, type Histogram, type PromRegistry } from './metrics.ts'
import { HttpError, sendJSON, sendJSONError, sendText } from './respond.ts'
import { background } from '../util/background.ts'
import { createExplorerApi } from './api-explorer.ts'
import { createProofApi, type ProofSource } from './api-proof.ts'
import { applyCors, CORS_ENV, parseCorsOrigins } from './api-cors.ts'
import { serveExplorer } from './explorer/serve.ts'
import { readRestitutionBody, type RestitutionBody } from './admin-restitution.ts'
import { HTTP_DEFAULTS, type HttpLimits } from './limits.ts'
import { authorized, methodNotAllowed, parseBlockNumber, parseCheckpointRange, parseEvidencePage, parseSnapshotBody, readBody, route, sha256, type CheckpointRange, type Route } from './request.ts'

/**
 * The archive node's HTTP API (node:http only):
 *
 *   GET  /v1/status                       node status (JSON)
 *   GET  /v1/checkpoints?from=&to=&limit= certified checkpoints in a block range
 *   GET  /v1/checkpoints/{block|latest}   one checkpoint
 *   GET  /v1/checkpoints/{block}/proof/{account}  one account's proof (ark.proof.v1; api-proof.ts)
 *   GET  /v1/evidence?cursor=&limit=      equivocation evidence seen, one page (next: the cursor for the next page)
 *   GET  /v1/alerts                       watchdog conditions, alert quorums, emergencies (404 without a watchdog)
 *   GET  /metrics                         Prometheus text format 0.0.4
 *   GET  /healthz                         200 "ok" or 503 with the reasons (alive: restart when failing)
 *   GET  /readyz                          200 "ok" or 503 with the reasons (caught up with the certified head, enough peers)
 *   GET  /ipfs/{cid}                      trustless gateway: raw block or CAR
 *   POST /v1/blocks                       blocks by CID (one per line) as one CAR: incremental fetch
 *   POST /v1/admin/snapshot               take a snapshot now (bearer token)
 *   POST /v1/admin/restitution            compute and attest a restitution table (bearer token)
 *   GET  /v1/checkpoints/{block}/summary, /v1/checkpoints/{block}/accounts/{address}, /v1/diff, /v1/totals,
 *        /v1/checkpoints/{block}/anchor, /v1/divergences, /v1/operators
 *                                         the explorer's reads (api-explorer.ts)
 *   GET  /explorer/                       the web explorer (explorer/serve.ts)
 *
 * JSON everywhere except /metrics, /healthz, /readyz and /ipfs; errors are
 * {"error":{"code","message"[,"parameter"]}} and never carry stack traces.
 * No CORS headers unless origins are listed (init `cors` or ARK_HTTP_CORS; api-cors.ts). HEAD
 * is answered wherever GET is. Binds 127.0.0.1 unless told otherwise.
 */


/** One certified checkpoint as the API shows it (integers as decimal strings, bytes as 0x-hex). */
export interface CheckpointView {
  block: string
  kind: 'scheduled' | 'emergency' | 'restitution'
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


export { HTTP_DEFAULTS, type HttpLimits } from './limits.ts'
export type { CheckpointRange } from './request.ts'

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
  metrics(): string | Promise<string>
  health(): { ok: boolean; reasons: string[] }
  /** GET /readyz: ready to serve (caught up, enough peers); without it /readyz follows health */
  ready?(): { ok: boolean; reasons: string[] }
  admin?: {
    snapshotNow(block?: bigint): Promise<Record<string, unknown>>
    /** compute, store and attest a restitution table (PROTOCOL "Restitution (kind 2)"); optional */
    restitution?(req: RestitutionBody): Promise<Record<string, unknown>>
  }
  /** divergence reports (block, ours, certified, accounts); absent: the explorer shows none reported */
  divergences?: () => Record<string, unknown>[]
  /** the operator set at the finalized head (per-checkpoint sets are in the checkpoint views) */
  operators?: () => Promise<{ operators: { address: string; weight: string }[]; threshold: string; totalWeight: string }>
  /** this node's peer id and dial addresses, for GET /routing/v1/providers/{cid}; absent: not a libp2p node */
  provider?: () => ProviderRecord
  /** whether the certified checkpoint at `block` is recorded in ArkRegistry (undefined: no certificate there); absent without a registry */
  anchoring?: (block: bigint) => Promise<Record<string, unknown> | undefined>
  /** the node's proof index (GET /v1/checkpoints/{block}/proof/{account}); absent: proofs from the in-memory tree */
  proofs?: ProofSource
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
  /** origins allowed to read the API from a browser (CORS); default: env ARK_HTTP_CORS, else none */
  cors?: readonly string[]
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

interface HttpMetrics {
  requests: Counter<'route' | 'method' | 'code'>
  duration: Histogram<'route'>
  carAborts: Counter<'reason'>
}

export function createHttpApi(init: HttpApiInit): HttpApi {
  const view = init.view
  const host = init.host ?? HTTP_DEFAULTS.host
  const port = init.port ?? HTTP_DEFAULTS.port
  const limits: HttpLimits = { ...HTTP_DEFAULTS, ...init.limits }
  const log = init.logger ?? pino({ level: 'silent' })
  if (init.adminToken !== undefined && init.adminToken.length < 16) throw new ArkError('INVALID_INPUT', 'the admin token is too short (under 16 characters); use loadOrCreateAdminToken() to get a random one')
  const tokenDigest = init.adminToken === undefined ? undefined : sha256(init.adminToken)
  const corsOrigins = parseCorsOrigins(init.cors ?? process.env[CORS_ENV])
  const explorer = createExplorerApi(view)
  const proofs = createProofApi(view)
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
      case 'checkpoint_proof':
        return proofs.handle(req, res, url)
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
        return sendText(res, 200, await view.metrics(), {}, PROM_CONTENT_TYPE)
      case 'healthz':
      case 'readyz': {
        if (!read) throw methodNotAllowed('GET, HEAD')
        let h: { ok: boolean; reasons: string[] }
        try {
          h = r === 'readyz' && view.ready !== undefined ? view.ready() : view.health()
        } catch (err) {
          log.error({ err, route: r }, 'health check threw')
          h = { ok: false, reasons: ['health check failed'] }
        }
        const word = r === 'readyz' ? 'not ready' : 'unhealthy'
        return h.ok ? sendText(res, 200, 'ok\n') : sendText(res, 503, `${word}\n${h.reasons.map((x) => `- ${x.replace(/[\r\n]+/g, ' ')}\n`).join('')}`)
      }
      case 'ipfs':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return serveIpfs(req, res, url, gatewayCtx())
      case 'routing_providers':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return serveProviders(req, res, url, view.blocks, view.provider)
      case 'blocks':
        if (method !== 'POST') throw methodNotAllowed('POST')
        return serveBlockBatch(req, res, await readBody(req, BLOCK_BATCH_LIMITS.maxBodyBytes), gatewayCtx())
      case 'admin_snapshot':
      case 'admin_restitution': {
        const admin = view.admin
        if (tokenDigest === undefined || admin === undefined || (r === 'admin_restitution' && admin.restitution === undefined)) throw new HttpError(404, 'NOT_FOUND', 'no such endpoint')
        if (method !== 'POST') throw methodNotAllowed('POST')
        if (!authorized(req.headers.authorization, tokenDigest)) throw new HttpError(401, 'UNAUTHORIZED', 'send Authorization: Bearer <admin token>', { headers: { 'WWW-Authenticate': 'Bearer realm="ark-admin"' } })
        let run: () => Promise<Record<string, unknown>>
        if (r === 'admin_restitution') {
          const body = await readRestitutionBody(req)
          log.info({ before: body.before.toString(), after: body.after.toString(), excluded: body.exclude.length }, 'admin: restitution requested')
          run = () => admin.restitution!(body)
        } else {
          const block = parseSnapshotBody(req, await readBody(req, limits.maxBodyBytes))
          log.info({ block: block?.toString() }, 'admin: snapshot requested')
          run = () => admin.snapshotNow(block)
        }
        let result: Record<string, unknown>
        try {
          result = await run()
        } catch (err) {
          if (err instanceof ArkError) {
            log.warn({ err, route: r }, 'admin request failed')
            // the caller is authenticated: Ark's messages say what to do
            throw new HttpError(err.code === 'INVALID_INPUT' || err.code === 'USAGE' ? 400 : 500, err.code, err.message)
          }
          throw err
        }
        return sendJSON(res, 200, result)
      }
      case 'explorer':
        if (!read) throw methodNotAllowed('GET, HEAD')
        return serveExplorer(req, res, url)
      case 'checkpoint_summary':
      case 'checkpoint_anchor':
      case 'checkpoint_account':
      case 'diff':
      case 'totals':
      case 'divergences':
      case 'operators':
        return explorer.handle(req, res, url, r)
      case 'unknown':
        throw new HttpError(404, 'NOT_FOUND', 'no such endpoint; see /v1/status, /v1/checkpoints, /v1/evidence, /metrics, /healthz, /readyz, /ipfs/{cid}, /routing/v1/providers/{cid}')
      default: {
        // a route added to request.ts but not here would leave the request unanswered: a compile error instead
        const unhandled: never = r
        throw new Error(`route ${String(unhandled)} has no handler`)
      }
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
      if (applyCors(req, res, corsOrigins, parsed.pathname)) return
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
      if (r === 'ipfs' || r === 'blocks') sendGatewayError(res, e)
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
