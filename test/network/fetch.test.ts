/**
 * `ark fetch` against real serving nodes on loopback: libp2p (catch-up
 * protocol + bitswap) and the HTTP gateway, with sources that lie, stall or
 * break off, a registry trust root on a real anvil, and resuming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { main } from '../../node/cli/main.ts'
import type { Io } from '../../node/cli/command.ts'
import { readCar } from '../../snapshot/car/car.ts'
import { stagingPathFor } from '../../node/recovery/staging.ts'
import { certifiedSnapshot, faultProxy, startServingNode, type Certified, type ServingNode } from '../support/recovery-server.ts'
import { addr, OP, OUTSIDER } from '../protocol/support.ts'
import { startAnvil } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, deployRegistry, readOperatorSet } from '../../node/chain/registry.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { encodeFunctionData } from 'viem'
import { synthMeta } from '../../snapshot/synth/synth.ts'

let dir: string
let a: Certified
let b: Certified
let honest: ServingNode
let second: ServingNode
const stop: (() => Promise<void>)[] = []

async function ark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), pipe: async () => {}, tty: false }
  const code = await main(args, io)
  return { code, stdout, stderr }
}

const base = (): string[] => ['fetch', '--chain', '31337', '--adapter', 'synth', '--trust', join(dir, 'operators.json'), '--stall-timeout', '3']

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-fetch-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
  a = await certifiedSnapshot({ accounts: 3000, seed: 'fetch-a' })
  b = await certifiedSnapshot({ accounts: 1500, seed: 'fetch-b' })
  honest = await startServingNode(join(dir, 'honest'), [a, b])
  stop.push(() => honest.stop())
  second = await startServingNode(join(dir, 'second'), [a])
  stop.push(() => second.stop())
}, 120_000)

afterAll(async () => {
  for (const s of stop.reverse()) await s().catch(() => {})
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
})

async function expectFetched(out: string, c: Certified): Promise<Record<string, unknown>> {
  expect((await readdir(out)).sort()).toEqual(['accounts.jsonl', 'certificate.json', 'markets.json', 'merkle-leaves.bin', 'snapshot.car', 'summary.json'])
  const car = readCar(await readFile(join(out, 'snapshot.car')))
  expect(car.roots[0]!.toString()).toBe(c.snapshot.cid.toString())
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>
  expect(summary.snapshot).toBe(c.snapshot.cid.toString())
  expect(summary.stateRoot).toBe(c.snapshot.root.stateRoot)
  expect((await readFile(join(out, 'accounts.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(c.snapshot.root.accountCount)
  expect(existsSync(stagingPathFor(out))).toBe(false)
  return summary
}

describe('ark fetch over libp2p peers', () => {
  it('locates the certificate over the catch-up protocol and fetches the blocks over bitswap', { timeout: 120_000 }, async () => {
    const out = join(dir, 'peer-a')
    const r = await ark([...base(), '--block', a.checkpoint.block, '--peer', honest.multiaddr, '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('') // --json: no notices, no progress
    const j = JSON.parse(r.stdout) as { source: string; fetched: { blocks: number }; resumed: { blocks: number } }
    expect(j.source).toBe(honest.multiaddr)
    expect(j.resumed.blocks).toBe(0)
    const blocks = readCar(await readFile(join(out, 'snapshot.car'))).blocks
    expect(j.fetched.blocks).toBe(blocks)
    await expectFetched(out, a)
    // latest and before:N are answered from the paged catch-up protocol too
    const latest = await ark([...base(), '--block', 'latest', '--peer', honest.multiaddr, '--out', join(dir, 'peer-latest'), '--json'])
    expect(latest.code, latest.stderr).toBe(0)
    const newest = [a, b].sort((x, y) => (x.certificate.body.blockNumber > y.certificate.body.blockNumber ? -1 : 1))[0]!
    expect((JSON.parse(latest.stdout) as { snapshot: string }).snapshot).toBe(newest.snapshot.cid.toString())
  })

  it('drops a peer that holds a corrupt block (it never delivers it) and completes from the next peer', { timeout: 120_000 }, async () => {
    const leaf = (await lastBlock(a))
    const liar = await startServingNode(join(dir, 'liar'), [a], { corrupt: [leaf] })
    stop.push(() => liar.stop())
    const out = join(dir, 'peer-liar')
    const r = await ark([...base(), '--block', a.checkpoint.block, '--peer', liar.multiaddr, '--peer', second.multiaddr, '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`dropped peer ${liar.multiaddr}: stalled`)
    expect(r.stderr).toContain(`wanted blocks were outstanding (e.g. ${leaf.toString()})`)
    expect(r.stdout).toContain(`from ${second.multiaddr}`)
    await expectFetched(out, a)
  })
})

/** The CID of the last block in the snapshot's DAG order (a leaf). */
async function lastBlock(c: Certified): Promise<CID> {
  let last: CID | undefined
  for await (const cid of c.snapshot.blockCids()) last = cid
  return last!
}

