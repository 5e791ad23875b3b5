/**
 * Escape valuation on a real anvil (SPEC §1.5.2): after a seeded workload and an hour with no
 * trade (so every market's funding is stale and must be accrued as the venue's views do), a v4
 * snapshot derived with the perp-reference-v4 adapter values every account three ways that must
 * agree in exact integers: TypeScript (snapshot/valuation), Solidity (EscapeValuator.verifiedValue,
 * inputs proven against the stateRoot) and the venue itself (PerpExchange.equity at the block).
 * By design the valuation differs from `equity` in two documented ways, asserted as rules:
 * options count at intrinsic value at the mark (taken here from OptionsMarket's own views), and the
 * result is floored at zero. ArkStateV4Verifier accepts every TS proof and rejects tampered ones.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFunctionResult, keccak256, toHex, encodeFunctionData, parseAbi, type Abi, type Hex } from 'viem'
import { deployContract } from '../../node/chain/deploy-contract.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { runWorkload } from '../../node/devnet/workload.ts'
import { perpReferenceAdapterV4 } from '../../snapshot/adapters/perp-reference/adapter-v4.ts'
import { exchangeAbi } from '../../snapshot/adapters/perp-reference/abi.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { DerivativesMarketsV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { accountStruct, assetStruct, blockStruct, marketStruct, verifiedValueArgs } from '../../snapshot/valuation/call-args.ts'
import { escapeInputs, verifyEscapeInputs, type EscapeInputs } from '../../snapshot/valuation/escape-inputs.ts'
import { ESCAPE_VALUATOR_ABI } from '../../node/chain/escape-valuator.ts'
import { verifyClaimBundle, type ClaimBundle } from '../../node/recovery/claim-bundle.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { attestationBodyOf, buildTestSnapshot, certify, errorOf, runArk, testOperators, writeFetchedDir } from '../support/recovery.ts'

const viewsAbi = parseAbi([
  'function equity(address account) view returns (int256)',
  'struct OptionPositionView { uint256 seriesId; uint64 market; bool isCall; uint256 strike; uint64 expiry; int256 size; }',
  'function getOptionPositions(address account) view returns (OptionPositionView[])',
])

let f: ChainFixture
let cp: Checkpoint<AccountRecord, DerivativesMarketsV3>
const store = new MemoryBlockStore()
const dirs: string[] = []
let valuator: Hex
let verifier: Hex
let valuatorAbi: Abi
let verifierAbi: Abi

async function call<T>(to: Hex, abi: readonly unknown[], functionName: string, args: unknown[], block?: bigint): Promise<T> {
  const data = encodeFunctionData({ abi: abi as never, functionName, args } as never)
  const raw = await f.rpc<Hex>('eth_call', [{ to, data }, block === undefined ? 'latest' : `0x${block.toString(16)}`])
  return decodeFunctionResult({ abi: abi as never, functionName, data: raw } as never) as T
}

/** The revert's error name, or null when the call succeeds. */
async function revertName(to: Hex, abi: Abi, functionName: string, args: unknown[]): Promise<string | null> {
  try {
    await call(to, abi, functionName, args)
    return null
  } catch (err) {
    // the fixture's RPC reports "custom error 0x<selector>: ..."; match the selector against the ABI's errors
    const selector = /custom error (0x[0-9a-f]{8})/.exec(String((err as Error).message))?.[1]
    const item = abi.find((x) => x.type === 'error' && keccak256(toHex(`${x.name}(${x.inputs.map((i) => i.type).join(',')})`)).slice(0, 10) === selector)
    if (item === undefined) throw err
    return (item as { name: string }).name
  }
}

