/*
 * Over ~400 lines on purpose: this file is the trustless gateway's whole request surface (content
 * negotiation, raw blocks, CAR streams and their per-stream limits), one job read against one spec.
 */
import { createHash, hash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import type { MultibaseDecoder } from 'multiformats/bases/interface'
import type { Logger } from 'pino'
import { frameCar } from '../../snapshot/car/car.ts'
import { DagBlockMissingError, walkDag } from '../../snapshot/dag/walk.ts'
import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'
import { MalformedBlockError } from '../../snapshot/errors.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { HttpError, sendText } from './respond.ts'

/**
 * IPFS trustless gateway (https://specs.ipfs.tech/http-gateways/trustless-gateway/)
 * over the node's local block store: raw blocks and CARv1 streams, nothing
 * deserialized, no network fetches (a non-recursive gateway).
 *
 * - `application/vnd.ipld.raw` / `?format=raw`: one block, hash-checked
 *   before it is sent.
 * - `application/vnd.ipld.car` / `?format=car`: CARv1, blocks in depth-first
 *   order (links in the order a dag-cbor block encodes them), each block
 *   once (`dups=n`), every block hash-checked. `dag-scope=block` (and
 *   `entity`, `entity-bytes`: for dag-cbor and raw blocks the entity is the
 *   block) sends only the root. A block missing or corrupt mid-walk aborts
 *   the connection, so the client sees a failed transfer, never a CAR that
 *   ends cleanly without it.
 */

export const RAW = 'application/vnd.ipld.raw'
export const CAR = 'application/vnd.ipld.car'
export const CAR_CONTENT_TYPE = `${CAR}; version=1; order=dfs; dups=n`
export const IMMUTABLE = 'public, max-age=29030400, immutable'

const CODEC_RAW = 0x55
const CODEC_DAG_CBOR = 0x71
const HASH_IDENTITY = 0x00
export const HASH_SHA2_256 = 0x12
/** Blocks are written to the socket in chunks of about this size. */
const CHUNK_BYTES = 64 * 1024

const basesByPrefix = new Map<string, { decode(text: string): Uint8Array<ArrayBuffer> }>(Object.values(bases).map((b) => [b.prefix as string, b]))
/** Any multibase multiformats knows, chosen by the prefix (first code point). */
const multibase: MultibaseDecoder<string> = {
  decode(text: string): Uint8Array<ArrayBuffer> {
    const prefix = String.fromCodePoint(text.codePointAt(0) ?? 0)
    const base = basesByPrefix.get(prefix)
    if (base === undefined) throw new Error(`unknown multibase prefix ${JSON.stringify(prefix)}`)
    return base.decode(text)
  },
}

export interface GatewayContext {
  blocks: BlockStore
  log: Logger
  /** aborted when the server stops */
  signal: AbortSignal
  /** try to take a CAR stream slot; false when too many are running */
  acquireStream(): boolean
  releaseStream(): void
  /** a CAR stream was cut short (missing or corrupt block, client gone or too slow, shutdown) */
  onAbort(reason: 'missing' | 'corrupt' | 'client' | 'slow' | 'shutdown' | 'error'): void
  /** per-stream time and rate bounds (default CAR_STREAM_LIMITS) */
  streamLimits?: Partial<CarStreamLimits>
}

type Format = 'raw' | 'car'
type Scope = 'block' | 'entity' | 'all'

interface CarParams {
  version?: string
  order?: string
  dups?: string
}

export function gatewayError(status: number, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, String(status), message, { headers })
}

/** Parse the CID of `/ipfs/{cid}`; any multibase, CIDv0 or v1. */
export function parseCid(text: string): CID {
  let decoded: string
  try {
    decoded = decodeURIComponent(text)
  } catch {
    throw gatewayError(400, 'the CID in the path is not valid percent-encoding')
  }
  try {
    return decoded.startsWith('Q') ? CID.parse(decoded) : CID.parse(decoded, multibase)
  } catch {
    throw gatewayError(400, `${JSON.stringify(decoded.slice(0, 120))} is not a valid CID`)
  }
}

