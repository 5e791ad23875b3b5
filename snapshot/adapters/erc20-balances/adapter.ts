import { parseAbi, toEventSelector } from 'viem'
import { bytesToHex, hexToBytes } from '../../codec/hex.ts'
import { SpotCheckError } from '../../chain/errors.ts'
import type { Hex, Log } from '../../chain/source.ts'
import { erc20Schema, type BalanceRecord, type TokenState } from '../../schema/erc20.ts'
import type { Change } from '../../state/build.ts'
import { pinnedCall, topicAddress, word } from '../call.ts'
import { configAddress, configBlock, configObject } from '../config.ts'
import type { Adapter, AdapterRecord, AdapterState, DeriveContext } from '../types.ts'

export interface Erc20Config {
  token: Hex
  startBlock: bigint
}

const ID = 'erc20-balances'
const TRANSFER = toEventSelector('Transfer(address,address,uint256)')
const ZERO = `0x${'00'.repeat(20)}`
const abi = parseAbi(['function balanceOf(address) view returns (uint256)', 'function totalSupply() view returns (uint256)'])

class Erc20State implements AdapterState<BalanceRecord, TokenState> {
  private balances = new Map<string, bigint>()
  private touched = new Set<string>()
  private readonly config: Erc20Config
  constructor(config: Erc20Config) {
    this.config = config
  }

  async load(records: AsyncIterable<{ key: Uint8Array; record: BalanceRecord }>): Promise<void> {
    for await (const { key, record } of records) this.balances.set(bytesToHex(key), record.balance)
  }

  async fold(logs: readonly Log[], ctx: DeriveContext): Promise<void> {
    for (const log of logs) {
      // ERC-721 shares the Transfer signature but indexes the id (4 topics): not ours.
      if (log.address !== this.config.token || log.topics[0] !== TRANSFER || log.topics.length !== 3) continue
      const from = topicAddress(log.topics[1]!)
      const to = topicAddress(log.topics[2]!)
      const value = word(log.data, 0)
      if (from !== ZERO) {
        const b = (this.balances.get(from) ?? 0n) - value
        if (b < 0n) throw new SpotCheckError(`Transfer log at block ${log.blockNumber} spends more than ${from} holds; the token is not a standard ERC-20 (rebasing or fee-on-transfer) and cannot be derived from logs`, { block: ctx.block.number.toString(), account: from })
        this.balances.set(from, b)
        this.touched.add(from)
      }
      if (to !== ZERO) {
        this.balances.set(to, (this.balances.get(to) ?? 0n) + value)
        this.touched.add(to)
      }
    }
  }

  takeChanges(): Change<BalanceRecord>[] {
    const out: Change<BalanceRecord>[] = []
    for (const k of this.touched) {
      const b = this.balances.get(k) ?? 0n
      if (b === 0n) this.balances.delete(k)
      out.push({ key: hexToBytes(k), record: b === 0n ? null : { balance: b } })
    }
    this.touched.clear()
    return out
  }

  *records(): Iterable<AdapterRecord<BalanceRecord>> {
    for (const [k, b] of this.balances) if (b !== 0n) yield { key: hexToBytes(k), record: { balance: b } }
  }

  async markets(ctx: DeriveContext): Promise<TokenState> {
    return { token: this.config.token, totalSupply: await pinnedCall<bigint>(ctx, this.config.token, abi, 'totalSupply') }
  }

  async spotCheck(ctx: DeriveContext, accounts: { key: Uint8Array; record: BalanceRecord }[], markets: TokenState): Promise<void> {
    let sum = 0n
    for (const b of this.balances.values()) sum += b
    if (sum !== markets.totalSupply) {
      throw new SpotCheckError(`spot check failed at block ${ctx.block.number}: balances sum to ${sum} but totalSupply() is ${markets.totalSupply}; the token mints or burns without Transfer events`, { block: ctx.block.number.toString(), field: 'totalSupply' })
    }
    for (const { key, record } of accounts) {
      const addr = bytesToHex(key) as Hex
      const onChain = await pinnedCall<bigint>(ctx, this.config.token, abi, 'balanceOf', [addr])
      if (onChain !== record.balance) {
        throw new SpotCheckError(`spot check failed at block ${ctx.block.number}: account ${addr} field balance is ${record.balance} in the derived state but ${onChain} in balanceOf(); the checkpoint is not attested`, { block: ctx.block.number.toString(), account: addr, field: 'balance' })
      }
    }
  }

  clone(): Erc20State {
    const c = new Erc20State(this.config)
    c.balances = new Map(this.balances)
    c.touched = new Set(this.touched)
    return c
  }
}

export const erc20BalancesAdapter: Adapter<Erc20Config, BalanceRecord, TokenState> = {
  id: ID,
  version: '1.0.0',
  description: 'holders of any standard ERC-20 (or vault share) from its Transfer logs, spot-checked against balanceOf',
  schema: erc20Schema,
  parseConfig(json) {
    const o = configObject(json, ID, ['token', 'startBlock'])
    return { token: configAddress(o, 'token', ID), startBlock: configBlock(o, 'startBlock', ID) }
  },
  configJSON: (c) => ({ token: c.token, startBlock: Number(c.startBlock) }),
  startBlock: (c) => c.startBlock,
  contracts: (c) => [c.token],
  createState: (c) => new Erc20State(c),
}