describe('ark fetch over HTTP gateways', () => {
  it('drops a stalling gateway and a tampering one, then completes from an honest one', { timeout: 120_000 }, async () => {
    const stall = await faultProxy(honest.url, { kind: 'stall', afterBytes: 20_000 })
    const tamper = await faultProxy(honest.url, { kind: 'tamper', fromEnd: 40 })
    stop.push(() => stall.close(), () => tamper.close())
    const out = join(dir, 'gw')
    const r = await ark([...base(), '--block', a.checkpoint.block, '--gateway', stall.url, '--gateway', tamper.url, '--gateway', honest.url, '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`dropped gateway ${stall.url}: stalled: nothing received for 3 s`))
    expect(r.stderr).toMatch(new RegExp(`dropped gateway ${tamper.url}: .*(do not hash|cut short|not valid|CBOR)`))
    const summary = await expectFetched(out, a)
    expect(summary.source).toBe(honest.url)
  })

  it('resumes an interrupted fetch without fetching the stored blocks again', { timeout: 120_000 }, async () => {
    const proxy = await faultProxy(honest.url, { kind: 'cut', afterBytes: 200_000 })
    stop.push(() => proxy.close())
    const out = join(dir, 'resume')
    const args = [...base(), '--block', a.checkpoint.block, '--gateway', proxy.url, '--out', out]
    const first = await ark(args)
    expect(first.code).toBe(1)
    expect(first.stderr).toMatch(/cut short/)
    expect(first.stderr).toMatch(/rerun the same command to resume/)
    expect(existsSync(out)).toBe(false)
    const staged = readCar(await readFile(join(stagingPathFor(out), 'blocks.car')))
    expect(staged.blocks).toBeGreaterThan(100)
    proxy.mode = { kind: 'pass' }
    const second = await ark([...args, '--json'])
    expect(second.code, second.stderr).toBe(0)
    const j = JSON.parse(second.stdout) as { fetched: { blocks: number }; resumed: { blocks: number } }
    expect(j.resumed.blocks).toBe(staged.blocks)
    const refetched = proxy.served.flatMap((s) => s.cids)
    const held = new Set([...staged.store.blocks.keys()])
    expect(refetched.filter((c) => held.has(c))).toEqual([])
    expect(refetched.length).toBe(j.fetched.blocks)
    const total = readCar(await readFile(join(out, 'snapshot.car'))).blocks
    expect(staged.blocks + j.fetched.blocks).toBe(total)
    // only the missing subtrees were asked for, never the whole snapshot again
    expect(proxy.served.map((s) => s.path)).not.toContain(`/ipfs/${a.snapshot.cid.toString()}?format=car&dag-scope=all`)
    await expectFetched(out, a)
    // the same command again: DIR already holds it
    const again = await ark(args)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/already holds snapshot/)
  })

  it('starts over, saying so, when the staging dir holds another snapshot', { timeout: 120_000 }, async () => {
    const proxy = await faultProxy(honest.url, { kind: 'cut', afterBytes: 100_000 })
    stop.push(() => proxy.close())
    const out = join(dir, 'switch')
    expect((await ark([...base(), '--block', a.checkpoint.block, '--gateway', proxy.url, '--out', out])).code).toBe(1)
    expect(existsSync(stagingPathFor(out))).toBe(true)
    const r = await ark([...base(), '--block', b.checkpoint.block, '--gateway', honest.url, '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`held an interrupted fetch of snapshot ${a.snapshot.cid.toString()}`)
    expect(r.stderr).toContain('starting over')
    await expectFetched(out, b)
  })
})

describe('ark fetch: certificates and trust', () => {
  it('drops a source whose certificate is under quorum and uses the next', { timeout: 120_000 }, async () => {
    const weak = await certifiedSnapshot({ accounts: 3000, seed: 'fetch-a', signers: OP.slice(0, 2) })
    const node = await startServingNode(join(dir, 'weak'), [weak])
    stop.push(() => node.stop())
    const out = join(dir, 'weak-out')
    const r = await ark([...base(), '--block', a.checkpoint.block, '--gateway', node.url, '--peer', node.multiaddr, '--gateway', honest.url, '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`dropped peer ${node.multiaddr}: certificate does not verify .*below|threshold|weight`))
    expect(r.stderr).toContain(`dropped gateway ${node.url}`)
    await expectFetched(out, a)
  })

  it('fails, naming every source and why, when none delivers', { timeout: 120_000 }, async () => {
    const out = join(dir, 'none')
    const r = await ark([...base(), '--block', '999999999', '--peer', honest.multiaddr, '--gateway', honest.url, '--peer', '/ip4/127.0.0.1/tcp/1', '--out', out])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no source delivered')
    expect(r.stderr).toContain(`peer ${honest.multiaddr}: has no certificate for block 999999999`)
    expect(r.stderr).toContain(`gateway ${honest.url}: GET /v1/checkpoints/999999999: HTTP 404`)
    expect(r.stderr).toContain('peer /ip4/127.0.0.1/tcp/1:')
    expect(existsSync(out)).toBe(false)
  })
})

describe('ark fetch with the ArkRegistry as trust root', () => {
  it('checks the certificate against the operator set the registry had at the checkpoint block', { timeout: 180_000 }, async () => {
    const anvil = await startAnvil({})
    stop.push(() => anvil.stop())
    const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
      const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
      return ((await res.json()) as { result: T }).result
    }
    const good = await deployRegistry({ rpcUrl: anvil.rpcUrl, operators: OP.map((o) => ({ address: o.address, weight: 1 })) })
    const other = await deployRegistry({ rpcUrl: anvil.rpcUrl, operators: [OP[3]!, OUTSIDER].map((o) => ({ address: o.address, weight: 1 })) })
    await rpc('evm_mine')
    const head = await rpc<{ number: string; hash: string; timestamp: string }>('eth_getBlockByNumber', ['latest', false])
    const synth = synthMeta({ accounts: 800, seed: 'fetch-registry' })
    const meta = { ...synth, block: { chainId: 31337n, number: BigInt(head.number), hash: head.hash, timestamp: BigInt(head.timestamp) } }
    const c = await certifiedSnapshot({ accounts: 800, seed: 'fetch-registry', meta })
    const node = await startServingNode(join(dir, 'registry-node'), [c])
    stop.push(() => node.stop())
    const args = (registry: string, out: string): string[] => ['fetch', '--chain', '31337', '--adapter', 'synth', '--block', 'latest', '--registry', registry, '--rpc', anvil.rpcUrl, '--peer', node.multiaddr, '--out', out, '--json']
    // governance removes a signer after the checkpoint: the certificate is still judged by the set at its block
    const owner = (await rpc<string[]>('eth_accounts'))[0]!
    await rpc('eth_sendTransaction', [{ from: owner, to: good.address, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'removeOperator', args: [OP[0]!.address] }) }])
    await rpc('evm_mine')
    const now = await rpc<{ hash: `0x${string}` }>('eth_getBlockByNumber', ['latest', false])
    const chain = new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n })
    expect((await readOperatorSet(chain, good.address, now.hash)).weights.has(addr(OP[0]!))).toBe(false)
    const ok = await ark(args(good.address, join(dir, 'reg-ok')))
    expect(ok.code, ok.stderr).toBe(0)
    expect((JSON.parse(ok.stdout) as { trust: string }).trust).toBe(`ArkRegistry ${good.address} at block ${BigInt(head.number)}`)
    await expectFetched(join(dir, 'reg-ok'), c)
    // a registry whose set does not hold the signers: refused, nothing written
    const refused = await ark(args(other.address, join(dir, 'reg-no')))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/not in the operator set/)
    expect(existsSync(join(dir, 'reg-no'))).toBe(false)
    // an RPC endpoint of another chain is refused before any source is asked
    const wrongChain = await ark(['fetch', '--chain', '1', '--adapter', 'synth', '--block', 'latest', '--registry', good.address, '--rpc', anvil.rpcUrl, '--peer', node.multiaddr, '--out', join(dir, 'reg-chain')])
    expect(wrongChain.code).toBe(1)
    expect(wrongChain.stderr).toMatch(/serves chain 31337/)
  })
})

