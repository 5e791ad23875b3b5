/**
 * The registry as trust root of the recovery commands, on a real anvil:
 * issue 10 item 7 (a past operator set cannot forge a certificate by naming an
 * old block hash) and item 10 (RPC URLs with credentials work, and no secret
 * of them reaches any output or error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeFunctionData, keccak256, toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, deployRegistry, readOperatorSet, submitCertificateCalldata } from '../../node/chain/registry.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { synthMeta } from '../../snapshot/synth/synth.ts'
import { addr, OP } from '../protocol/support.ts'
import { certifiedSnapshot, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import { runArk, writeFetchedDir } from '../support/recovery.ts'
import { startAuthRpcProxy, type AuthRpcProxy } from '../support/recovery-rpc-auth.ts'

const NEW_OPS = [1, 2, 3].map((i) => privateKeyToAccount(keccak256(toHex(`registry-trust new operator ${i}`))))

let dir: string
let anvil: AnvilInstance
let proxy: AuthRpcProxy
let registry: Hex
/** block where OP[0..3] were the set, before governance rotated three of them out */
let old: { number: bigint; hash: Hex }
let head: { number: bigint; hash: Hex }
let forged: Certified
let genuine: Certified
let node: ServingNode
const stop: (() => Promise<void>)[] = []

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return ((await res.json()) as { result: T }).result
}

async function latest(): Promise<{ number: bigint; hash: Hex; timestamp: bigint }> {
  const b = await rpc<{ number: string; hash: Hex; timestamp: string }>('eth_getBlockByNumber', ['latest', false])
  return { number: BigInt(b.number), hash: b.hash, timestamp: BigInt(b.timestamp) }
}

async function govern(functionName: 'addOperator' | 'removeOperator', args: readonly unknown[]): Promise<void> {
  const owner = (await rpc<string[]>('eth_accounts'))[0]!
  await rpc('eth_sendTransaction', [{ from: owner, to: registry, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName, args } as Parameters<typeof encodeFunctionData>[0]) }])
  await rpc('evm_mine')
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-registry-trust-'))
  anvil = await startAnvil({})
  stop.push(() => anvil.stop())
  proxy = await startAuthRpcProxy(anvil.rpcUrl)
  stop.push(() => proxy.close())
  registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, operators: OP.map((o) => ({ address: o.address, weight: 1 })) })).address
  await rpc('evm_mine')
  const o = await latest()
  old = { number: o.number, hash: o.hash }
  // governance rotates three of the four keys out (retired, or stolen later): OP[0..2] are no quorum any more
  for (const n of NEW_OPS) await govern('addOperator', [n.address, 1n])
  for (const r of OP.slice(0, 3)) await govern('removeOperator', [r.address])
  for (let i = 0; i < 3; i++) await rpc('evm_mine')
  const h = await latest()
  head = { number: h.number, hash: h.hash }
  const synth = synthMeta({ accounts: 300, seed: 'registry-trust' })
  // the old quorum signs block `head` but names the old block's hash, where it still was the set
  forged = await certifiedSnapshot({ accounts: 300, seed: 'registry-trust', meta: { ...synth, block: { chainId: 31337n, number: head.number, hash: old.hash, timestamp: h.timestamp } }, signers: OP.slice(0, 3) })
  // the current quorum signs block `head` with its canonical hash
  genuine = await certifiedSnapshot({ accounts: 300, seed: 'registry-trust', meta: { ...synth, block: { chainId: 31337n, number: head.number, hash: head.hash, timestamp: h.timestamp } }, signers: [OP[3]!, ...NEW_OPS.slice(0, 2)] })
  node = await startServingNode(join(dir, 'node'), [forged])
  stop.push(() => node.stop())
}, 180_000)

