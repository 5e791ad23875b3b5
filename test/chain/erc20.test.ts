import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeDeployData, encodeFunctionData, type Abi, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { erc20BalancesAdapter, type Erc20Config } from '../../snapshot/adapters/erc20-balances/adapter.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import type { BalanceRecord, TokenState } from '../../snapshot/schema/erc20.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

let anvil: AnvilInstance
let abi: Abi
let token: Hex
let config: Erc20Config
let owner: Hex
const holders: Hex[] = Array.from({ length: 12 }, (_, i) => `0x${(0x1000 + i).toString(16).padStart(40, '0')}` as Hex)

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const j = (await res.json()) as { result?: T; error?: { message: string } }
  if (j.error !== undefined) throw new Error(`${method}: ${j.error.message}`)
  return j.result as T
}

/** Send and wait for the receipt: anvil's automine may answer before the block exists. */
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

const source = (): ChainSource => new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 } })

async function derive(prev?: Checkpoint<BalanceRecord, TokenState>): Promise<Checkpoint<BalanceRecord, TokenState>> {
  const src = source()
  const target = await src.checkpointHeader('finalized')
  const { checkpoint } = await deriveCheckpoint({ adapter: erc20BalancesAdapter, config, source: src, target, prev, store: prev?.snapshot.store ?? new MemoryBlockStore(), spotCheckAccounts: 64 })
  return checkpoint
}

async function balanceOf(a: Hex): Promise<bigint> {
  return BigInt(await rpc<Hex>('eth_call', [{ to: token, data: encodeFunctionData({ abi, functionName: 'balanceOf', args: [a] } as never) }, 'latest']))
}

beforeAll(async () => {
  anvil = await startAnvil({})
  const art = await loadArtifact('MockERC20')
  abi = art.abi as Abi
  owner = (await rpc<Hex[]>('eth_accounts'))[0]!
  const hash = await rpc<Hex>('eth_sendTransaction', [{ from: owner, data: encodeDeployData({ abi, bytecode: art.bytecode as Hex, args: ['Vault Share', 'VS', 18] } as never), gas: '0x400000' }])
  let receipt: { contractAddress: Hex; blockNumber: Hex } | null = null
  while (receipt === null) receipt = await rpc<{ contractAddress: Hex; blockNumber: Hex } | null>('eth_getTransactionReceipt', [hash])
  token = receipt.contractAddress
  config = erc20BalancesAdapter.parseConfig({ token, startBlock: Number(BigInt(receipt.blockNumber)) })
  await rpc('anvil_autoImpersonateAccount', [true])
  for (const h of holders) await rpc('anvil_setBalance', [h, '0x56BC75E2D63100000'])
}, 120_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('erc20-balances adapter against an OpenZeppelin ERC-20', () => {
  it('follows mints, transfers and burns; equals balanceOf for every holder; incremental equals scratch', async () => {
    for (const [i, h] of holders.entries()) await send(owner, 'mint', [h, BigInt(i + 1) * 10n ** 18n])
    const first = await derive()
    const keys: string[] = []
    for await (const e of first.snapshot.entries()) keys.push(Buffer.from(e.key).toString('hex'))
    expect(keys, JSON.stringify(await Promise.all(holders.map(balanceOf)), (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toHaveLength(holders.length)
    for (let i = 0; i < holders.length; i++) await send(holders[i]!, 'transfer', [holders[(i * 5 + 3) % holders.length]!, BigInt(i) * 10n ** 17n])
    await send(holders[0]!, 'burn', [await balanceOf(holders[0]!)]) // holder 0 leaves entirely
    await send(holders[1]!, 'burn', [1n])
    await send(owner, 'mint', [owner, 5n])
    const inc = await derive(first)
    const scratch = await derive()
    expect(inc.snapshot.cid.toString()).toBe(scratch.snapshot.cid.toString())
    for (const h of [...holders, owner]) {
      const want = await balanceOf(h)
      const got = await inc.snapshot.get(Buffer.from(h.slice(2), 'hex'))
      expect(got?.balance ?? 0n).toBe(want)
    }
    expect(await inc.snapshot.get(Buffer.from(holders[0]!.slice(2), 'hex'))).toBeUndefined()
    const supply = (await inc.snapshot.markets()).totalSupply
    let sum = 0n
    for await (const e of inc.snapshot.entries()) sum += e.record.balance
    expect(sum).toBe(supply)
  })
})
