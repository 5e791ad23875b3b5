import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { writeCar } from '../../../snapshot/car/car.ts'
import { ChainSource, type Finality } from '../../../snapshot/chain/source.ts'
import { RpcEndpoint } from '../../../snapshot/chain/rpc.ts'
import { configHash, deriveCheckpoint, type Checkpoint } from '../../../snapshot/derive/derive.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { MemoryBlockStore } from '../../../snapshot/store.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { loadAdapter } from '../../adapters/load.ts'
import { openCar } from '../open-car.ts'
import { required, UsageError, type Command } from '../command.ts'

export const buildCommand: Command = {
  name: 'build',
  summary: 'Derive a snapshot from the chain at a final block (every read pinned to its hash, spot-checked against the contracts), optionally incrementally from a previous snapshot.',
  usage: 'ark snapshot build --rpc URL [--rpc URL2 ...] --adapter ID|MODULE --config adapter.json --block N|finalized --out state.car [--from prev.car] [--chain-id N] [--confirmations N]',
  options: {
    rpc: { type: 'string', multiple: true, description: 'JSON-RPC endpoint; repeat for several providers (block hashes must agree)' },
    adapter: { type: 'string', description: 'adapter: a built-in id (perp-reference, erc20-balances), an installed package name or a module path' },
    config: { type: 'string', description: 'adapter config JSON file (contract addresses, startBlock)' },
    block: { type: 'string', description: 'block number, or "finalized"' },
    out: { type: 'string', description: 'output CAR (written atomically)' },
    from: { type: 'string', description: 'previous snapshot CAR of the same adapter and config: derive incrementally from it' },
    'chain-id': { type: 'string', description: 'expected chain id (default: what the first endpoint reports)' },
    confirmations: { type: 'string', description: 'finality by confirmations instead of the "finalized" tag (chains without finality)' },
  },
  async run({ values, json, io, signal }) {
    const rpcUrls = (values.rpc as string[] | undefined) ?? []
    if (rpcUrls.length === 0) throw new UsageError(`--rpc is required\n\nusage: ${this.usage}`)
    const adapter = await loadAdapter(required(values, 'adapter', this))
    const configPath = required(values, 'config', this)
    let configJson: unknown
    try {
      configJson = JSON.parse(await readFile(configPath, 'utf8'))
    } catch (cause) {
      throw new InvalidInputError(`cannot read adapter config ${configPath}: ${(cause as Error).message}; pass a JSON file like {"exchange": "0x…", "startBlock": 1}`, { cause })
    }
    const config = adapter.parseConfig(configJson)
    const blockArg = required(values, 'block', this)
    if (blockArg !== 'finalized' && !/^[0-9]+$/.test(blockArg)) throw new UsageError(`--block must be a block number or "finalized", got ${JSON.stringify(blockArg)}`)
    const out = resolve(required(values, 'out', this))
    const conf = values.confirmations as string | undefined
    if (conf !== undefined && !/^[0-9]+$/.test(conf)) throw new UsageError('--confirmations must be a non-negative integer')
    const finality: Finality = conf === undefined ? { kind: 'finalized' } : { kind: 'confirmations', confirmations: Number(conf) }
    const chainIdArg = values['chain-id'] as string | undefined
    const chainId = chainIdArg !== undefined ? BigInt(chainIdArg) : BigInt(await new RpcEndpoint(rpcUrls[0]!).request<string>('eth_chainId', [], signal))
    const source = new ChainSource({ rpcUrls, chainId, finality })
    await source.checkChainId(signal)
    const target = await source.checkpointHeader(blockArg === 'finalized' ? 'finalized' : BigInt(blockArg), signal)

    let prev: Checkpoint | undefined
    let store = new MemoryBlockStore()
    if (values.from !== undefined) {
      const snap = await openCar(values.from as string)
      const r = snap.root
      if (r.adapter.id !== adapter.id || r.block.chainId !== chainId) throw new InvalidInputError(`--from snapshot is for adapter ${r.adapter.id} on chain ${r.block.chainId}, not ${adapter.id} on chain ${chainId}`)
      if (r.adapter.configHash !== configHash(adapter, config)) throw new InvalidInputError('--from snapshot was derived with a different adapter config; incremental derivation needs the same config')
      const header = await source.agreedHeader(r.block.number, signal)
      if (header.hash !== r.block.hash) throw new ArkError('INVALID_INPUT', `--from snapshot is for block ${r.block.number} hash ${r.block.hash}, which is no longer on the chain (now ${header.hash}): a reorg; build from scratch instead`)
      const state = adapter.createState(config)
      await state.load(snap.entries(), await snap.markets())
      prev = { block: header, snapshot: snap, state }
      store = snap.store as MemoryBlockStore
    }
    const { checkpoint, stats } = await deriveCheckpoint({ adapter, config, source, target, prev, store, signal })
    const s = checkpoint.snapshot
    await writeFileAtomic(out, writeCar([s.cid], s.blockCids(), store), signal)
    const result = { out, root: s.cid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, block: target.number.toString(), blockHash: target.hash, incremental: prev !== undefined, ...stats }
    io.stdout(json ? `${JSON.stringify(result)}\n` : `wrote ${out}\n  block      ${result.block} ${result.blockHash}\n  root       ${result.root}\n  stateRoot  ${result.stateRoot}\n  accounts   ${result.accounts}\n  logs       ${stats.logs} (blocks ${stats.fromBlock}..${stats.toBlock}), ${stats.changedAccounts} accounts changed\n  rpc        ${stats.rpcRequests} requests\n  timings    ${JSON.stringify(stats.ms)}\n`)
  },
}