/** One media range of an Accept header. */
interface MediaRange {
  type: string
  params: Map<string, string>
  q: number
  index: number
}

function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = []
  header.split(',').forEach((part, index) => {
    const [type, ...rest] = part.split(';').map((s) => s.trim())
    if (type === undefined || type === '') return
    const params = new Map<string, string>()
    let q = 1
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq <= 0) continue
      const k = p.slice(0, eq).trim().toLowerCase()
      let v = p.slice(eq + 1).trim()
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1)
      if (k === 'q') {
        const n = Number(v)
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0
      } else params.set(k, v.toLowerCase())
    }
    out.push({ type: type.toLowerCase(), params, q, index })
  })
  return out
}

function carParamsSupported(p: CarParams): boolean {
  return (p.version === undefined || p.version === '1') && (p.order === undefined || p.order === '' || p.order === 'dfs' || p.order === 'unk') && (p.dups === undefined || p.dups === 'n')
}

function single(query: URLSearchParams, name: string): string | undefined {
  const all = query.getAll(name)
  if (all.length > 1) throw gatewayError(400, `query parameter ${name} is given ${all.length} times; give it once`)
  return all[0]
}

interface Negotiated {
  format: Format
  scope: Scope
  entityBytes: string | undefined
  /** true when ?format= chose the format (else Content-Location is sent) */
  explicit: boolean
}

/** Choose raw or CAR from ?format= (which wins) or Accept, and check the CAR variant asked for. */
export function negotiate(query: URLSearchParams, accept: string | undefined): Negotiated {
  const format = single(query, 'format')
  const ranges = accept === undefined ? [] : parseAccept(accept).filter((r) => r.q > 0)
  const carRanges = ranges.filter((r) => r.type === CAR)
  const fromQuery: CarParams = {}
  const v = single(query, 'car-version')
  const o = single(query, 'car-order')
  const d = single(query, 'car-dups')
  if (v !== undefined) fromQuery.version = v
  if (o !== undefined) fromQuery.order = o
  if (d !== undefined) fromQuery.dups = d
  const carOk = (r: MediaRange | undefined): boolean => {
    const p: CarParams = {}
    const rv = r?.params.get('version')
    const ro = r?.params.get('order')
    const rd = r?.params.get('dups')
    if (rv !== undefined) p.version = rv
    if (ro !== undefined) p.order = ro
    if (rd !== undefined) p.dups = rd
    return carParamsSupported({ ...p, ...fromQuery })
  }
  let chosen: Format
  if (format !== undefined) {
    if (format === 'raw') chosen = 'raw'
    else if (format === 'car') {
      if (carRanges.length > 0 ? !carRanges.some(carOk) : !carOk(undefined)) throw gatewayError(406, `this gateway sends ${CAR_CONTENT_TYPE} only (CARv1, depth-first, no duplicate blocks)`)
      chosen = 'car'
    } else throw gatewayError(406, `format=${format.slice(0, 40)} is not served here: this is a trustless gateway, use format=raw or format=car`)
  } else {
    if (accept === undefined || accept.trim() === '') throw gatewayError(400, `send Accept: ${RAW} or ${CAR} (or ?format=raw / ?format=car); this gateway serves verifiable responses only`)
    let best: { format: Format; q: number; index: number } | undefined
    for (const r of ranges) {
      let f: Format | undefined
      if (r.type === RAW) f = 'raw'
      else if (r.type === CAR && carOk(r)) f = 'car'
      if (f !== undefined && (best === undefined || r.q > best.q)) best = { format: f, q: r.q, index: r.index }
    }
    if (best === undefined) throw gatewayError(406, `none of the accepted types can be served: this gateway sends ${RAW} or ${CAR_CONTENT_TYPE}`)
    chosen = best.format
  }
  let scope: Scope = 'all'
  const s = single(query, 'dag-scope')
  if (s !== undefined) {
    if (s !== 'block' && s !== 'entity' && s !== 'all') throw gatewayError(400, 'dag-scope must be block, entity or all')
    scope = s
  }
  const entityBytes = single(query, 'entity-bytes')
  if (entityBytes !== undefined) {
    if (!/^-?[0-9]{1,20}:(-?[0-9]{1,20}|\*)$/.test(entityBytes)) throw gatewayError(400, 'entity-bytes must be from:to with integers (to may be *)')
    scope = 'entity'
  }
  return { format: chosen, scope, entityBytes, explicit: format !== undefined }
}