beforeAll(async () => {
  f = await startChain()
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 23, traders: 20, steps: 220 })
  // an hour with no trade: every market's funding is stale, the views accrue it to the block
  const head = await f.rpc<{ timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
  await f.rpc('evm_mine', [Number(BigInt(head.timestamp) + 3_600n)])
  // then ETH quadruples: shorts sink below zero, so the floor rule is exercised
  const ethFeed = f.deployment.markets[0]!.feed as Hex
  const [, price] = await call<[bigint, bigint]>(ethFeed, parseAbi(['function latestRoundData() view returns (uint80, int256, uint256, uint256, uint80)']), 'latestRoundData', [])
  const tx = await f.rpc<Hex>('eth_sendTransaction', [{ from: f.deployment.updater, to: ethFeed, data: encodeFunctionData({ abi: parseAbi(['function updateAnswer(int256 answer)']), functionName: 'updateAnswer', args: [price * 4n] }) }])
  // anvil can answer the hash a moment before the receipt exists (seen under load)
  let receipt: { status: Hex } | null = null
  for (let i = 0; i < 100 && receipt === null; i++) {
    receipt = await f.rpc<{ status: Hex } | null>('eth_getTransactionReceipt', [tx])
    if (receipt === null) await new Promise((r) => setTimeout(r, 100))
  }
  expect(receipt?.status).toBe('0x1')
  const source = f.source()
  const target = await source.checkpointHeader(await blockNumber(f))
  cp = (await deriveCheckpoint({ adapter: perpReferenceAdapterV4, config: f.config, source, target, store })).checkpoint
  await cp.snapshot.verify()
  const noError = () => undefined
  valuator = (await deployContract({ rpcUrl: f.anvil.rpcUrl, name: 'EscapeValuator', args: () => [], decodeError: noError })).address
  verifier = (await deployContract({ rpcUrl: f.anvil.rpcUrl, name: 'ArkStateV4Verifier', args: () => [], decodeError: noError })).address
  valuatorAbi = (await loadArtifact('EscapeValuator')).abi
  verifierAbi = [...(await loadArtifact('ArkStateV4Verifier')).abi, ...(await loadArtifact('EscapeValuation')).abi.filter((x) => x.type === 'error')]
  valuatorAbi = [...valuatorAbi, ...(await loadArtifact('EscapeValuation')).abi.filter((x) => x.type === 'error')]
}, 240_000)