afterAll(async () => {
  for (const s of stop.reverse()) await s().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

describe('registry trust: a past operator set cannot forge (issue 10 item 7)', () => {
  // Fails on the code before the fix: the set was read at the block hash the certificate names, so
  // the retired quorum verified and `ark fetch` wrote a "verified" forged state.
  it('ark fetch and ark verify refuse a certificate whose block hash is not the canonical hash of its block', { timeout: 120_000 }, async () => {
    const chain = new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n })
    // the premise: at the old block the forgers were the quorum, now they are not
    expect((await readOperatorSet(chain, registry, old.hash)).weights.has(addr(OP[0]!))).toBe(true)
    expect((await readOperatorSet(chain, registry, head.hash)).weights.has(addr(OP[0]!))).toBe(false)
    const out = join(dir, 'forged-out')
    const f = await runArk(['fetch', '--chain', '31337', '--adapter', 'synth', '--block', head.number.toString(), '--registry', registry, '--rpc', anvil.rpcUrl, '--gateway', node.url, '--out', out])
    expect(f.code, f.stdout).toBe(1)
    expect(f.stderr).toMatch(new RegExp(`canonical block ${head.number} has hash ${head.hash}.*not canonical`))
    expect(await readdir(dir)).not.toContain('forged-out')
    const forgedDir = join(dir, 'forged-dir')
    await writeFetchedDir(forgedDir, forged.snapshot, forged.store, forged.certificate)
    const v = await runArk(['verify', forgedDir, '--registry', registry, '--rpc', anvil.rpcUrl])
    expect(v.code, v.stdout).toBe(1)
    expect(v.stderr).toMatch(/not canonical/)
    // the same checks pass a certificate of the current quorum for the canonical block
    const genuineDir = join(dir, 'genuine-dir')
    await writeFetchedDir(genuineDir, genuine.snapshot, genuine.store, genuine.certificate)
    const ok = await runArk(['verify', genuineDir, '--registry', registry, '--rpc', anvil.rpcUrl, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect((JSON.parse(ok.stdout) as { trust: string }).trust).toBe(`ArkRegistry ${registry} at block ${head.number}`)
  })
})

describe('RPC URLs with credentials (issue 10 item 10)', () => {
  const leaks = (text: string): string[] => proxy.secrets.filter((s) => text.includes(s))

  // Fails on the code before the fix: fetch() refused the URL ("cannot be constructed from a URL that
  // includes credentials", quoting it), and WRONG_CHAIN quoted the path and query (API keys).
  it("a node's chain reader works through Basic auth and never shows a secret in an error", { timeout: 60_000 }, async () => {
    const source = new ChainSource({ rpcUrls: [proxy.url], chainId: 31337n, rpc: { retries: 0 } })
    await source.checkChainId()
    expect((await source.agreedHeader(head.number)).hash).toBe(head.hash)
    const refusedBefore = proxy.refused
    const wrong = new ChainSource({ rpcUrls: [proxy.url], chainId: 1n, rpc: { retries: 0 } })
    const err = (await wrong.checkChainId().catch((e: unknown) => e)) as Error
    expect(err.message).toMatch(/serves chain 31337/)
    const badPass = new ChainSource({ rpcUrls: [proxy.url.replace(proxy.secrets[0]!, 'wrong-pass-0000')], chainId: 31337n, rpc: { retries: 0 } })
    const denied = (await badPass.checkChainId().catch((e: unknown) => e)) as Error & { url?: string }
    expect(denied.message).toMatch(/HTTP 401/)
    expect(proxy.refused).toBe(refusedBefore + 1)
    for (const e of [err, denied]) {
      expect(leaks(`${e.message} ${String(e.stack)} ${JSON.stringify(e)} ${String((e as { url?: string }).url)}`)).toEqual([])
      expect(`${e.message}`).not.toContain('wrong-pass-0000')
    }
  })

  it('fetch, verify, prove and cite work with a secret-bearing --rpc and print no secret, on success or failure', { timeout: 120_000 }, async () => {
    const gnode = await startServingNode(join(dir, 'gnode'), [genuine])
    stop.push(() => gnode.stop())
    // the gateway too sits behind Basic auth and a key in its path
    const gateway = await startAuthRpcProxy(gnode.url)
    stop.push(() => gateway.close())
    const out = join(dir, 'auth-out')
    const runs = []
    const fetched = await runArk(['fetch', '--chain', '31337', '--adapter', 'synth', '--block', 'latest', '--registry', registry, '--rpc', proxy.url, '--gateway', gateway.base, '--out', out, '--json'])
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(gateway.refused).toBe(0)
    runs.push(fetched)
    const verified = await runArk(['verify', out, '--registry', registry, '--rpc', proxy.url, '--json'])
    expect(verified.code, verified.stderr).toBe(0)
    runs.push(verified)
    const account = ((await readFile(join(out, 'accounts.jsonl'), 'utf8')).split('\n')[0]!.match(/0x[0-9a-fA-F]{40}/) ?? [])[0]!
    const proved = await runArk(['prove', '--snapshot', out, '--account', account, '--registry', registry, '--rpc', proxy.url, '--json'])
    expect(proved.code, proved.stderr).toBe(0)
    runs.push(proved)
    const cited = await runArk(['cite', out, '--registry', registry, '--rpc', proxy.url, '--json'])
    expect(cited.code, cited.stderr).toBe(0)
    runs.push(cited)
    // failures: the wrong chain, a forged certificate, an unreachable endpoint with the same secrets
    runs.push(await runArk(['fetch', '--chain', '1', '--adapter', 'synth', '--block', 'latest', '--registry', registry, '--rpc', proxy.url, '--gateway', gnode.url, '--out', join(dir, 'auth-chain')]))
    runs.push(await runArk(['fetch', '--chain', '31337', '--adapter', 'synth', '--block', head.number.toString(), '--registry', registry, '--rpc', proxy.url, '--gateway', node.url, '--out', join(dir, 'auth-forged')]))
    runs.push(await runArk(['verify', out, '--registry', registry, '--rpc', proxy.url.replace(/:\d+\//, ':1/'), '--json']))
    expect(runs.slice(4).map((r) => r.code)).toEqual([1, 1, 1])
    const files = await Promise.all((await readdir(out)).map((f) => readFile(join(out, f), 'utf8')))
    const all = [...runs.flatMap((r) => [r.stdout, r.stderr]), ...files].join('\n')
    expect(leaks(all)).toEqual([])
    expect(gateway.secrets.filter((x) => all.includes(x))).toEqual([])
  })
})

describe('--block latest with the registry (issue 10 item 8)', () => {
  // Fails on the code before the fix: the first source's latest was taken, whatever the registry anchored.
  it('a source whose latest is older than the newest certificate the registry anchors is not enough', { timeout: 120_000 }, async () => {
    // a genuine certificate of the old block, signed by the quorum of that time
    const synth = synthMeta({ accounts: 300, seed: 'registry-trust' })
    const o = await rpc<{ timestamp: string }>('eth_getBlockByNumber', [`0x${old.number.toString(16)}`, false])
    const early = await certifiedSnapshot({ accounts: 300, seed: 'registry-trust', meta: { ...synth, block: { chainId: 31337n, number: old.number, hash: old.hash, timestamp: BigInt(o.timestamp) } }, signers: OP.slice(0, 3) })
    const lagging = await startServingNode(join(dir, 'lagging'), [early])
    stop.push(() => lagging.stop())
    const args = (out: string, ...gateways: string[]): string[] => ['fetch', '--chain', '31337', '--adapter', 'synth', '--block', 'latest', '--registry', registry, '--rpc', anvil.rpcUrl, ...gateways.flatMap((g) => ['--gateway', g]), '--out', join(dir, out), '--json']
    // nothing anchored yet: the lagging node's genuine certificate is the best there is
    const before = await runArk(args('anchor-before', lagging.url))
    expect(before.code, before.stderr).toBe(0)
    expect((JSON.parse(before.stdout) as { block: string }).block).toBe(old.number.toString())
    // anyone anchors the newer certificate in the registry
    const sender = (await rpc<string[]>('eth_accounts'))[1]!
    await rpc('eth_sendTransaction', [{ from: sender, to: registry, data: submitCertificateCalldata(genuine.certificate), gas: '0x1000000' }])
    await rpc('evm_mine')
    const refused = await runArk(args('anchor-lag', lagging.url))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(new RegExp(`the certificate of block ${head.number}, the newest the trust root anchors \\(every source lags: the newest they serve is block ${old.number}\\)`))
    const gnode = await startServingNode(join(dir, 'gnode-2'), [genuine])
    stop.push(() => gnode.stop())
    const ok = await runArk(args('anchor-ok', lagging.url, gnode.url))
    expect(ok.code, ok.stderr).toBe(0)
    expect((JSON.parse(ok.stdout) as { block: string }).block).toBe(head.number.toString())
  })
})