function sha256(bytes: Uint8Array): Buffer {
  return hash('sha256', bytes, 'buffer')
}

/** The block's bytes are what its CID names (sha2-256; identity CIDs carry their bytes). */
export function hashMatches(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code === HASH_IDENTITY) return Buffer.compare(Buffer.from(cid.multihash.digest), Buffer.from(bytes)) === 0
  return cid.multihash.code === HASH_SHA2_256 && Buffer.compare(sha256(bytes), cid.multihash.digest) === 0
}

export type GatewayStreamFailure = 'missing' | 'corrupt' | 'codec' | 'client' | 'slow'

/** Why a CAR stream was cut short (the client sees a torn connection; the log and metrics see this). */
export class GatewayStreamError extends ArkError {
  override readonly name = 'GatewayStreamError'
  readonly reason: GatewayStreamFailure
  constructor(reason: GatewayStreamFailure, message: string, options: ArkErrorOptions = {}) {
    super(reason === 'codec' ? 'INVALID_INPUT' : 'IO', message, { retryable: reason === 'client' || reason === 'slow', ...options })
    this.reason = reason
  }
}

function checkCodec(cid: CID): void {
  if (cid.code !== CODEC_RAW && cid.code !== CODEC_DAG_CBOR) throw new GatewayStreamError('codec', `block ${cid.toString()} has codec 0x${cid.code.toString(16)}; this gateway walks dag-cbor and raw blocks only`)
}

/** The block, or undefined when the store does not have it (one store read: no separate has()). */
export async function getBlock(store: BlockStore, cid: CID): Promise<Uint8Array | undefined> {
  if (cid.multihash.code === HASH_IDENTITY) return cid.multihash.digest
  try {
    return await store.get(cid)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'BLOCK_NOT_FOUND') return undefined
    throw err
  }
}

/**
 * Depth-first walk from `root` through the one DAG walker: each block once,
 * hash-checked, children read ahead so disk reads overlap. Identity blocks
 * are walked but not yielded (the spec keeps them out of CARs).
 */
async function* walk(store: BlockStore, root: CID, scope: Scope, signal: AbortSignal): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const read = async (cid: CID): Promise<Uint8Array | undefined> => {
    checkCodec(cid)
    let bytes: Uint8Array | undefined
    try {
      bytes = await getBlock(store, cid)
    } catch (cause) {
      throw new GatewayStreamError('missing', `block ${cid.toString()} could not be read`, { cause })
    }
    if (bytes !== undefined && !hashMatches(cid, bytes)) throw new GatewayStreamError('corrupt', `block ${cid.toString()} in the local store does not match its CID`)
    return bytes
  }
  const blocks = scope === 'all' ? walkDag(root, read, { signal, concurrency: READ_AHEAD }) : oneBlock(root, read)
  for await (const b of blocks) if (b.cid.multihash.code !== HASH_IDENTITY) yield b
}

async function* oneBlock(root: CID, read: (cid: CID) => Promise<Uint8Array | undefined>): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const bytes = await read(root)
  if (bytes === undefined) throw new DagBlockMissingError(root)
  yield { cid: root, bytes }
}

/** Blocks read ahead while a CAR is streamed: the children of each block, so slow (disk) stores are read in parallel. */
const READ_AHEAD = 64

/**
 * Per-stream bounds (issue 10 item 13): a CAR slot is held at most `maxMs`,
 * and a client must take at least `minBytesPerSecond` on average once
 * `graceMs` have passed; a slower reader is cut off so that slow readers
 * cannot keep every slot (each drain used to reset the idle timer).
 */
export interface CarStreamLimits {
  maxMs: number
  minBytesPerSecond: number
  graceMs: number
}

