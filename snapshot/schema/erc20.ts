import * as dagCbor from '@ipld/dag-cbor'
import { addressToBytes, bytesToHex, equalBytes } from '../codec/hex.ts'
import { checkInt, intFromIpld, intToIpld, UINT256 } from '../codec/int.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'
import type { RecordSchema } from './types.ts'

/** One holder's token balance (non-zero). */
export interface BalanceRecord {
  balance: bigint
}

export interface TokenState {
  token: string
  totalSupply: bigint
}

function encode(r: BalanceRecord, what: string): Uint8Array {
  if (r === null || typeof r !== 'object' || Object.keys(r).some((k) => k !== 'balance')) throw new InvalidInputError(`${what} must be {balance}`)
  const b = checkInt(r.balance, UINT256, `${what}.balance`)
  if (b === 0n) throw new InvalidInputError(`${what}.balance is zero; omit accounts without a balance`)
  return dagCbor.encode(intToIpld(b))
}

/**
 * Generic ERC-20 holder snapshot (SPEC §1.3). The record is the balance itself
 * and the proof leaf is (holder, balance): a claim contract needs nothing else.
 */
export const erc20Schema: RecordSchema<BalanceRecord, TokenState> = {
  id: 'ark.erc20.balance',
  version: 1,
  keyLength: 20,
  leafEncoding: ['address', 'uint256'],
  encode(record, what) {
    const bytes = encode(record, what)
    return { bytes, leaf: (key) => [key, record.balance] }
  },
  decode(bytes, what) {
    let v: unknown
    try {
      v = dagCbor.decode(bytes)
    } catch (cause) {
      throw new MalformedBlockError(`${what} is not valid dag-cbor`, { cause })
    }
    const balance = intFromIpld(v, UINT256, `${what}.balance`)
    if (!equalBytes(encode({ balance }, what), bytes)) throw new MalformedBlockError(`${what} is not a canonical balance record`)
    return { balance }
  },
  leaf: (key, record) => [key, record.balance],
  balances: (r) => [['token', r.balance]],
  identity: { '': ['account'] },
  toJSON: (key, r) => ({ account: bytesToHex(key), balance: r.balance.toString() }),
  fromJSON(json) {
    const j = json as { account?: string; balance?: unknown }
    return { key: addressToBytes(String(j?.account), 'account'), record: { balance: checkInt(j?.balance, UINT256, 'balance') } }
  },
  csvHeader: ['account', 'balance'],
  toCsvRows: (key, r) => [[bytesToHex(key), r.balance.toString()]],
  markets: {
    encode(m) {
      return { token: addressToBytes(m?.token, 'token'), totalSupply: intToIpld(checkInt(m?.totalSupply, UINT256, 'totalSupply')) }
    },
    decode(v) {
      const o = v as { token?: unknown; totalSupply?: unknown }
      if (o === null || typeof o !== 'object' || !(o.token instanceof Uint8Array) || o.token.length !== 20 || Object.keys(o).length !== 2) throw new MalformedBlockError('token-state block is not {token, totalSupply}')
      return { token: bytesToHex(o.token), totalSupply: intFromIpld(o.totalSupply, UINT256, 'totalSupply') }
    },
    toJSON: (m) => ({ token: m.token.toLowerCase(), totalSupply: m.totalSupply.toString() }),
  },
}
