import * as dagCbor from '@ipld/dag-cbor'
import { abiEncodeScratch } from '../abi/encode.ts'
import { bytesToHex } from '../codec/hex.ts'
import { intFromIpld, intToIpld, UINT256 } from '../codec/int.ts'
import { doubleKeccak256Into } from '../codec/keccak.ts'
import { MalformedBlockError } from '../errors.ts'
import { HASH } from '../merkle/standard-tree.ts'

/**
 * One row of a restitution table (PROTOCOL "Restitution (kind 2)", SPEC §8):
 * the proof leaf is OpenZeppelin StandardMerkleTree's over
 * `(address account, address asset, uint256 amount)`, i.e.
 * keccak256(bytes.concat(keccak256(abi.encode(account, asset, amount)))),
 * the leaf the Distributor contract checks a claim against.
 */
export const RESTITUTION_LEAF_ENCODING = Object.freeze(['address', 'address', 'uint256'] as const)

/** Entry keys in the table's tree: account (20 bytes) || asset (20 bytes). */
export const RESTITUTION_KEY_LENGTH = 40

/**
 * The reserved account of the total leaves: `(address(0), asset, total)`
 * carries the sum of every loss in `asset`. No real account is address(0),
 * and losses of address(0) are never computed (it is outside the account
 * key space of a restitution table), so the two cannot collide.
 */
export const TOTAL_ACCOUNT = new Uint8Array(20)

export interface RestitutionEntry {
  /** 20 bytes */
  account: Uint8Array
  /** 20 bytes */
  asset: Uint8Array
  /** > 0, < 2^256 */
  amount: bigint
}

export function entryKey(account: Uint8Array, asset: Uint8Array): Uint8Array {
  const key = new Uint8Array(RESTITUTION_KEY_LENGTH)
  key.set(account, 0)
  key.set(asset, 20)
  return key
}

/** An amount's canonical dag-cbor bytes: the value of a tree entry. */
export function encodeAmount(amount: bigint): Uint8Array {
  return dagCbor.encode(intToIpld(amount))
}

/** Strict inverse of encodeAmount; amounts in a table are never zero. */
export function decodeAmount(bytes: Uint8Array, what: string): bigint {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (cause) {
    throw new MalformedBlockError(`${what}: amount is not dag-cbor`, { cause })
  }
  const amount = intFromIpld(value, UINT256, `${what} amount`)
  if (Buffer.compare(dagCbor.encode(value), bytes) !== 0) throw new MalformedBlockError(`${what}: amount is not canonically encoded`)
  if (amount === 0n) throw new MalformedBlockError(`${what}: amount is zero; a restitution table omits zero rows`)
  return amount
}

/** The standard proof-leaf hash of (account, asset, amount), written to out[at..at+32). */
export function restitutionLeafHashInto(account: Uint8Array, asset: Uint8Array, amount: bigint, out: Uint8Array, at: number): void {
  doubleKeccak256Into(abiEncodeScratch(RESTITUTION_LEAF_ENCODING, [account, asset, amount]), out, at)
}

export function restitutionLeafHash(e: RestitutionEntry): Uint8Array {
  const out = new Uint8Array(HASH)
  restitutionLeafHashInto(e.account, e.asset, e.amount, out, 0)
  return out
}

/** Plain-JSON row (addresses lower-case hex, amount decimal) for exports, vectors and the claim side. */
export function entryToJSON(e: RestitutionEntry): { account: string; asset: string; amount: string } {
  return { account: bytesToHex(e.account), asset: bytesToHex(e.asset), amount: e.amount.toString() }
}