export const CAR_STREAM_LIMITS: Readonly<CarStreamLimits> = Object.freeze({ maxMs: 60 * 60_000, minBytesPerSecond: 32 * 1024, graceMs: 30_000 })

/** Waits for 'drain', failing when the client leaves or falls below the stream's limits first. */
function waitDrain(res: ServerResponse, deadline: number, limit: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new GatewayStreamError('slow', limit())), Math.max(0, deadline - performance.now()))
    const done = (err?: Error): void => {
      clearTimeout(timer)
      res.off('drain', onDrain)
      res.off('close', onClose)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onDrain = (): void => done()
    const onClose = (): void => done(new GatewayStreamError('client', 'the client closed the connection'))
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const bare = (t: string): string => (t.startsWith('W/') ? t.slice(2) : t)
  return header.split(',').some((t) => t.trim() === '*' || bare(t.trim()) === bare(etag))
}

/** GET/HEAD /ipfs/{cid}[/{path}] */
export async function serveIpfs(req: IncomingMessage, res: ServerResponse, url: URL, ctx: GatewayContext): Promise<void> {
  const m = /^\/ipfs\/([^/]+)(\/.*)?$/.exec(url.pathname)
  if (m === null) throw gatewayError(400, 'request /ipfs/{cid}')
  const cid = parseCid(m[1]!)
  const accept = req.headers.accept
  const neg = negotiate(url.searchParams, accept)
  if (m[2] !== undefined && m[2] !== '/') throw gatewayError(neg.format === 'raw' ? 400 : 501, `content paths are not supported here: request /ipfs/${cid.toString()} itself`)
  if (cid.multihash.code !== HASH_SHA2_256 && cid.multihash.code !== HASH_IDENTITY) throw gatewayError(400, `CID ${cid.toString()} uses multihash 0x${cid.multihash.code.toString(16)}; this gateway verifies sha2-256 blocks only`)
  const head = req.method === 'HEAD'
  const cidText = cid.toString()
  const onlyIfCached = /(^|,)\s*only-if-cached\s*(,|$)/i.test(req.headers['cache-control'] ?? '')
  const notFound = (): HttpError => gatewayError(onlyIfCached ? 412 : 404, `block ${cidText} is not in this node's store`)

  const common: Record<string, string> = {
    'Cache-Control': IMMUTABLE,
    'X-Content-Type-Options': 'nosniff',
    'X-Ipfs-Path': `/ipfs/${cidText}`,
    'X-Ipfs-Roots': cidText,
    Vary: 'Accept',
  }
  if (!neg.explicit) {
    const q = new URLSearchParams(url.searchParams)
    q.set('format', neg.format)
    common['Content-Location'] = `/ipfs/${cidText}?${q.toString()}`
  }

  if (neg.format === 'raw') {
    let bytes: Uint8Array | undefined
    try {
      bytes = await getBlock(ctx.blocks, cid)
    } catch (err) {
      ctx.log.warn({ err, cid: cidText }, 'block read failed')
      bytes = undefined
    }
    if (bytes === undefined) throw notFound()
    if (!hashMatches(cid, bytes)) {
      ctx.log.error({ cid: cidText }, 'local block does not match its CID: the block store is corrupt')
      throw gatewayError(500, `block ${cidText} in this node's store is corrupt`)
    }
    const etag = `"${cidText}.raw"`
    const headers = { ...common, Etag: etag, 'Content-Type': RAW, 'Content-Disposition': `attachment; filename="${cidText}.bin"` }
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(bytes.length) })
    res.end(head ? undefined : bytes)
    return
  }

  // CAR
  const rootBytes = await getBlock(ctx.blocks, cid).catch((err: unknown) => {
    ctx.log.warn({ err, cid: cidText }, 'block read failed')
    return undefined
  })
  if (rootBytes === undefined) throw notFound()
  if (!hashMatches(cid, rootBytes)) {
    ctx.log.error({ cid: cidText }, 'local block does not match its CID: the block store is corrupt')
    throw gatewayError(500, `block ${cidText} in this node's store is corrupt`)
  }
  const scope: Scope = neg.scope === 'all' ? 'all' : 'block' // dag-cbor and raw entities are single blocks
  if (scope === 'all' && cid.code !== CODEC_DAG_CBOR && cid.code !== CODEC_RAW) throw gatewayError(501, `CID ${cidText} has codec 0x${cid.code.toString(16)}; this gateway walks dag-cbor and raw DAGs only (dag-scope=block works for any block)`)
  if (req.httpVersion === '1.0') throw gatewayError(505, 'CAR streams need HTTP/1.1 (chunked transfer), so that a cut-short stream is detectable')
  const variant = createHash('sha256').update(`v1;dfs;n;${neg.scope};${neg.entityBytes ?? ''}`).digest('hex').slice(0, 16)
  const etag = `"${cidText}.car.${variant}"`
  const headers = { ...common, Etag: etag, 'Content-Type': CAR_CONTENT_TYPE, 'Content-Disposition': `attachment; filename="${cidText}.car"`, 'Accept-Ranges': 'none' }
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  if (head) {
    res.writeHead(200, headers)
    res.end()
    return
  }
  if (!ctx.acquireStream()) throw gatewayError(503, 'too many CAR streams are running; retry shortly', { 'Retry-After': '5' })
  try {
    res.writeHead(200, headers)
    res.flushHeaders()
    await streamCar(res, [cid], walk(ctx.blocks, cid, scope, ctx.signal), ctx)
  } finally {
    ctx.releaseStream()
  }
}

