import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CID } from 'multiformats/cid'
import { CAR, gatewayError, GatewayStreamError, getBlock, hashMatches, HASH_SHA2_256, parseCid, streamCar, type GatewayContext } from './gateway.ts'

/**
 * Bounds of POST /v1/blocks: CIDs per request, request body bytes, block
 * bytes per answer (blocks past it are left out; the client asks again).
 */
export const BLOCK_BATCH_LIMITS = Object.freeze({ maxCids: 1024, maxBodyBytes: 128 * 1024, maxBytes: 8 * 1024 * 1024 })

/**
 * POST /v1/blocks (Ark's batch block endpoint, PROTOCOL "Batch blocks"): the
 * body names blocks, one CID per line; the answer is a CARv1 (root: the
 * first CID, `order=unk`) of those the store holds, in the order asked, each
 * hash-checked, up to BLOCK_BATCH_LIMITS.maxBytes of blocks. Blocks not held
 * are left out (the client sees which). An incremental fetch asks for the
 * few thousand blocks an earlier snapshot lacks in a handful of requests
 * instead of one request per block.
 */
export async function serveBlockBatch(req: IncomingMessage, res: ServerResponse, body: Buffer, ctx: GatewayContext): Promise<void> {
  const lines = body.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '')
  if (lines.length === 0) throw gatewayError(400, 'name the blocks in the body, one CID per line')
  if (lines.length > BLOCK_BATCH_LIMITS.maxCids) throw gatewayError(413, `at most ${BLOCK_BATCH_LIMITS.maxCids} CIDs per request; split the list`)
  const cids = lines.map((l) => parseCid(l))
  for (const cid of cids) if (cid.multihash.code !== HASH_SHA2_256) throw gatewayError(400, `CID ${cid.toString()} uses multihash 0x${cid.multihash.code.toString(16)}; ask for sha2-256 blocks only`)
  if (req.httpVersion === '1.0') throw gatewayError(505, 'CAR streams need HTTP/1.1 (chunked transfer), so that a cut-short stream is detectable')
  if (!ctx.acquireStream()) throw gatewayError(503, 'too many CAR streams are running; retry shortly', { 'Retry-After': '5' })
  async function* held(): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
    let bytes = 0
    for (const cid of cids) {
      let b: Uint8Array | undefined
      try {
        b = await getBlock(ctx.blocks, cid)
      } catch (cause) {
        throw new GatewayStreamError('missing', `block ${cid.toString()} could not be read`, { cause })
      }
      if (b === undefined) continue
      if (!hashMatches(cid, b)) throw new GatewayStreamError('corrupt', `block ${cid.toString()} in the local store does not match its CID`)
      if (bytes > 0 && bytes + b.length > BLOCK_BATCH_LIMITS.maxBytes) return
      bytes += b.length
      yield { cid, bytes: b }
    }
  }
  try {
    res.writeHead(200, { 'Content-Type': `${CAR}; version=1; order=unk; dups=n`, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
    res.flushHeaders()
    await streamCar(res, [cids[0]!], held(), ctx)
  } finally {
    ctx.releaseStream()
  }
}
