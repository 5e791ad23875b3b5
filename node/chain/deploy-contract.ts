import { encodeDeployData, getAddress, type Abi, type Hex } from 'viem'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { loadArtifact, type CompileOptions } from '../contracts/compile.ts'
import { rpcClient, waitForReceipts } from '../devnet/deploy.ts'
import { DeployError } from './deploy-error.ts'

/** Revert data carried by a viem RPC error (JSON-RPC error.data), if any. */
export function revertData(err: unknown): Hex | undefined {
  for (let e = err as { data?: unknown; cause?: unknown } | undefined, i = 0; e !== undefined && e !== null && i < 8; e = e.cause as typeof e, i++) {
    const d = e.data
    if (typeof d === 'string' && d.startsWith('0x')) return d as Hex
    if (d !== null && typeof d === 'object' && typeof (d as { data?: unknown }).data === 'string') return (d as { data: Hex }).data
  }
  return undefined
}

export interface DeployContractOptions {
  rpcUrl: string
  /** contract name in protocol/contracts or deploy/reference-protocol/contracts */
  name: string
  /** constructor arguments, given the deployer address (for "owner defaults to the deployer") */
  args: (deployer: Hex) => readonly unknown[]
  /** the contract's own error decoder, so a constructor revert comes back with its named error */
  decodeError: (data: Hex) => { errorName: string; args: readonly unknown[] } | undefined
  /** Sends the deployment; must be unlocked on the node (anvil). Default the node's first account. */
  deployer?: Hex
  compile?: CompileOptions
  signal?: AbortSignal
}

/** Deploys a compiled contract on a dev chain whose deployer account is unlocked (devnet, tests). */
export async function deployContract(o: DeployContractOptions): Promise<{ address: Hex; deployBlock: bigint; deployBlockHash: Hex; deployer: Hex }> {
  const rpc = rpcClient(o.rpcUrl)
  const artifact = await loadArtifact(o.name, o.compile)
  const from = o.deployer ?? (await rpc<Hex[]>('eth_accounts'))[0]
  if (from === undefined) throw new InvalidInputError(`the node has no unlocked account to deploy the ${o.name} from; pass deployer`)
  const deployer = getAddress(from)
  const tx = { from: deployer, data: encodeDeployData({ abi: artifact.abi as Abi, bytecode: artifact.bytecode, args: o.args(deployer) as unknown[] }) }
  // simulate first: a constructor revert comes back with its named error instead of a bare failed receipt
  try {
    await rpc<Hex>('eth_call', [tx, 'latest'])
  } catch (err) {
    const revert = revertData(err)
    const decoded = revert === undefined ? undefined : o.decodeError(revert)
    if (decoded !== undefined) throw new InvalidInputError(`${o.name} deployment reverts with ${decoded.errorName}(${decoded.args.map(String).join(', ')})`, { cause: err })
    throw err
  }
  o.signal?.throwIfAborted()
  const hash = await rpc<Hex>('eth_sendTransaction', [{ ...tx, gas: '0x4c4b40' }])
  const automine = await rpc<boolean>('anvil_getAutomine').catch(() => true)
  if (!automine) await rpc('evm_mine')
  const [receipt] = await waitForReceipts(rpc, [hash], o.signal)
  if (receipt!.status !== '0x1' || receipt!.contractAddress === null) throw new DeployError(`${o.name} deployment ${hash} reverted`)
  const block = await rpc<{ hash: Hex }>('eth_getBlockByNumber', [receipt!.blockNumber, false])
  return { address: getAddress(receipt!.contractAddress), deployBlock: BigInt(receipt!.blockNumber), deployBlockHash: block.hash, deployer }
}
