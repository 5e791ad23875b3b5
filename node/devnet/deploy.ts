import {
  createClient,
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  getContractAddress,
  http,
  maxUint256,
  type Abi,
  type Address,
  type Hex,
} from 'viem'
import { loadArtifact, type CompileOptions } from '../contracts/compile.ts'
import { DeployError } from '../chain/deploy-error.ts'

/**
 * Deploys the reference derivatives protocol (deploy/reference-protocol/contracts) to a dev chain
 * whose accounts are unlocked (anvil): two collaterals (USDX quote, WETH valued by the ETH/USD feed),
 * two perp markets (ETH-PERP, BTC-PERP), Chainlink-compatible feeds, and the options market with a
 * funded pool.
 */

export interface DeployedAsset {
  token: Address
  /** null for the quote asset (valued 1:1). */
  feed: Address | null
  haircutBps: number
  decimals: number
  symbol: string
}

export interface DeployedMarket {
  id: number
  feed: Address
  symbol: string
  initialMarginRatio: bigint
  maintenanceMarginRatio: bigint
  liquidationFee: bigint
  fundingFactor: bigint
}

export interface ReferenceDeployment {
  chainId: number
  exchange: Address
  options: Address
  assets: DeployedAsset[]
  markets: DeployedMarket[]
  /** Block of the first deployment transaction: scanning logs from here sees every protocol event. */
  deployBlock: bigint
  owner: Address
  guardian: Address
  updater: Address
}

export interface DeployOptions {
  rpcUrl: string
  signal?: AbortSignal
  /** Owner and guardian; default the node's first account. */
  deployer?: Address
  /** Price updater of both feeds; default the node's second account. */
  updater?: Address
  /** Initial prices with 8 decimals. */
  prices?: { eth?: bigint; btc?: bigint }
  /** USDX deposited as the options pool's exchange balance. */
  optionsPoolFunding?: bigint
  compile?: CompileOptions
}

export const PRICE_DECIMALS = 8
export const DEPLOY_DEFAULTS = Object.freeze({
  ethPrice: 2_000n * 10n ** 8n,
  btcPrice: 60_000n * 10n ** 8n,
  optionsPoolFunding: 100_000_000n * 10n ** 18n,
  markets: Object.freeze([
    // fundingFactor: ~0.1% of the price per hour at full skew
    { symbol: 'ETH-PERP', initialMarginRatio: 10n ** 17n, maintenanceMarginRatio: 5n * 10n ** 16n, liquidationFee: 10n ** 16n, fundingFactor: 5n * 10n ** 14n },
    { symbol: 'BTC-PERP', initialMarginRatio: 10n ** 17n, maintenanceMarginRatio: 5n * 10n ** 16n, liquidationFee: 10n ** 16n, fundingFactor: 15n * 10n ** 15n },
  ]),
  haircuts: Object.freeze({ USDX: 10_000, WETH: 8_000 }),
})

const DEPLOY_GAS = 8_000_000n
const CALL_GAS = 1_000_000n

type Rpc = <T>(method: string, params?: unknown[]) => Promise<T>

/** A raw JSON-RPC caller; with `batchSize` the calls made in one tick go out as JSON-RPC batches. */
export function rpcClient(rpcUrl: string, batchSize?: number): Rpc {
  const batch = batchSize === undefined ? false : { batchSize, wait: 0 }
  // a busy block's logs exceed viem's default 10 MB response cap
  const client = createClient({ transport: http(rpcUrl, { batch, retryCount: 0, timeout: 120_000, maxResponseBodySize: 1 << 30 }) })
  const request = client.request as unknown as (args: { method: string; params?: unknown[] }) => Promise<unknown>
  return <T>(method: string, params: unknown[] = []) => request({ method, params }) as Promise<T>
}

interface Receipt { status: Hex; blockNumber: Hex; contractAddress: Address | null; transactionHash: Hex }