/** One CAR response of `blocks`, cut off (connection torn down) if a block is missing or corrupt, the client leaves or reads too slowly. */
export async function streamCar(res: ServerResponse, roots: CID[], blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>, ctx: GatewayContext): Promise<void> {
  const root = roots[0]!
  const limits = { ...CAR_STREAM_LIMITS, ...ctx.streamLimits }
  const started = performance.now()
  let sent = 0
  // the moment the stream falls below a limit unless more bytes go out
  const deadline = (): number => Math.min(started + limits.maxMs, started + limits.graceMs + (sent / limits.minBytesPerSecond) * 1000)
  const limit = (): string => (performance.now() >= started + limits.maxMs ? `the stream ran past its ${limits.maxMs} ms limit` : `the client reads slower than ${limits.minBytesPerSecond} bytes/s`)
  const gone = (): GatewayStreamError => new GatewayStreamError('client', 'the client closed the connection')
  try {
    for await (const chunk of frameCar(roots, blocks, CHUNK_BYTES)) {
      if (res.destroyed) throw gone()
      if (performance.now() >= deadline()) throw new GatewayStreamError('slow', limit())
      sent += chunk.length
      if (!res.write(chunk)) await waitDrain(res, deadline(), limit)
    }
    if (res.destroyed) throw gone()
    res.end()
  } catch (err) {
    const reason = err instanceof GatewayStreamError ? (err.reason === 'codec' ? 'corrupt' : err.reason) : err instanceof DagBlockMissingError ? 'missing' : err instanceof MalformedBlockError ? 'corrupt' : ctx.signal.aborted ? 'shutdown' : 'error'
    ctx.onAbort(reason)
    if (reason === 'client' || reason === 'shutdown') ctx.log.debug({ root: root.toString(), reason }, 'CAR stream ended early')
    else if (reason === 'slow') ctx.log.info({ root: root.toString(), reason, sent, ms: Math.round(performance.now() - started) }, `CAR stream cut off: ${(err as Error).message}`)
    else ctx.log.warn({ root: root.toString(), reason, err: err instanceof Error ? err.message : String(err) }, 'CAR stream aborted: the DAG is not complete or not intact in the local store')
    // Never end() a cut-short CAR: tearing the connection down is what tells the client it failed.
    res.destroy()
  }
}

/** Send an error from the gateway as text (gateway responses are not JSON). */
export function sendGatewayError(res: ServerResponse, err: HttpError): void {
  sendText(res, err.status, `${err.message}\n`, { ...err.headers, 'X-Content-Type-Options': 'nosniff' })
}
