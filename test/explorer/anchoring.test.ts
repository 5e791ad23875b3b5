/**
 * Anchoring status (issue 15: "anchoring status in ArkRegistry"): the node reads recordedRoot at its
 * finalized head from a real ArkRegistry on anvil, and the explorer API reports anchored /
 * not-anchored / conflicting; a node whose operators come from a file says it cannot tell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keccak256, toHex, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { deployRegistry, submitCertificateCalldata } from '../../node/chain/registry.ts'
import { AnchoringReader } from '../../node/archive/anchoring.ts'
import { createHttpApi, type HttpApi } from '../../node/http/server.ts'
import type { AttestationBody } from '../../protocol/attestation.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { OP } from '../protocol/support.ts'
import { certify } from '../support/recovery.ts'
import { FakeView } from '../http/support.ts'

let anvil: AnvilInstance
let registry: Hex
let source: ChainSource
let head = 0n
const stop: (() => Promise<void>)[] = []

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return ((await res.json()) as { result: T }).result
}

async function latest(): Promise<{ number: bigint; hash: Hex }> {
  const b = await rpc<{ number: string; hash: Hex }>('eth_getBlockByNumber', ['latest', false])
  return { number: BigInt(b.number), hash: b.hash }
}

beforeAll(async () => {
  anvil = await startAnvil({})
  stop.push(() => anvil.stop())
  registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, operators: OP.map((o) => ({ address: o.address, weight: 1 })) })).address
  await rpc('evm_mine')
  source = new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n })
})

afterAll(async () => {
  for (const s of stop.reverse()) await s()
})

describe('anchoring status', () => {
  it('not anchored, then anchored once submitted and the head moves; another root at that block is a conflict; the API reports each', async () => {
    const h = await latest()
    const snapshot = encodeBlock({ type: 'ark.test.anchor', block: h.number })
    const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash: keccak256(toHex('anchor config')), blockNumber: h.number, blockHash: h.hash, snapshotCid: snapshot.cid, stateRoot: keccak256(snapshot.bytes), specVersion: 1, kind: 0 }
    const cert = await certify(body, OP.slice(0, 3))
    await rpc('evm_mine')
    head = (await latest()).number
    const reader = new AnchoringReader({ source, registry, finalizedHead: () => head, signal: new AbortController().signal })

    expect(await reader.status(body)).toEqual({ registry, status: 'not-anchored', recordedRoot: null, readAt: head.toString() })

    const from = (await rpc<string[]>('eth_accounts'))[0]!
    await rpc('eth_sendTransaction', [{ from, to: registry, data: submitCertificateCalldata(cert), gas: '0x1000000' }])
    await rpc('evm_mine')
    // same head: the answer read at it still holds (one registry read per head)
    expect((await reader.status(body)).status).toBe('not-anchored')
    head = (await latest()).number
    const anchored = await reader.status(body)
    expect(anchored).toEqual({ registry, status: 'anchored', recordedRoot: body.stateRoot.toLowerCase(), readAt: head.toString() })
    const other = { ...body, stateRoot: keccak256(toHex('another root')) }
    expect((await reader.status(other)).status).toBe('conflicting')

    // through the HTTP API the explorer reads
    const store = new MemoryBlockStore()
    const view = new FakeView(store, [])
    const withRegistry = Object.assign(view, { anchoring: async (block: bigint) => (block === body.blockNumber ? { ...(await reader.status(body)) } : undefined) })
    const api: HttpApi = createHttpApi({ view: withRegistry })
    const fileOnly: HttpApi = createHttpApi({ view: new FakeView(store, []) })
    stop.push(() => api.stop(), () => fileOnly.stop())
    const url = (await api.start()).url
    const res = await fetch(`${url}/v1/checkpoints/${body.blockNumber}/anchor`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ registry, status: 'anchored', recordedRoot: body.stateRoot.toLowerCase(), readAt: head.toString() })
    expect((await fetch(`${url}/v1/checkpoints/${body.blockNumber + 1000n}/anchor`)).status).toBe(404)
    const none = await fetch(`${(await fileOnly.start()).url}/v1/checkpoints/${body.blockNumber}/anchor`)
    expect(none.status).toBe(404)
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('NOT_OFFERED')
  }, 60_000)

  it('an RPC failure is a 503 from this node (our dependency), never a wrong answer', async () => {
    const dead = new ChainSource({ rpcUrls: ['http://127.0.0.1:9'], chainId: 31337n, rpc: { retries: 0 } })
    const reader = new AnchoringReader({ source: dead, registry, finalizedHead: () => head, signal: new AbortController().signal })
    const view = Object.assign(new FakeView(new MemoryBlockStore(), []), {
      anchoring: async () => ({ ...(await reader.status({ chainId: 31337n, adapterId: 'x', configHash: `0x${'11'.repeat(32)}`, blockNumber: 1n, blockHash: `0x${'22'.repeat(32)}`, snapshotCid: encodeBlock({ a: 1 }).cid, stateRoot: `0x${'33'.repeat(32)}`, specVersion: 1, kind: 0 })) }),
    })
    const api = createHttpApi({ view })
    stop.push(() => api.stop())
    const res = await fetch(`${(await api.start()).url}/v1/checkpoints/1/anchor`)
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('DEPENDENCY_FAILED')
  }, 60_000)

  it('an anchored empty snapshot (stateRoot zero) reads as anchored, not as nothing recorded', async () => {
    const h = await latest()
    const snapshot = encodeBlock({ type: 'ark.test.anchor.empty', block: h.number })
    const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash: keccak256(toHex('anchor config')), blockNumber: h.number, blockHash: h.hash, snapshotCid: snapshot.cid, stateRoot: `0x${'00'.repeat(32)}`, specVersion: 1, kind: 0 }
    const cert = await certify(body, OP.slice(0, 3))
    await rpc('evm_mine')
    const from = (await rpc<string[]>('eth_accounts'))[0]!
    await rpc('eth_sendTransaction', [{ from, to: registry, data: submitCertificateCalldata(cert), gas: '0x1000000' }])
    await rpc('evm_mine')
    head = (await latest()).number
    const reader = new AnchoringReader({ source, registry, finalizedHead: () => head, signal: new AbortController().signal })
    expect(await reader.status(body)).toEqual({ registry, status: 'anchored', recordedRoot: body.stateRoot, readAt: head.toString() })
  })
})
