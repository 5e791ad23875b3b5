import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runWorkload } from '../../node/devnet/workload.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { ChainError, RpcError } from '../../snapshot/chain/errors.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { deriveCheckpoint } from '../../snapshot/derive/derive.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { startRpcProxy, type RpcProxy } from '../support/rpc-proxy.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'

let f: ChainFixture
let proxy: RpcProxy
let liar: RpcProxy
let block: bigint
let goodCid: string

function source(urls: string[], maxLogRange = 5_000n): ChainSource {
  return new ChainSource({ rpcUrls: urls, chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 }, maxLogRange, rpc: { retries: 3, backoffMs: 10, timeoutMs: 500 } })
}

async function build(src: ChainSource): Promise<string> {
  const target = await src.checkpointHeader(block)
  const store = new MemoryBlockStore()
  const { checkpoint } = await deriveCheckpoint({ adapter: perpReferenceAdapter, config: f.config, source: src, target, store })
  return checkpoint.snapshot.cid.toString()
}

beforeAll(async () => {
  f = await startChain()
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 11, traders: 16, steps: 200 })
  block = await blockNumber(f)
  goodCid = await build(f.source())
  proxy = await startRpcProxy(f.anvil.rpcUrl)
  liar = await startRpcProxy(f.anvil.rpcUrl)
}, 180_000)

afterAll(async () => {
  await proxy?.close()
  await liar?.close()
  await f?.stop()
})

describe('chain source under a faulty RPC (real anvil behind a fault-injecting proxy)', () => {
  it('retries HTTP 5xx, timeouts and truncated or garbage bodies, and still builds the exact snapshot', async () => {
    const kinds = ['http', 'delay', 'truncate', 'garbage'] as const
    proxy.setFault(({ n }) => {
      if (n % 4 !== 1) return { kind: 'pass' }
      const k = kinds[(n >> 2) % kinds.length]!
      if (k === 'http') return { kind: 'http', status: 503 }
      if (k === 'delay') return { kind: 'delay', ms: 800 }
      return { kind: k }
    })
    const src = source([proxy.url])
    expect(await build(src)).toBe(goodCid)
    expect(src.requests).toBeGreaterThan(proxy.seen.length / 2)
    proxy.setFault(() => ({ kind: 'pass' }))
  })

  it('halves the log range when the provider refuses it and gets the same logs', async () => {
    proxy.setFault(({ method, params }) => {
      if (method !== 'eth_getLogs') return { kind: 'pass' }
      const p = params[0] as { fromBlock: string; toBlock: string }
      const span = BigInt(p.toBlock) - BigInt(p.fromBlock) + 1n
      return span > 8n ? { kind: 'rpc-error', code: -32005, message: 'query returned more than 10000 results; block range too large' } : { kind: 'pass' }
    })
    const src = source([proxy.url], 1000n)
    expect(await build(src)).toBe(goodCid)
    expect(proxy.seen.filter((m) => m === 'eth_getLogs').length).toBeGreaterThan(3)
    proxy.setFault(() => ({ kind: 'pass' }))
  })

  it('fails clearly, and writes nothing, when the endpoint keeps failing', async () => {
    proxy.setFault(() => ({ kind: 'http', status: 502 }))
    const err = await build(source([proxy.url])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RpcError)
    expect((err as RpcError).chainCode).toBe('RPC_UNAVAILABLE')
    expect((err as Error).message).toMatch(/HTTP 502.*endpoint http:\/\/127\.0\.0\.1:\d+/)
    proxy.setFault(() => ({ kind: 'pass' }))
  })

  it('refuses a block hash that another provider contradicts', async () => {
    liar.setFault(({ method }) =>
      method === 'eth_getBlockByNumber' ? { kind: 'rewrite', fn: (r) => (r === null ? r : { ...(r as object), hash: `0x${'ee'.repeat(32)}` }) } : { kind: 'pass' },
    )
    const err = await build(source([f.anvil.rpcUrl, liar.url])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainError)
    expect((err as ChainError).chainCode).toBe('CHAIN_DISAGREEMENT')
    expect((err as Error).message).toMatch(/disagree on block/)
  })

  it('never builds from logs of another block than the pinned one', async () => {
    proxy.setFault(({ method }) =>
      method === 'eth_getLogs' ? { kind: 'rewrite', fn: (r) => (r as { blockHash: string }[]).map((l) => ({ ...l, blockHash: `0x${'dd'.repeat(32)}` })) } : { kind: 'pass' },
    )
    const src = source([proxy.url])
    const target = await src.checkpointHeader(block)
    // logs from the target block claim another hash: a reorg mid-read
    const lastLogBlock = (await src.logs(perpReferenceAdapter.contracts(f.config), f.config.startBlock, block)).at(-1)!.blockNumber
    const t2 = await src.checkpointHeader(lastLogBlock)
    const err = await deriveCheckpoint({ adapter: perpReferenceAdapter, config: f.config, source: src, target: t2, store: new MemoryBlockStore() }).catch((e: unknown) => e)
    expect((err as ChainError).chainCode).toBe('REORG')
    expect(target.number).toBe(block)
    proxy.setFault(() => ({ kind: 'pass' }))
  })

  it('rejects a wrong chain id and a contract that does not exist at the block', async () => {
    const wrong = new ChainSource({ rpcUrls: [f.anvil.rpcUrl], chainId: 1n, finality: { kind: 'confirmations', confirmations: 0 } })
    const e1 = await wrong.checkChainId().catch((e: unknown) => e)
    expect((e1 as ChainError).chainCode).toBe('WRONG_CHAIN')
    const src = source([f.anvil.rpcUrl])
    const target = await src.checkpointHeader(block)
    const config = perpReferenceAdapter.parseConfig({ exchange: `0x${'12'.repeat(20)}`, startBlock: 0 })
    const e2 = await deriveCheckpoint({ adapter: perpReferenceAdapter, config, source: src, target, store: new MemoryBlockStore() }).catch((e: unknown) => e)
    expect((e2 as ChainError).chainCode).toBe('CONTRACT_MISSING')
    expect((e2 as Error).message).toContain('0x1212')
  })

  it('rejects invalid adapter configs naming the key', () => {
    expect(() => perpReferenceAdapter.parseConfig({ exchange: '0x12', startBlock: 1 })).toThrow(/"exchange" must be a 20-byte/)
    expect(() => perpReferenceAdapter.parseConfig({ startBlock: 1 })).toThrow(/missing "exchange"/)
    expect(() => perpReferenceAdapter.parseConfig({ exchange: `0x${'12'.repeat(20)}`, startBlock: 1, extra: 1 })).toThrow(/unknown key "extra"/)
    expect(() => perpReferenceAdapter.parseConfig({ exchange: `0x${'12'.repeat(20)}`, startBlock: -1 })).toThrow(/startBlock/)
  })
})