describe('ark fetch: bad input', () => {
  it('refuses bad arguments with a usage error and writes nothing', async () => {
    const out = join(dir, 'bad')
    const cases: [string[], RegExp][] = [
      [[...base(), '--block', '1', '--out', out], /at least one source/],
      [[...base(), '--block', 'yesterday', '--gateway', honest.url, '--out', out], /--block must be/],
      [[...base(), '--block', '1', '--gateway', honest.url, '--out', out, '--registry', '0x' + '11'.repeat(20), '--rpc', 'http://127.0.0.1:1'], /one trust root/],
      [['fetch', '--chain', '31337', '--adapter', 'synth', '--block', '1', '--gateway', honest.url, '--out', out, '--registry', '0x' + '11'.repeat(20)], /--registry needs --rpc/],
      [['fetch', '--chain', '31337', '--adapter', 'synth', '--block', '1', '--gateway', honest.url, '--out', out], /trust root is required/],
      [[...base(), '--block', '1', '--gateway', honest.url, '--out', out, '--stall-timeout', '0'], /--stall-timeout must be a positive integer/],
      [['fetch', '--chain', 'x', '--adapter', 'synth', '--block', '1', '--gateway', honest.url, '--trust', join(dir, 'operators.json'), '--out', out], /--chain must be/],
    ]
    for (const [args, msg] of cases) {
      const r = await ark(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(msg)
    }
    // not usage errors: an unreadable trust file, an --out that is something else, a bad registry address
    const noTrust = await ark(['fetch', '--chain', '31337', '--adapter', 'synth', '--block', '1', '--gateway', honest.url, '--trust', join(dir, 'missing.json'), '--out', out])
    expect(noTrust.code).toBe(1)
    expect(noTrust.stderr).toMatch(/cannot read the trust file/)
    await mkdir(join(dir, 'occupied'))
    await writeFile(join(dir, 'occupied', 'notes.txt'), 'mine')
    const occupied = await ark([...base(), '--block', a.checkpoint.block, '--gateway', honest.url, '--out', join(dir, 'occupied')])
    expect(occupied.code).toBe(1)
    expect(occupied.stderr).toMatch(/already exists and is not the output/)
    expect(await readdir(join(dir, 'occupied'))).toEqual(['notes.txt'])
    // one option parser for fetch, verify, prove and cite: a malformed address is a usage error everywhere
    const badRegistry = await ark(['fetch', '--chain', '31337', '--adapter', 'synth', '--block', '1', '--gateway', honest.url, '--registry', '0x1234', '--rpc', 'http://127.0.0.1:1', '--out', out])
    expect(badRegistry.code).toBe(2)
    expect(badRegistry.stderr).toMatch(/20-byte address/)
    const badPeer = await ark([...base(), '--block', a.checkpoint.block, '--peer', 'not-a-multiaddr', '--out', out])
    expect(badPeer.code).toBe(1)
    expect(badPeer.stderr).toMatch(/is not a multiaddr/)
    expect(existsSync(out)).toBe(false)
    expect(existsSync(stagingPathFor(out))).toBe(false)
  })
})

