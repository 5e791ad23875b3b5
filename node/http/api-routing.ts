import type { IncomingMessage, ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import type { BlockStore } from '../../snapshot/store.ts'
import { HttpError, sendJSON, sendText } from './respond.ts'

/** This node as a content provider: its peer id and the addresses peers dial (no /p2p suffix). */
export interface ProviderRecord {
  id: string
  addrs: string[]
}

export const ROUTING_PREFIX = '/routing/v1/providers/'

/**
 * Delegated Routing V1 HTTP API, providers only (https://specs.ipfs.tech/routing/http-routing-v1/):
 * `GET /routing/v1/providers/{cid}` names this node, over bitswap, for a CID it holds, so IPFS tools
 * (Helia's and Kubo's delegated routers) find certified snapshots and certificates here. It
 * answers from local blocks only (never the network), so it says nothing about other peers: a client
 * that wants more providers asks more nodes. 404 when the block is not held, as the spec says.
 */
export async function serveProviders(req: IncomingMessage, res: ServerResponse, url: URL, blocks: BlockStore, self: (() => ProviderRecord) | undefined): Promise<void> {
  if (self === undefined) throw new HttpError(404, 'NOT_FOUND', 'this server is not a libp2p node; ask an archive node')
  const text = url.pathname.slice(ROUTING_PREFIX.length)
  let cid: CID
  try {
    if (text.length === 0 || text.length > 200) throw new Error('length')
    cid = CID.parse(text)
  } catch {
    throw new HttpError(400, 'INVALID_CID', 'the path must end in a CID (CIDv1 base32 or CIDv0 base58)', { parameter: 'cid' })
  }
  const headers = { Vary: 'Accept', 'Cache-Control': 'public, max-age=60' }
  if (!(await blocks.has(cid))) return sendText(res, 404, 'no providers known here for this CID\n', headers)
  const me = self()
  const record = { Schema: 'peer', ID: me.id, Addrs: me.addrs, Protocols: ['transport-bitswap'] }
  if (wantsNdjson(req.headers.accept)) return sendText(res, 200, `${JSON.stringify(record)}\n`, headers, 'application/x-ndjson')
  return sendJSON(res, 200, { Providers: [record] }, headers)
}

function wantsNdjson(accept: string | undefined): boolean {
  return accept !== undefined && accept.split(',').some((a) => a.trim().split(';')[0] === 'application/x-ndjson')
}
