import type { IncomingMessage, ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import { ArkError } from '../../snapshot/ark-error.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { compareMarketKeys, emptyRecoverySummary, marketKey, recoveryDiff, type RecoveryDiffSummary } from '../../snapshot/state/diff-summary.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { Movers } from '../recovery/movers.ts'
import { HttpError, sendJSON, toJSON } from './respond.ts'
import { methodNotAllowed, parseBlockNumber, type ExplorerRoute } from './request.ts'
import type { CheckpointView, NodeView } from './server.ts'

/**
 * The explorer's read endpoints (PROTOCOL.md "Explorer API"): per-checkpoint summaries, one
 * account's record with its proof, the diff of two checkpoints and totals over time. Each answer
 * is about certified, immutable snapshots, so it is computed once and kept in small LRU caches;
 * one heavy computation runs at a time and a bounded queue waits behind it (more get 503).
 */

export const EXPLORER_LIMITS = Object.freeze({
  /** largest accounts listed per asset in a summary */
  largest: 10,
  /** gainers/losers per asset in a diff: default and maximum of ?top= */
  top: 5,
  maxTop: 50,
  /** checkpoints in one /v1/totals answer: default and maximum of ?limit= */
  totals: 24,
  maxTotals: 64,
  /** cached answers and open snapshots */
  summaries: 128,
  diffs: 32,
  snapshots: 4,
  /** heavy computations waiting behind the running one; more are refused with 503 */
  queue: 8,
})

export interface AssetHolder {
  account: string
  amount: string
}

export interface CheckpointSummary {
  block: string
  kind: CheckpointView['kind']
  snapshot: string
  stateRoot: string
  timestamp: string
  chainId: string
  adapter: { id: string; version: string; configHash: string }
  schema: { id: string; version: number }
  accountCount: number
  /** per asset: Σ balance over every account (decimal strings) */
  totals: Record<string, string>
  /** per asset: accounts with a non-zero balance */
  holders: Record<string, number>
  /** per asset: the accounts holding most, largest first */
  largest: Record<string, AssetHolder[]>
  /** per market: Σ of long and short sizes, options bought and written, over every account */
  positions: { market: string; long: string; short: string; optionsBought: string; optionsWritten: string }[]
  /** the market-state block as JSON (prices, open interest, funding, assets) */
  markets: unknown
}

export interface DiffAnswer {
  summary: RecoveryDiffSummary
  /** per asset: the accounts that gained and lost most, largest first */
  movers: Record<string, { gained: AssetHolder[]; lost: AssetHolder[] }>
}

class Lru<V> {
  private readonly map = new Map<string, V>()
  private readonly max: number
  constructor(max: number) {
    this.max = max
  }
  get(k: string): V | undefined {
    const v = this.map.get(k)
    if (v !== undefined) {
      this.map.delete(k)
      this.map.set(k, v)
    }
    return v
  }
  set(k: string, v: V): void {
    this.map.delete(k)
    this.map.set(k, v)
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!)
  }
  delete(k: string): void {
    this.map.delete(k)
  }
}

function query(url: URL, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const k of new Set(url.searchParams.keys())) {
    if (!allowed.includes(k)) throw new HttpError(400, 'INVALID_PARAMETER', `unknown query parameter ${JSON.stringify(k.slice(0, 40))}; use ${allowed.join(', ')}`, { parameter: k.slice(0, 40) })
    if (url.searchParams.getAll(k).length > 1) throw new HttpError(400, 'INVALID_PARAMETER', `${k} is given more than once`, { parameter: k })
    out.set(k, url.searchParams.get(k)!)
  }
  return out
}

function count(text: string | undefined, parameter: string, def: number, max: number): number {
  if (text === undefined) return def
  if (!/^[0-9]{1,4}$/.test(text) || Number(text) < 1 || Number(text) > max) throw new HttpError(400, 'INVALID_PARAMETER', `${parameter} must be an integer from 1 to ${max}`, { parameter })
  return Number(text)
}