/** Polls until every transaction has a receipt (automine may lag eth_sendTransaction by a moment). */
export async function waitForReceipts(rpc: Rpc, hashes: Hex[], signal?: AbortSignal, timeoutMs = 30_000): Promise<Receipt[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    signal?.throwIfAborted()
    const receipts = await Promise.all(hashes.map((h) => rpc<Receipt | null>('eth_getTransactionReceipt', [h])))
    if (receipts.every((r) => r !== null)) return receipts as Receipt[]
    if (Date.now() > deadline) throw new DeployError(`transactions not mined after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export async function deployReferenceProtocol(options: DeployOptions): Promise<ReferenceDeployment> {
  const { signal } = options
  const rpc = rpcClient(options.rpcUrl)
  const [erc20, feedArt, exchangeArt, optionsArt] = await Promise.all([
    loadArtifact('MockERC20', options.compile),
    loadArtifact('PriceFeed', options.compile),
    loadArtifact('PerpExchange', options.compile),
    loadArtifact('OptionsMarket', options.compile),
  ])
  const accounts = await rpc<Address[]>('eth_accounts')
  const deployerRaw = options.deployer ?? accounts[0]
  const updaterRaw = options.updater ?? accounts[1]
  if (deployerRaw === undefined || updaterRaw === undefined) throw new DeployError('the node has fewer than two unlocked accounts; pass deployer and updater')
  const deployer = getAddress(deployerRaw)
  const updater = getAddress(updaterRaw)
  const chainId = Number(await rpc<Hex>('eth_chainId'))
  const automine = await rpc<boolean>('anvil_getAutomine').catch(() => true)

  let nonce = BigInt(await rpc<Hex>('eth_getTransactionCount', [deployer, 'pending']))
  const hashes: Hex[] = []
  const send = async (to: Address | null, data: Hex, gas: bigint): Promise<void> => {
    signal?.throwIfAborted()
    const tx: Record<string, string> = { from: deployer, data, gas: `0x${gas.toString(16)}`, nonce: `0x${nonce.toString(16)}` }
    if (to !== null) tx.to = to
    nonce++
    hashes.push(await rpc<Hex>('eth_sendTransaction', [tx]))
  }
  const deploy = async (abi: Abi, bytecode: Hex, args: unknown[]): Promise<Address> => {
    const address = getContractAddress({ from: deployer, nonce })
    await send(null, encodeDeployData({ abi, bytecode, args }), DEPLOY_GAS)
    return address
  }
  const call = (to: Address, abi: Abi, functionName: string, args: unknown[]): Promise<void> =>
    send(to, encodeFunctionData({ abi, functionName, args }), CALL_GAS)

  const usdx = await deploy(erc20.abi, erc20.bytecode, ['USD X', 'USDX', 18])
  const weth = await deploy(erc20.abi, erc20.bytecode, ['Wrapped Ether', 'WETH', 18])
  const ethFeed = await deploy(feedArt.abi, feedArt.bytecode, [PRICE_DECIMALS, 'ETH / USD', options.prices?.eth ?? DEPLOY_DEFAULTS.ethPrice, updater])
  const btcFeed = await deploy(feedArt.abi, feedArt.bytecode, [PRICE_DECIMALS, 'BTC / USD', options.prices?.btc ?? DEPLOY_DEFAULTS.btcPrice, updater])
  const exchange = await deploy(exchangeArt.abi, exchangeArt.bytecode, [deployer])
  await call(exchange, exchangeArt.abi, 'listAsset', [usdx, '0x0000000000000000000000000000000000000000', DEPLOY_DEFAULTS.haircuts.USDX])
  await call(exchange, exchangeArt.abi, 'listAsset', [weth, ethFeed, DEPLOY_DEFAULTS.haircuts.WETH])
  const feeds = [ethFeed, btcFeed]
  const markets: DeployedMarket[] = []
  for (const [id, m] of DEPLOY_DEFAULTS.markets.entries()) {
    const feed = feeds[id]!
    await call(exchange, exchangeArt.abi, 'listMarket', [feed, m.initialMarginRatio, m.maintenanceMarginRatio, m.liquidationFee, m.fundingFactor])
    markets.push({ id, feed, ...m })
  }
  const optionsMarket = await deploy(optionsArt.abi, optionsArt.bytecode, [exchange])
  await call(exchange, exchangeArt.abi, 'setModule', [optionsMarket, true])
  const pool = options.optionsPoolFunding ?? DEPLOY_DEFAULTS.optionsPoolFunding
  await call(usdx, erc20.abi, 'mint', [deployer, pool])
  await call(usdx, erc20.abi, 'approve', [exchange, maxUint256])
  await call(exchange, exchangeArt.abi, 'depositFor', [optionsMarket, usdx, pool])

  if (!automine) await rpc('evm_mine')
  const receipts = await waitForReceipts(rpc, hashes, signal)
  const failed = receipts.findIndex((r) => r.status !== '0x1')
  if (failed >= 0) throw new DeployError(`deployment transaction ${failed} (${receipts[failed]!.transactionHash}) reverted`)

  return {
    chainId,
    exchange,
    options: optionsMarket,
    assets: [
      { token: usdx, feed: null, haircutBps: DEPLOY_DEFAULTS.haircuts.USDX, decimals: 18, symbol: 'USDX' },
      { token: weth, feed: ethFeed, haircutBps: DEPLOY_DEFAULTS.haircuts.WETH, decimals: 18, symbol: 'WETH' },
    ],
    markets,
    deployBlock: BigInt(receipts[0]!.blockNumber),
    owner: deployer,
    guardian: deployer,
    updater,
  }
}
