/**
 * Keys at the adapter boundary are bytes (issue 12). Before the fix, derivation read every
 * Change.key as a hex string: an adapter returning byte keys got incremental snapshots that kept
 * accounts emptied since the previous checkpoint (CID != from scratch), and a spot-check sample
 * whose "changed accounts" half was lost. Both tests below fail on that code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeDeployData, encodeFunctionData, type Abi, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { erc20BalancesAdapter, type Erc20Config } from '../../snapshot/adapters/erc20-balances/adapter.ts'
import type { Adapter, AdapterRecord, AdapterState } from '../../snapshot/adapters/types.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { bytesToHex, hexToBytes } from '../../snapshot/codec/hex.ts'
import { deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import type { BalanceRecord, TokenState } from '../../snapshot/schema/erc20.ts'
import type { Change } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

type Erc20Adapter = Adapter<Erc20Config, BalanceRecord, TokenState>
type S = AdapterState<BalanceRecord, TokenState>

let anvil: AnvilInstance
let abi: Abi
let token: Hex
let config: Erc20Config
let owner: Hex
const holders: Hex[] = Array.from({ length: 12 }, (_, i) => `0x${(0x2000 + i).toString(16).padStart(40, '0')}` as Hex)

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const j = (await res.json()) as { result?: T; error?: { message: string } }
  if (j.error !== undefined) throw new Error(`${method}: ${j.error.message}`)
  return j.result as T
}

async function send(from: Hex, functionName: string, args: unknown[]): Promise<void> {
  const hash = await rpc<Hex>('eth_sendTransaction', [{ from, to: token, data: encodeFunctionData({ abi, functionName, args } as never), gas: '0x100000' }])
  for (let i = 0; i < 500; i++) {
    const r = await rpc<{ status: Hex } | null>('eth_getTransactionReceipt', [hash])
    if (r !== null) {
      if (r.status !== '0x1') throw new Error(`${functionName} reverted`)
      return
    }
    await new Promise((res) => setTimeout(res, 10))
  }
  throw new Error(`${functionName} not mined`)
}

/** The built-in ERC-20 adapter with its keys forced into one form (whatever form the built-in uses), and every spot-check sample recorded. */
function keyed(form: 'bytes' | 'hex', base: Erc20Adapter = erc20BalancesAdapter, samples: string[][] = []): Erc20Adapter {
  const conv = (k: Uint8Array | string): Uint8Array => {
    const bytes = typeof k === 'string' ? hexToBytes(k) : k
    return (form === 'bytes' ? bytes : bytesToHex(bytes)) as unknown as Uint8Array
  }
  const wrap = (inner: S): S => ({
    load: (records, markets) => inner.load(records, markets),
    fold: (logs, ctx) => inner.fold(logs, ctx),
    takeChanges: (): Change<BalanceRecord>[] => inner.takeChanges().map((c) => ({ key: conv(c.key), record: c.record })),
    *records(): Iterable<AdapterRecord<BalanceRecord>> {
      for (const r of inner.records()) yield { key: conv(r.key), record: r.record }
    },
    markets: (ctx) => inner.markets(ctx),
    spotCheck: (ctx, accounts, markets) => {
      samples.push(accounts.map((a) => bytesToHex(a.key)))
      return inner.spotCheck(ctx, accounts, markets)
    },
    clone: () => wrap(inner.clone()),
  })
  return { ...base, createState: (c) => wrap(base.createState(c)) }
}

const source = (): ChainSource => new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 } })

async function derive(adapter: Erc20Adapter, prev?: Checkpoint<BalanceRecord, TokenState>, spotCheckAccounts = 64): Promise<Checkpoint<BalanceRecord, TokenState>> {
  const src = source()
  const target = await src.checkpointHeader('finalized')
  const { checkpoint } = await deriveCheckpoint({ adapter, config, source: src, target, prev, store: prev?.snapshot.store ?? new MemoryBlockStore(), spotCheckAccounts })
  return checkpoint
}

beforeAll(async () => {
  anvil = await startAnvil({})
  const art = await loadArtifact('MockERC20')
  abi = art.abi as Abi
  owner = (await rpc<Hex[]>('eth_accounts'))[0]!
  const hash = await rpc<Hex>('eth_sendTransaction', [{ from: owner, data: encodeDeployData({ abi, bytecode: art.bytecode as Hex, args: ['Keyed', 'KEY', 18] } as never), gas: '0x400000' }])
  let receipt: { contractAddress: Hex; blockNumber: Hex } | null = null
  while (receipt === null) receipt = await rpc<{ contractAddress: Hex; blockNumber: Hex } | null>('eth_getTransactionReceipt', [hash])
  token = receipt.contractAddress
  config = erc20BalancesAdapter.parseConfig({ token, startBlock: Number(BigInt(receipt.blockNumber)) })
  await rpc('anvil_autoImpersonateAccount', [true])
  for (const h of holders) await rpc('anvil_setBalance', [h, '0x56BC75E2D63100000'])
  for (const [i, h] of holders.entries()) await send(owner, 'mint', [h, BigInt(i + 1) * 10n ** 18n])
}, 120_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('adapter keys are bytes', () => {
  it('an adapter returning byte keys: an account emptied between checkpoints leaves the incremental snapshot, CID equals from scratch', async () => {
    const bytes = keyed('bytes')
    const first = await derive(bytes)
    expect(first.snapshot.root.accountCount).toBe(holders.length)
    const balance = BigInt(await rpc<Hex>('eth_call', [{ to: token, data: encodeFunctionData({ abi, functionName: 'balanceOf', args: [holders[0]!] } as never) }, 'latest']))
    await send(holders[0]!, 'transfer', [holders[1]!, balance]) // holder 0 is emptied
    await send(holders[2]!, 'transfer', [holders[3]!, 7n])
    const inc = await derive(bytes, first)
    const scratch = await derive(bytes)
    expect(inc.block.hash).toBe(scratch.block.hash)
    expect(await inc.snapshot.get(hexToBytes(holders[0]!))).toBeUndefined()
    expect(inc.snapshot.root.accountCount).toBe(holders.length - 1)
    expect(inc.snapshot.cid.toString()).toBe(scratch.snapshot.cid.toString())
  })

  it('on the rebuild path (no patchable previous snapshot) the spot-check sample starts with the changed accounts', async () => {
    // A previous checkpoint written under another schema version makes derivation rebuild from the folded state.
    const older: Erc20Adapter = { ...erc20BalancesAdapter, version: '0.9.0', schema: { ...erc20BalancesAdapter.schema, version: 99 } }
    const samples: string[][] = [] // the state (and its wrapper) continues from prev's
    const prev = await derive(keyed('bytes', older, samples))
    await send(holders[5]!, 'transfer', [holders[6]!, 1n])
    samples.length = 0
    await derive(keyed('bytes', erc20BalancesAdapter, samples), prev, 2)
    expect(samples).toHaveLength(1)
    // sample of 2: one changed account (5 or 6), one from the spread
    expect(samples[0]!.filter((k) => k === holders[5] || k === holders[6]).length).toBeGreaterThanOrEqual(1)
  })

  it('a JavaScript adapter returning hex-string keys is refused with a message naming the adapter and the fix', async () => {
    await expect(derive({ ...keyed('hex'), id: 'js-hex' })).rejects.toThrow(/adapter js-hex takeChanges\(\) returned a key that is the string "0x.*hexToBytes/)
  })
})
