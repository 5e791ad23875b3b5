/**
 * Fixtures for the HTTP API tests: a real synthetic snapshot in a real
 * MemoryBlockStore, a real (operator-signed) certificate block linking to
 * it, and a fake NodeView over them that records what it was asked.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { Certificate } from '../../protocol/certificate.ts'
import type { AccountRecord, DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore, type BlockStore } from '../../snapshot/store.ts'
import type { CheckpointRange, CheckpointView, NodeView } from '../../node/http/server.ts'
import { certifiedSnapshot } from '../support/recovery-server.ts'

export interface Fixture {
  store: MemoryBlockStore
  snapshot: Snapshot<AccountRecord, DerivativesMarkets>
  certificate: Certificate
  certificateCid: string
  checkpoint: CheckpointView
}

export async function buildFixture(accounts = 2000): Promise<Fixture> {
  const c = await certifiedSnapshot({ accounts, seed: 'ark-http' })
  c.store.put(c.certificateBlock)
  return { store: c.store, snapshot: c.snapshot as Snapshot<AccountRecord, DerivativesMarkets>, certificate: c.certificate, certificateCid: c.certificateBlock.cid.toString(), checkpoint: c.checkpoint }
}

/** A block store that pretends some blocks are missing. */
export function hiding(store: BlockStore, hidden: Set<string>): BlockStore {
  return {
    get: (cid) => {
      if (hidden.has(cid.toString())) throw new Error(`not found: ${cid.toString()}`)
      return store.get(cid)
    },
    put: (b) => store.put(b),
    has: (cid) => !hidden.has(cid.toString()) && store.has(cid),
  }
}

export class FakeView implements NodeView {
  blocks: BlockStore
  healthy = { ok: true, reasons: [] as string[] }
  readiness = { ok: true, reasons: [] as string[] }
  ranges: CheckpointRange[] = []
  snapshotCalls: (bigint | undefined)[] = []
  throwOnStatus = false
  metricsText = '# HELP ark_up Node is up.\n# TYPE ark_up gauge\nark_up 1\n'
  admin: NodeView['admin']
  private readonly cps: CheckpointView[]

  constructor(blocks: BlockStore, checkpoints: CheckpointView[], withAdmin = true) {
    this.blocks = blocks
    this.cps = checkpoints
    this.admin = withAdmin
      ? {
          snapshotNow: async (block?: bigint) => {
            this.snapshotCalls.push(block)
            return { block: block ?? 'latest', started: true }
          },
        }
      : undefined
  }

  status(): Record<string, unknown> {
    if (this.throwOnStatus) throw new Error('boom: secret internal detail')
    return { version: '0.1.0', head: 12345n, peers: 3 }
  }

  checkpoints(range: CheckpointRange): CheckpointView[] {
    this.ranges.push(range)
    return this.cps.filter((c) => (range.from === undefined || BigInt(c.block) >= range.from) && (range.to === undefined || BigInt(c.block) <= range.to)).slice(0, range.limit)
  }

  checkpoint(block: bigint | 'latest'): CheckpointView | undefined {
    if (block === 'latest') return this.cps[this.cps.length - 1]
    return this.cps.find((c) => BigInt(c.block) === block)
  }

  evidence(): Record<string, unknown>[] {
    return [{ signer: '0x' + '01'.repeat(20), block: 7n }]
  }

  metrics(): string {
    return this.metricsText
  }

  health(): { ok: boolean; reasons: string[] } {
    return this.healthy
  }

  ready(): { ok: boolean; reasons: string[] } {
    return this.readiness
  }
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** node:http request with full control over headers (fetch always adds Accept) and HTTP version quirks. */
export function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }))
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('response aborted')))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
