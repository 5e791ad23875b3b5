import { CID } from 'multiformats/cid'
import { CarStreamReader } from '../../snapshot/car/stream.ts'
import { httpTarget } from '../../snapshot/chain/errors.ts'
import { checkBlock, MAX_BLOCK_BYTES } from '../../snapshot/codec/block.ts'
import { BLOCK_BATCH_LIMITS } from '../http/block-batch.ts'
import { blockLinks } from '../../snapshot/codec/links.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { missingRoots } from '../../snapshot/dag/walk.ts'
import { cidKey } from '../../snapshot/store.ts'
import { SourceError, type FetchSource, type LocateRequest, type Located, type SourceContext } from './source.ts'
import type { Staging } from './staging.ts'
import { readBounded, readBoundedJson } from './bounded-body.ts'

export const CAR_ACCEPT = 'application/vnd.ipld.car; version=1; order=dfs; dups=n'

export interface GatewaySourceOptions {
  /** CAR requests at once when several subtrees are missing (resume) */
  concurrency?: number
  /** single-block requests at once (incremental fetch); archive nodes take 16 connections per client */
  blockConcurrency?: number
  fetch?: typeof fetch
}

export const GATEWAY_SOURCE_DEFAULTS = Object.freeze({ concurrency: 4, blockConcurrency: 8 })

/**
 * An archive node's HTTP API and trustless gateway as a fetch source: the
 * certificate is located through /v1/checkpoints and read as a raw block,
 * the snapshot comes as CAR streams (order=dfs, dups=n) whose blocks are
 * hash-checked and placed as they arrive. A block that no earlier block of
 * the stream links to is refused (the gateway is sending something else).
 * After an interrupted run only the missing subtrees are requested.
 */
