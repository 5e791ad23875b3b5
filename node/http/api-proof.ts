import type { IncomingMessage, ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import { ArkError } from '../../snapshot/ark-error.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import type { AccountProof } from '../../snapshot/proof/format.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { HttpError, toJSON } from './respond.ts'
import { methodNotAllowed, parseBlockNumber } from './request.ts'
import type { NodeView } from './server.ts'

/**
 * GET /v1/checkpoints/{block}/proof/{account}: one account's proof in a
 * certified snapshot, in the public proof format (ark.proof.v1: leafEncoding,
 * value, proof, stateRoot — StandardMerkleTree.verify / MerkleProof.verify
 * take it as is) plus the certificate's CID. A client checks it against the
 * certified stateRoot itself (`ark prove --node` does); the node is not trusted.
 * Proofs come from the node's proof index (a few reads; node/archive/proof-index.ts)
 * when the view has one, else from the in-memory tree (built once per snapshot, serialised).
 * Answers are immutable: kept in a bounded LRU and sent with an immutable Cache-Control.
 */

export const PROOF_API_LIMITS = Object.freeze({
  /** answers kept (a proof is ~1-2 KiB) */
  answers: 1024,
  /** opened snapshots kept (an open snapshot holds its tree index, not its records) */
  snapshots: 4,
  /** proofs waiting behind a running in-memory tree build (no proof index); more get 503 */
  queue: 16,
})

/** Where proofs come from on a node: its proof index. */
export interface ProofSource {
  prove(s: Snapshot<unknown, unknown>, key: Uint8Array): Promise<AccountProof>
}

export interface ProofApi {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>
}

const ACCOUNT = /^0x[0-9a-fA-F]{40}$/

/** Most recently used last; the oldest goes past `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value!)
}

export function createProofApi(view: NodeView & { proofs?: ProofSource }, limits: typeof PROOF_API_LIMITS = PROOF_API_LIMITS): ProofApi {
  const answers = new Map<string, Buffer>()
  const snapshots = new Map<string, Promise<Snapshot<unknown, unknown>>>()
  let chain: Promise<unknown> = Promise.resolve()
  let waiting = 0

  function open(cidText: string): Promise<Snapshot<unknown, unknown>> {
    const hit = snapshots.get(cidText)
    if (hit !== undefined) {
      remember(snapshots, cidText, hit, limits.snapshots)
      return hit
    }
    const opening = (async () => {
      const cid = CID.parse(cidText)
      if (!(await view.blocks.has(cid))) throw new HttpError(404, 'NOT_HELD', `this node does not hold snapshot ${cidText} (pruned by retention, or still fetching); ask another node or fetch it with "ark fetch"`)
      const root = decodeRoot(cid, await view.blocks.get(cid))
      return Snapshot.open(view.blocks, cid, schemaById(root.schema.id, root.schema.version))
    })()
    remember(snapshots, cidText, opening, limits.snapshots)
    opening.catch(() => snapshots.delete(cidText))
    return opening
  }

  /** Without a proof index the first proof of a snapshot builds its whole tree: one at a time, a bounded queue. */
  function inMemory(s: Snapshot<unknown, unknown>, key: Uint8Array): Promise<AccountProof> {
    if (waiting >= limits.queue) throw new HttpError(503, 'BUSY', 'the node is busy building proofs; retry in a few seconds', { headers: { 'Retry-After': '2' } })
    waiting++
    const work = (): Promise<AccountProof> => proveAccount(s, key)
    const run = chain.then(work, work)
    chain = run.then(
      () => waiting--,
      () => waiting--,
    )
    return run
  }

  return {
    async handle(req, res, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD')
      for (const k of url.searchParams.keys()) throw new HttpError(400, 'INVALID_PARAMETER', `unknown query parameter ${JSON.stringify(k.slice(0, 40))}; this endpoint takes none`, { parameter: k.slice(0, 40) })
      const parts = url.pathname.split('/')
      const block = parseBlockNumber(decodeURIComponent(parts[3]!), 'block')
      const text = decodeURIComponent(parts[5]!)
      if (!ACCOUNT.test(text)) throw new HttpError(400, 'INVALID_PARAMETER', `the account must be a 0x-prefixed 20-byte hex address, got ${JSON.stringify(text.slice(0, 50))}`, { parameter: 'account' })
      const cp = await view.checkpoint(block)
      if (cp === undefined) throw new HttpError(404, 'NOT_FOUND', `no certified checkpoint at block ${block}; list them with /v1/checkpoints`)
      const cacheKey = `${cp.snapshotCid}/${text.toLowerCase()}`
      let body = answers.get(cacheKey)
      if (body === undefined) {
        const s = await open(cp.snapshotCid)
        const key = hexToBytes(text, 'account', 20)
        let proof: AccountProof
        try {
          proof = view.proofs === undefined ? await inMemory(s, key) : await view.proofs.prove(s, key)
        } catch (err) {
          if (err instanceof ArkError && err.code === 'KEY_NOT_FOUND') throw new HttpError(404, 'NOT_FOUND', err.message)
          if (err instanceof ArkError && err.retryable) throw new HttpError(503, 'BUSY', err.message, { headers: { 'Retry-After': '2' } })
          throw err
        }
        body = Buffer.from(`${toJSON({ ...proof, certificateCid: cp.certificateCid })}\n`)
        remember(answers, cacheKey, body, limits.answers)
      }
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length), 'Cache-Control': 'public, max-age=3600, immutable' })
      res.end(req.method === 'HEAD' ? undefined : body)
    },
  }
}