const byAmountDesc = (x: AssetHolder & { v: bigint }, y: AssetHolder & { v: bigint }): number => (y.v > x.v ? 1 : y.v < x.v ? -1 : x.account < y.account ? -1 : 1)

/** Certified data never changes under a block number: clients and proxies may keep it. */
function sendCached(res: ServerResponse, body: unknown): void {
  const text = Buffer.from(`${toJSON(body)}\n`)
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(text.length), 'Cache-Control': 'public, max-age=3600, immutable' })
  res.end(text)
}

export interface ExplorerApi {
  handle(req: IncomingMessage, res: ServerResponse, url: URL, r: ExplorerRoute): Promise<void>
}

export function createExplorerApi(view: NodeView, limits: typeof EXPLORER_LIMITS = EXPLORER_LIMITS): ExplorerApi {
  const snapshots = new Lru<Promise<Snapshot<unknown, unknown>>>(limits.snapshots)
  const summaries = new Lru<CheckpointSummary>(limits.summaries)
  const diffs = new Lru<DiffAnswer>(limits.diffs)
  let chain: Promise<unknown> = Promise.resolve()
  let waiting = 0

  /** One heavy computation at a time; a bounded number wait (the rest get 503 and retry). */
  function serial<T>(work: () => Promise<T>): Promise<T> {
    if (waiting >= limits.queue) throw new HttpError(503, 'BUSY', 'the explorer API is busy computing other answers; retry in a few seconds', { headers: { 'Retry-After': '2' } })
    waiting++
    const run = chain.then(work, work)
    chain = run.then(
      () => (waiting--, undefined),
      () => (waiting--, undefined),
    )
    return run
  }

  async function checkpoint(block: bigint): Promise<CheckpointView> {
    const cp = await view.checkpoint(block)
    if (cp === undefined) throw new HttpError(404, 'NOT_FOUND', `no certified checkpoint at block ${block}; list them with /v1/checkpoints`)
    return cp
  }

  function open(cidText: string): Promise<Snapshot<unknown, unknown>> {
    let s = snapshots.get(cidText)
    if (s === undefined) {
      const cid = CID.parse(cidText)
      s = (async () => {
        if (!(await view.blocks.has(cid))) throw new HttpError(404, 'NOT_HELD', `this node does not hold snapshot ${cidText} (pruned by retention, or still fetching); ask another node or fetch it with "ark fetch"`)
        const root = decodeRoot(cid, await view.blocks.get(cid))
        return Snapshot.open(view.blocks, cid, schemaById(root.schema.id, root.schema.version))
      })()
      snapshots.set(cidText, s)
      s.catch(() => snapshots.delete(cidText))
    }
    return s
  }

  async function summary(cp: CheckpointView): Promise<CheckpointSummary> {
    const hit = summaries.get(cp.snapshotCid)
    if (hit !== undefined) return { ...hit, block: cp.block, kind: cp.kind }
    const s = await open(cp.snapshotCid)
    const out = await serial(async () => {
      const totals = new Map<string, bigint>()
      const holders = new Map<string, number>()
      const largest = new Map<string, (AssetHolder & { v: bigint })[]>()
      const positions = new Map<string, { long: bigint; short: bigint; bought: bigint; written: bigint }>()
      const { schema } = s
      for await (const e of s.rawEntries()) {
        const record = schema.decode(e.value, 'record')
        let account: string | undefined
        for (const [asset, v] of schema.balances?.(record) ?? []) {
          totals.set(asset, (totals.get(asset) ?? 0n) + v)
          if (v === 0n) continue
          holders.set(asset, (holders.get(asset) ?? 0) + 1)
          let top = largest.get(asset)
          if (top === undefined) largest.set(asset, (top = []))
          if (top.length < limits.largest || v > top[top.length - 1]!.v) {
            account ??= `0x${Buffer.from(e.key).toString('hex')}`
            top.push({ account, amount: v.toString(), v })
            top.sort(byAmountDesc)
            if (top.length > limits.largest) top.pop()
          }
        }
        for (const p of schema.positions?.(record) ?? []) {
          const market = marketKey(p.market)
          let acc = positions.get(market)
          if (acc === undefined) positions.set(market, (acc = { long: 0n, short: 0n, bought: 0n, written: 0n }))
          if (p.option) {
            if (p.size > 0n) acc.bought += p.size
            else acc.written -= p.size
          } else if (p.size > 0n) acc.long += p.size
          else acc.short -= p.size
        }
      }
      const r = s.root
      const sorted = <V>(m: Map<string, V>): [string, V][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1))
      return {
        block: cp.block,
        kind: cp.kind,
        snapshot: cp.snapshotCid,
        stateRoot: r.stateRoot,
        timestamp: r.block.timestamp.toString(),
        chainId: r.block.chainId.toString(),
        adapter: { id: r.adapter.id, version: r.adapter.version, configHash: r.adapter.configHash },
        schema: { id: r.schema.id, version: r.schema.version },
        accountCount: r.accountCount,
        totals: Object.fromEntries(sorted(totals).map(([k, v]) => [k, v.toString()])),
        holders: Object.fromEntries(sorted(holders)),
        largest: Object.fromEntries(sorted(largest).map(([k, list]) => [k, list.map(({ account, amount }) => ({ account, amount }))])),
        positions: [...positions]
          .sort(([a], [b]) => compareMarketKeys(a, b))
          .map(([market, a]) => ({ market, long: a.long.toString(), short: a.short.toString(), optionsBought: a.bought.toString(), optionsWritten: a.written.toString() })),
        markets: schema.markets.toJSON(await s.markets()),
      } satisfies CheckpointSummary
    })
    summaries.set(cp.snapshotCid, out)
    return out
  }

  async function diff(from: CheckpointView, to: CheckpointView, top: number): Promise<DiffAnswer> {
    const key = `${from.snapshotCid}/${to.snapshotCid}/${top}`
    const hit = diffs.get(key)
    if (hit !== undefined) return hit
    const [a, b] = await Promise.all([open(from.snapshotCid), open(to.snapshotCid)])
    const out = await serial(async () => {
      const s = emptyRecoverySummary(a, b)
      const movers = new Movers(top)
      try {
        for await (const d of recoveryDiff(a, b, s)) movers.add(d)
      } catch (err) {
        if (err instanceof ArkError && err.code === 'INVALID_INPUT') throw new HttpError(400, 'NOT_COMPARABLE', err.message)
        throw err
      }
      const list = (l: [string, bigint][]): AssetHolder[] => l.map(([account, v]) => ({ account, amount: (v < 0n ? -v : v).toString() }))
      return { summary: s, movers: Object.fromEntries([...movers.byAsset].sort(([x], [y]) => (x < y ? -1 : 1)).map(([asset, m]) => [asset, { gained: list(m.gained.rows), lost: list(m.lost.rows) }])) }
    })
    diffs.set(key, out)
    return out
  }

  return {
    async handle(req, res, url, r) {
      const method = req.method ?? 'GET'
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD')
      const parts = url.pathname.split('/')
      switch (r) {
        case 'checkpoint_summary': {
          query(url, [])
          return sendCached(res, await summary(await checkpoint(parseBlockNumber(parts[3]!, 'block'))))
        }
        case 'checkpoint_anchor': {
          query(url, [])
          const block = parseBlockNumber(parts[3]!, 'block')
          if (view.anchoring === undefined) throw new HttpError(404, 'NOT_OFFERED', 'this node reads its operator set from a file, not from ArkRegistry, so it cannot say whether a checkpoint is anchored; ask a node configured with operators.registry')
          let answer: Record<string, unknown> | undefined
          try {
            answer = await view.anchoring(block)
          } catch (err) {
            if (err instanceof HttpError) throw err
            // our RPC failed, not the client: retry later
            throw new HttpError(503, 'DEPENDENCY_FAILED', 'reading ArkRegistry failed on this node; try again later')
          }
          if (answer === undefined) throw new HttpError(404, 'NOT_FOUND', `no certified checkpoint at block ${block}; list them with /v1/checkpoints`)
          // "not-anchored" can change once someone submits the certificate: short cache
          return sendJSON(res, 200, answer, { 'Cache-Control': answer.status === 'not-anchored' ? 'max-age=5' : 'max-age=3600' })
        }
        case 'checkpoint_account': {
          query(url, [])
          const text = decodeURIComponent(parts[5]!)
          if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw new HttpError(400, 'INVALID_PARAMETER', 'the account must be a 0x-prefixed 20-byte hex address', { parameter: 'account' })
          const cp = await checkpoint(parseBlockNumber(parts[3]!, 'block'))
          const s = await open(cp.snapshotCid)
          const key = hexToBytes(text, 'account', 20)
          // the first proof of a snapshot builds its Merkle tree (then cached with the snapshot): heavy, so serialised
          const proof = await serial(() => proveAccount(s, key)).catch((err: unknown) => {
            if (err instanceof ArkError && err.code === 'KEY_NOT_FOUND') throw new HttpError(404, 'NOT_FOUND', err.message)
            throw err
          })
          return sendCached(res, { block: cp.block, certificateCid: cp.certificateCid, proof })
        }
        case 'diff': {
          const q = query(url, ['from', 'to', 'top'])
          if (!q.has('from') || !q.has('to')) throw new HttpError(400, 'INVALID_PARAMETER', 'give both from and to (checkpoint blocks)', { parameter: q.has('from') ? 'to' : 'from' })
          const from = await checkpoint(parseBlockNumber(q.get('from')!, 'from'))
          const to = await checkpoint(parseBlockNumber(q.get('to')!, 'to'))
          return sendCached(res, await diff(from, to, count(q.get('top'), 'top', limits.top, limits.maxTop)))
        }
        case 'totals': {
          const q = query(url, ['from', 'to', 'limit'])
          const limit = count(q.get('limit'), 'limit', limits.totals, limits.maxTotals)
          const range = { limit: 1000, ...(q.has('from') ? { from: parseBlockNumber(q.get('from')!, 'from') } : {}), ...(q.has('to') ? { to: parseBlockNumber(q.get('to')!, 'to') } : {}) }
          // the newest `limit` checkpoints of the range
          // restitution tables (kind 2) are not snapshots: no totals to chart
          const cps = (await view.checkpoints(range)).filter((cp) => cp.kind !== 'restitution').slice(-limit)
          const points: { block: string; kind: string; timestamp: string; totals: Record<string, string>; positions: CheckpointSummary['positions'] }[] = []
          const missing: string[] = []
          for (const cp of cps) {
            try {
              const s = await summary(cp)
              points.push({ block: s.block, kind: s.kind, timestamp: s.timestamp, totals: s.totals, positions: s.positions })
            } catch (err) {
              if (!(err instanceof HttpError) || err.code !== 'NOT_HELD') throw err
              missing.push(cp.block)
            }
          }
          // a sequence that grows as checkpoints are certified: not cacheable like the rest
          return sendJSON(res, 200, { points, missing })
        }
        case 'divergences':
          query(url, [])
          return sendJSON(res, 200, { divergences: view.divergences?.() ?? [] })
        case 'operators':
          // the set at the finalized head only: a client-chosen block could make the node read the registry at any number of blocks
          query(url, [])
          if (view.operators === undefined) throw new HttpError(404, 'NOT_FOUND', 'this node does not report its operator set')
          return sendJSON(res, 200, await view.operators())
      }
    },
  }
}
