/**
 * Anchoring relayer (issue 14): a designated relayer anchors each certificate in a real ArkRegistry on
 * anvil; a backup with a longer delay finds it recorded and sends nothing; a certificate the registry
 * refuses is reported by name and not retried; an unreachable endpoint fails after bounded attempts
 * without its credentials reaching the logs or the error.
 */
import { pino, type Logger } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFunctionData, keccak256, toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, deployRegistry } from '../../node/chain/registry.ts'
import { AnchorRelayer, type RelayResult } from '../../node/archive/relayer.ts'
import type { AttestationBody } from '../../protocol/attestation.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { OP, OUTSIDER } from '../protocol/support.ts'
import { certify } from '../support/recovery.ts'

let anvil: AnvilInstance
let registry: Address
const controller = new AbortController()
const relayerKeys = [keccak256(toHex('relayer a')), keccak256(toHex('relayer b'))]

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return ((await res.json()) as { result: T }).result
}

async function body(tag: string): Promise<AttestationBody> {
  await rpc('evm_mine')
  const h = await rpc<{ number: string; hash: Hex }>('eth_getBlockByNumber', ['latest', false])
  const snapshot = encodeBlock({ type: 'ark.test.relay', tag })
  // the registry checks a certificate only once its block is past (FutureBlock otherwise)
  await rpc('evm_mine')
  return { chainId: 31337n, adapterId: 'perp-reference', configHash: keccak256(toHex('relay config')), blockNumber: BigInt(h.number), blockHash: h.hash, snapshotCid: snapshot.cid, stateRoot: keccak256(snapshot.bytes), specVersion: 1, kind: 0 }
}

function recorder(): { results: RelayResult[]; lags: number[]; metrics: { result(r: RelayResult): void; lag(s: number): void; pending(): void } } {
  const results: RelayResult[] = []
  const lags: number[] = []
  return { results, lags, metrics: { result: (r) => results.push(r), lag: (s) => lags.push(s), pending: () => {} } }
}

function logSink(): { lines: string[]; logger: Logger } {
  const lines: string[] = []
  const logger: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) })
  return { lines, logger }
}

function relayer(key: Hex, delayMs: number, over: Partial<ConstructorParameters<typeof AnchorRelayer>[0]> = {}): { r: AnchorRelayer; rec: ReturnType<typeof recorder>; log: ReturnType<typeof logSink> } {
  const rec = recorder()
  const log = logSink()
  const r = new AnchorRelayer({ account: privateKeyToAccount(key), registry, chainId: 31337n, rpcUrl: anvil.rpcUrl, delayMs, log: log.logger, signal: controller.signal, metrics: rec.metrics, backoffMs: 50, ...over })
  return { r, rec, log }
}

beforeAll(async () => {
  anvil = await startAnvil({})
  registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, operators: OP.map((o) => ({ address: o.address, weight: 1 })) })).address.toLowerCase() as Address
  for (const k of relayerKeys) await rpc('anvil_setBalance', [privateKeyToAccount(k).address, '0x56bc75e2d63100000'])
})

afterAll(async () => {
  controller.abort()
  await anvil?.stop()
})

describe('anchoring relayer', () => {
  it('the designated relayer anchors; a staggered backup finds the root recorded and sends nothing', async () => {
    const b = await body('one')
    const cert = await certify(b, OP.slice(0, 3))
    const a = relayer(relayerKeys[0]!, 0)
    const backup = relayer(relayerKeys[1]!, 400)
    const nonceBefore = await rpc<string>('eth_getTransactionCount', [privateKeyToAccount(relayerKeys[1]!).address, 'latest'])
    a.r.onCertificate(cert)
    backup.r.onCertificate(cert)
    a.r.onCertificate(cert) // a repeat (gossip and catch-up both deliver it) is handled once
    await Promise.all([a.r.idle(), backup.r.idle()])
    expect(a.rec.results).toEqual(['submitted'])
    expect(backup.rec.results).toEqual(['already-recorded'])
    expect(a.rec.lags).toHaveLength(1)
    expect(await rpc<string>('eth_getTransactionCount', [privateKeyToAccount(relayerKeys[1]!).address, 'latest'])).toBe(nonceBefore)
    const recorded = await rpc<Hex>('eth_call', [{ to: registry, data: encodeRecordedRoot(b) }, 'latest'])
    expect(recorded.toLowerCase()).toBe(b.stateRoot.toLowerCase())
  })

  it('a certificate the registry refuses is reported by its error name and not retried', async () => {
    const b = await body('two')
    const below = await certify(b, OP.slice(0, 2)) // 2 of 4: below the default threshold 3
    const outsider = await certify(await body('three'), [OP[0]!, OP[1]!, OUTSIDER])
    const a = relayer(relayerKeys[0]!, 0)
    a.r.onCertificate(below)
    a.r.onCertificate(outsider)
    await a.r.idle()
    expect(a.rec.results).toEqual(['refused', 'refused'])
    const text = a.log.lines.join('')
    expect(text).toContain('BelowThreshold')
    expect(text).toContain('UnknownSigner')
  })

  it('an unreachable endpoint fails after bounded attempts; its credentials never reach logs or errors', async () => {
    const secretUrl = 'http://relayuser:s3cretpassw0rd@127.0.0.1:9/rpc/KEY0123456789abcdef'
    const a = relayer(relayerKeys[0]!, 0, { rpcUrl: secretUrl, attempts: 2 })
    a.r.onCertificate(await certify(await body('four'), OP.slice(0, 3)))
    await a.r.idle()
    expect(a.rec.results).toEqual(['failed'])
    const text = a.log.lines.join('')
    expect(text).toContain('failed 2 times')
    for (const secret of ['s3cretpassw0rd', 'relayuser', 'KEY0123456789abcdef']) expect(text).not.toContain(secret)
  })

  it('the queue is bounded: beyond it the oldest waiting certificate is dropped and counted (the one in flight is kept)', async () => {
    const a = relayer(relayerKeys[0]!, 60_000, { maxPending: 2 })
    // one block each (bodies made one after the other: one checkpoint is relayed once)
    for (const t of ['q1', 'q2', 'q3', 'q4']) a.r.onCertificate(await certify(await body(t), OP.slice(0, 3)))
    expect(a.rec.results).toEqual(['dropped'])
  })
})

function encodeRecordedRoot(b: AttestationBody): Hex {
  return encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'recordedRoot', args: [b.adapterId, b.configHash, b.kind, b.blockNumber] })
}