afterAll(async () => {
  await f?.stop()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe('escape valuation: TypeScript = Solidity = the venue', () => {
  it('every account of the workload: TS valuation == EscapeValuator.verifiedValue (proofs against stateRoot) == PerpExchange.equity, with the options and floor rules', async () => {
    expect(cp.snapshot.root.schema).toMatchObject({ id: 'ark.derivatives.account', version: 4 })
    const markets = await cp.snapshot.markets()
    expect(markets.markets.some((m) => m.lastFundingTime < cp.block.timestamp && m.fundingRate !== 0n)).toBe(true)
    const b = cp.block.number
    let n = 0
    let withOptions = 0
    let withPerps = 0
    let floored = 0
    for await (const { key, record } of cp.snapshot.entries()) {
      const addr = bytesToHex(key) as Hex
      const e = await escapeInputs(cp.snapshot, key)
      const ts = verifyEscapeInputs(e, cp.snapshot.root.stateRoot)
      const sol = await call<Record<string, bigint>>(valuator, valuatorAbi, 'verifiedValue', verifiedValueArgs(e))
      expect({ account: addr, ...Object.fromEntries(Object.entries(sol)) }).toEqual({ account: addr, ...ts })
      const equity = await call<bigint>(f.config.exchange, viewsAbi, 'equity', [addr], b)
      expect({ account: addr, equity: ts.equity }).toEqual({ account: addr, equity })
      // options at intrinsic value at the mark, from the venue's own views (positions and market price at the block)
      let options = 0n
      for (const o of await call<{ market: bigint; isCall: boolean; strike: bigint; size: bigint }[]>(f.config.options!, viewsAbi, 'getOptionPositions', [addr], b)) {
        const m = await call<{ price: bigint; priceDecimals: number }>(f.config.exchange, exchangeAbi, 'getMarket', [o.market], b)
        const intrinsic = o.isCall ? (m.price > o.strike ? m.price - o.strike : 0n) : o.strike > m.price ? o.strike - m.price : 0n
        const amount = (intrinsic * (o.size < 0n ? -o.size : o.size)) / 10n ** BigInt(m.priceDecimals)
        options += o.size < 0n ? -amount : amount
      }
      expect(ts.optionsValue).toBe(options)
      expect(ts.fees).toBe(0n)
      const total = equity + options
      expect(ts.value).toBe(total < 0n ? 0n : total)
      if (total < 0n) floored++
      n++
      if (record.options.length > 0) withOptions++
      if (record.perps.length > 0) withPerps++
    }
    expect(n).toBe(cp.snapshot.root.accountCount)
    expect(withPerps).toBeGreaterThan(5)
    expect(withOptions).toBeGreaterThan(0)
    expect(floored).toBeGreaterThan(0)
  })

  it('ArkStateV4Verifier: TS leaf hashes and proofs are accepted; a tampered leaf, proof or root is rejected; verifiedValue names the bad input', async () => {
    const root = cp.snapshot.root.stateRoot as Hex
    let target: EscapeInputs | undefined
    for await (const { key, record } of cp.snapshot.entries()) {
      if (record.perps.length > 0 && record.collateral.length > 0) {
        target = await escapeInputs(cp.snapshot, key)
        break
      }
    }
    const e = target!
    const acct = accountStruct(e.account.value)
    expect(await call(verifier, verifierAbi, 'verifyAccount', [root, acct, e.account.proof])).toBe(true)
    expect(await call(verifier, verifierAbi, 'verifyAsset', [root, assetStruct(e.assets[0]!.value), e.assets[0]!.proof])).toBe(true)
    expect(await call(verifier, verifierAbi, 'verifyMarket', [root, marketStruct(e.markets[0]!.value), e.markets[0]!.proof])).toBe(true)
    expect(await call(verifier, verifierAbi, 'verifyBlock', [root, blockStruct(e.block.value), e.block.proof])).toBe(true)
    // tampered: a bigger position, a higher mark, a later timestamp, a dropped sibling, another root
    const bigger = { ...acct, perpSizes: (acct.perpSizes as bigint[]).map((s) => s * 2n) }
    expect(await call(verifier, verifierAbi, 'verifyAccount', [root, bigger, e.account.proof])).toBe(false)
    const mk = marketStruct(e.markets[0]!.value)
    expect(await call(verifier, verifierAbi, 'verifyMarket', [root, { ...mk, price: (mk.price as bigint) + 1n }, e.markets[0]!.proof])).toBe(false)
    const blk = blockStruct(e.block.value)
    expect(await call(verifier, verifierAbi, 'verifyBlock', [root, { ...blk, timestamp: (blk.timestamp as bigint) + 1n }, e.block.proof])).toBe(false)
    expect(await call(verifier, verifierAbi, 'verifyAccount', [root, acct, e.account.proof.slice(0, -1)])).toBe(false)
    expect(await call(verifier, verifierAbi, 'verifyAccount', [`0x${'ab'.repeat(32)}`, acct, e.account.proof])).toBe(false)
    // a market leaf is not an account leaf: its proof does not verify as an account
    expect(await call(verifier, verifierAbi, 'verifyAsset', [root, assetStruct(e.assets[0]!.value), e.markets[0]!.proof])).toBe(false)
    const args = verifiedValueArgs(e)
    const withMarket = (m: Record<string, unknown>): unknown[] => [args[0], args[1], args[2], [m, ...(args[3] as unknown[]).slice(1)], args[4], args[5]]
    expect(await revertName(valuator, valuatorAbi, 'verifiedValue', withMarket({ ...mk, price: (mk.price as bigint) * 2n }))).toBe('InvalidMarketProof')
    expect(await revertName(valuator, valuatorAbi, 'verifiedValue', [args[0], bigger, ...args.slice(2)])).toBe('InvalidAccountProof')
    expect(await revertName(valuator, valuatorAbi, 'verifiedValue', [...args.slice(0, 4), { ...blk, timestamp: (blk.timestamp as bigint) + 60n }, args[5]])).toBe('InvalidBlockProof')
    // and the TS check agrees
    const altered = { ...e, markets: [{ ...e.markets[0]!, value: e.markets[0]!.value.map((v, i) => (i === 3 ? (BigInt(v as string) * 2n).toString() : v)) }, ...e.markets.slice(1)] }
    expect(() => verifyEscapeInputs(altered, root)).toThrow(/proof does not lead to stateRoot/)
    expect(() => verifyEscapeInputs({ ...e, valuation: { ...e.valuation, value: (BigInt(e.valuation.value) + 1n).toString() } }, root)).toThrow(/valuation's value is/)
  })

  it('ark prove --value: the bundle carries the valuation and the leaves that recompute it; verifyClaimBundle rechecks it; its call on the valuator returns it; a v1 snapshot says valuation is not offered', async () => {
    const { ops } = testOperators()
    const dir = await mkdtemp(join(tmpdir(), 'ark-prove-value-'))
    dirs.push(dir)
    await writeFetchedDir(dir, cp.snapshot as never, store, await certify(attestationBodyOf(cp.snapshot as never), ops.slice(0, 3)))
    let account: string | undefined
    for await (const { key, record } of cp.snapshot.entries()) if (record.perps.length > 0 && record.options.length > 0) account = bytesToHex(key)
    account ??= bytesToHex((await cp.snapshot.entries().next()).value!.key)
    const r = await runArk(['prove', '--snapshot', dir, '--account', account, '--value', '--vault', valuator, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const bundle = verifyClaimBundle(JSON.parse(r.stdout)) as ClaimBundle
    expect(bundle.proof).toHaveLength(bundle.valuation!.account.proof.length)
    expect(bundle.proof.at(-1)).toBe(bytesToHex((await cp.snapshot.marketsTree())!.root))
    const raw = await f.rpc<Hex>('eth_call', [{ to: bundle.claim.to, data: bundle.claim.data }, 'latest'])
    const onChain = decodeFunctionResult({ abi: ESCAPE_VALUATOR_ABI, functionName: 'verifiedValue', data: raw })
    expect(Object.fromEntries(Object.entries(onChain).map(([k, v]) => [k, String(v)]))).toEqual(bundle.valuation!.valuation)
    expect(bundle.valuation!.valuation.equity).toBe(String(await call<bigint>(f.config.exchange, viewsAbi, 'equity', [account as Hex], cp.block.number)))
    // a bundle whose valuation was raised, or whose market price was moved, is refused
    const raised = { ...bundle, valuation: { ...bundle.valuation!, valuation: { ...bundle.valuation!.valuation, value: (BigInt(bundle.valuation!.valuation.value) + 1n).toString() } } }
    expect(() => verifyClaimBundle(raised)).toThrow(/valuation's value is/)
    const m0 = bundle.valuation!.markets[0]!
    const moved = { ...bundle, valuation: { ...bundle.valuation!, markets: [{ ...m0, value: m0.value.map((v, i) => (i === 3 ? (BigInt(v as string) + 1n).toString() : v)) }, ...bundle.valuation!.markets.slice(1)] } }
    expect(() => verifyClaimBundle(moved)).toThrow(/proof does not lead to stateRoot/)
    // a schema without valuation (v1): claims stay per-asset balances, --value names the schema
    const meta = { block: { chainId: 31337n, number: 10n, hash: `0x${'11'.repeat(32)}`, timestamp: 1700000000n }, adapter: { id: 'perp-reference', version: '1.0.0', configHash: `0x${'22'.repeat(32)}` } }
    const v1 = await buildTestSnapshot(meta, [{ key: account, record: { collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: 5n }], perps: [], options: [] } }])
    const dir1 = await mkdtemp(join(tmpdir(), 'ark-prove-value-v1-'))
    dirs.push(dir1)
    await writeFetchedDir(dir1, v1.snapshot as never, v1.store, await certify(attestationBodyOf(v1.snapshot as never), ops.slice(0, 3)))
    const refused = await runArk(['prove', '--snapshot', dir1, '--account', account, '--value', '--json'])
    expect(refused.code).not.toBe(0)
    expect(errorOf(refused).message).toMatch(/escape valuation is not offered by schema ark\.derivatives\.account v1/)
    const plain = await runArk(['prove', '--snapshot', dir1, '--account', account, '--json'])
    expect(plain.code, plain.stderr).toBe(0)
    expect((JSON.parse(plain.stdout) as ClaimBundle).valuation).toBeUndefined()
  })
})