export function gatewaySource(url: string, options: GatewaySourceOptions = {}): FetchSource {
  const target = httpTarget(url.replace(/\/+$/, ''))
  const f = options.fetch ?? fetch
  const concurrency = options.concurrency ?? GATEWAY_SOURCE_DEFAULTS.concurrency

  async function get(path: string, accept: string, ctx: SourceContext, signal: AbortSignal = ctx.signal): Promise<Response> {
    const res = await f(`${target.url}${path}`, { signal, headers: { accept, ...target.headers } })
    ctx.progress()
    if (!res.ok) {
      const bytes = await readBounded(res, 'error', `GET ${path}`).catch(() => new Uint8Array(0))
      const text = Buffer.from(bytes).toString('utf8').trim().slice(0, 200)
      throw new SourceError(`GET ${path}: HTTP ${res.status}${text === '' ? '' : ` (${text})`}`)
    }
    return res
  }

  async function json(path: string, kind: 'checkpoint' | 'listing', ctx: SourceContext): Promise<unknown> {
    return readBoundedJson(await get(path, 'application/json', ctx), kind, `GET ${path}`)
  }

  function cidField(v: unknown, path: string): CID {
    const s = (v as { certificateCid?: unknown } | null)?.certificateCid
    try {
      return CID.parse(String(s))
    } catch (cause) {
      throw new SourceError(`GET ${path}: no valid certificateCid in the answer`, { cause })
    }
  }

  /** Which certificate the gateway says answers the query (a hint: it is verified after). */
  async function locateCid(req: LocateRequest, ctx: SourceContext): Promise<CID> {
    const q = req.query
    if (q.kind === 'cid') return q.cid
    if (q.kind === 'latest') return cidField(await json('/v1/checkpoints/latest', 'checkpoint', ctx), '/v1/checkpoints/latest')
    if (q.kind === 'number') return cidField(await json(`/v1/checkpoints/${q.block}`, 'checkpoint', ctx), `/v1/checkpoints/${q.block}`)
    if (q.block === 0n) throw new SourceError('there is no checkpoint before block 0')
    const path = `/v1/checkpoints?to=${q.block - 1n}&limit=1000`
    const list = (await json(path, 'listing', ctx)) as { checkpoints?: { block?: unknown; certificateCid?: unknown }[] }
    if (!Array.isArray(list?.checkpoints)) throw new SourceError(`GET ${path}: no checkpoint list in the answer`)
    let best: { block: bigint; cid: unknown } | undefined
    for (const c of list.checkpoints) {
      if (typeof c?.block !== 'string' || !/^[0-9]+$/.test(c.block)) continue
      const b = BigInt(c.block)
      if (b < q.block && (best === undefined || b > best.block)) best = { block: b, cid: c.certificateCid }
    }
    if (best === undefined) throw new SourceError(`has no certified checkpoint before block ${q.block}`)
    return cidField({ certificateCid: best.cid }, path)
  }

  /** One CAR stream for the DAG under `root`; blocks go to `staging` as they arrive. Returns true when the stream held every block of the DAG. */
  async function streamCar(root: CID, staging: Staging, ctx: SourceContext): Promise<boolean> {
    const path = `/ipfs/${root.toString()}?format=car&dag-scope=all`
    const res = await get(path, CAR_ACCEPT, ctx)
    if (res.body === null) throw new SourceError(`GET ${path}: empty body`)
    const reader = new CarStreamReader()
    // every CID the stream may send (the root and whatever a received block links to), and those received
    const expected = new Set<string>([cidKey(root)])
    const received = new Set<string>()
    try {
      for await (const chunk of res.body) {
        ctx.progress()
        for (const b of reader.push(chunk)) {
          const key = cidKey(b.cid)
          if (!expected.has(key) || received.has(key)) throw new SourceError(`sent block ${b.cid.toString()}, which no earlier block of the CAR links to: not part of ${root.toString()} (or not in depth-first order, or sent twice)`)
          received.add(key)
          checkBlock(b.cid, b.bytes)
          staging.put(b)
          for (const link of blockLinks(b.cid, b.bytes)) expected.add(cidKey(link))
        }
      }
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      if (err instanceof ArkError) throw err
      throw new SourceError(`the CAR stream for ${root.toString()} was cut short after ${reader.offset} bytes (${(err as Error).message}); the gateway lacks blocks or the connection failed`, { cause: err })
    }
    reader.end()
    if (reader.roots === undefined || !reader.roots[0]!.equals(root)) throw new SourceError(`the CAR for ${root.toString()} names root ${reader.roots?.[0]?.toString()}`)
    if (received.size === expected.size) return true
    for (const key of expected) {
      if (!received.has(key) && !staging.has(CID.parse(key))) throw new SourceError(`the CAR for ${root.toString()} ended without block ${key}; the gateway's copy is incomplete`)
    }
    return false
  }

  /** false once the gateway answered POST /v1/blocks with 404/405 (a node without the batch endpoint) */
  let batchable = true

  /**
   * One POST /v1/blocks for `ask`: every block of the answer must be one asked
   * for and not sent before; each is hash-checked and kept. Returns how many
   * arrived, or undefined when the gateway has no batch endpoint.
   */
  async function postBatch(ask: CID[], staging: Staging, ctx: SourceContext): Promise<number | undefined> {
    const path = '/v1/blocks'
    const res = await f(`${target.url}${path}`, { method: 'POST', signal: ctx.signal, headers: { accept: CAR_ACCEPT, 'content-type': 'text/plain', ...target.headers }, body: ask.map((c) => c.toString()).join('\n') })
    ctx.progress()
    if (res.status === 404 || res.status === 405) {
      await res.body?.cancel().catch(() => {})
      batchable = false
      return undefined
    }
    if (!res.ok) {
      const bytes = await readBounded(res, 'error', `POST ${path}`).catch(() => new Uint8Array(0))
      throw new SourceError(`POST ${path}: HTTP ${res.status} (${Buffer.from(bytes).toString('utf8').trim().slice(0, 200)})`)
    }
    if (res.body === null) throw new SourceError(`POST ${path}: empty body`)
    const asked = new Set(ask.map((c) => cidKey(c)))
    const reader = new CarStreamReader()
    let got = 0
    let bytes = 0
    try {
      for await (const chunk of res.body) {
        ctx.progress()
        for (const b of reader.push(chunk)) {
          const key = cidKey(b.cid)
          if (!asked.delete(key)) throw new SourceError(`POST ${path} sent block ${b.cid.toString()}, which was not asked for (or sent it twice)`)
          bytes += b.bytes.length
          if (bytes > BLOCK_BATCH_LIMITS.maxBytes + MAX_BLOCK_BYTES) throw new SourceError(`POST ${path} sent more than ${BLOCK_BATCH_LIMITS.maxBytes} bytes of blocks`)
          checkBlock(b.cid, b.bytes)
          staging.put(b)
          got++
        }
      }
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      if (err instanceof ArkError) throw err
      throw new SourceError(`POST ${path}: the CAR was cut short after ${reader.offset} bytes (${(err as Error).message})`, { cause: err })
    }
    reader.end()
    return got
  }

  return {
    kind: 'gateway',
    name: target.shown,
    blockConcurrency: options.blockConcurrency ?? GATEWAY_SOURCE_DEFAULTS.blockConcurrency,
    async locate(req, ctx): Promise<Located> {
      const cid = await locateCid(req, ctx)
      const path = `/ipfs/${cid.toString()}?format=raw`
      return { cid, bytes: await readBounded(await get(path, 'application/vnd.ipld.raw', ctx), 'certificate', `GET ${path}`) }
    },
    async fetchBlocks(root, staging, ctx): Promise<void> {
      for (let round = 0; ; round++) {
        const missing = staging.has(root) ? missingRoots(staging, root) : [root]
        if (missing.length === 0) return
        if (round > 0) throw new SourceError(`blocks are still missing after a complete CAR (e.g. ${missing[0]!.toString()})`)
        let next = 0
        let complete = true
        const worker = async (): Promise<void> => {
          while (next < missing.length) {
            const cid = missing[next++]!
            if (!(await streamCar(cid, staging, ctx))) complete = false
          }
        }
        await Promise.all(Array.from({ length: Math.min(concurrency, missing.length) }, worker))
        // one stream that held the whole DAG: nothing left to walk
        if (complete && missing.length === 1 && missing[0]!.equals(root)) return
      }
    },
    async fetchBlock(cid, staging, ctx): Promise<void> {
      const path = `/ipfs/${cid.toString()}?format=raw`
      // fetch() leaves its abort listener on the signal until the response is garbage-collected: on the
      // fetch's long-lived signal thousands of block requests piled up listeners (each add scans them all,
      // most of an incremental fetch's CPU); a signal per request, unlinked when it is done, keeps it flat
      const own = new AbortController()
      const onAbort = (): void => own.abort(ctx.signal.reason)
      if (ctx.signal.aborted) onAbort()
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      try {
        const bytes = await readBounded(await get(path, 'application/vnd.ipld.raw', ctx, own.signal), 'block', `GET ${path}`)
        checkBlock(cid, bytes)
        staging.put({ cid, bytes })
      } finally {
        ctx.signal.removeEventListener('abort', onAbort)
      }
    },
    async fetchBlockBatch(cids, staging, ctx): Promise<boolean> {
      if (!batchable) return false
      let want = cids.filter((c) => !staging.has(c))
      const chunks: CID[][] = []
      for (let i = 0; i < want.length; i += BLOCK_BATCH_LIMITS.maxCids) chunks.push(want.slice(i, i + BLOCK_BATCH_LIMITS.maxCids))
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < chunks.length && batchable) {
          // an answer is capped in bytes: what it left out is asked for again, as long as each answer brings something
          for (let ask = chunks[next++]!; ask.length > 0; ) {
            const got = await postBatch(ask, staging, ctx)
            if (got === undefined) return
            if (got === 0) throw new SourceError(`lacks block ${ask[0]!.toString()} (POST /v1/blocks left it out)`)
            ask = ask.filter((c) => !staging.has(c))
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker))
      if (!batchable) return false
      want = want.filter((c) => !staging.has(c))
      if (want.length > 0) throw new SourceError(`lacks block ${want[0]!.toString()}`)
      return true
    },
    async close(): Promise<void> {},
  }
}
