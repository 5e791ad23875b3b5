import { CborReader } from '../codec/cbor-read.ts'
import { CborWriter } from '../codec/cbor-write.ts'
import { addressToBytes, bytesToHex, compareBytes, parseAddress } from '../codec/hex.ts'
import { checkInt, INT256, rangeOf, UINT256, UINT64 } from '../codec/int.ts'
import { doubleKeccak256Into, keccak256Into } from '../codec/keccak.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'
import type { AccountRecord, Collateral, OptionPosition, PerpPosition } from './derivatives.ts'
import type { EncodedRecord } from './types.ts'

/**
 * The reference derivatives record's binary form (SPEC §1.2): the canonical
 * encoder, the strict decoder and the proof leaf, written against the bytes
 * directly (no generic dag-cbor pass) because they run once per account in
 * every build, proof and verification. test/snapshot/encoder-equivalence.test.ts
 * checks them against @ipld/dag-cbor and the generic ABI path.
 */

export function list<T>(v: unknown, what: string): T[] {
  if (!Array.isArray(v)) throw new InvalidInputError(`${what} must be an array`)
  return v as T[]
}

/** Sort by a byte/number key and reject duplicates: order carries no meaning, repetition would. */
export function sortUnique<T>(items: T[], cmp: (a: T, b: T) => number, what: string, listName: string, name: (x: T) => string): T[] {
  if (items.length < 2) return items
  // Lists are short (a few assets or positions): an insertion sort beats Array#sort's setup. Both are stable.
  const sorted = items.length <= 16 ? insertionSort([...items], cmp) : [...items].sort(cmp)
  for (let i = 1; i < sorted.length; i++) {
    if (cmp(sorted[i - 1]!, sorted[i]!) === 0) throw new InvalidInputError(`${what}${listName === '' ? '' : `.${listName}`} lists ${name(sorted[i]!)} twice; merge the entries`)
  }
  return sorted
}

function insertionSort<T>(a: T[], cmp: (x: T, y: T) => number): T[] {
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!
    let j = i
    while (j > 0 && cmp(a[j - 1]!, x) > 0) {
      a[j] = a[j - 1]!
      j--
    }
    a[j] = x
  }
  return a
}

const COLLATERAL_KEYS = new Set(['asset', 'amount'])
const PERP_KEYS = new Set(['market', 'size', 'entryPrice', 'fundingIndex'])
const OPTION_KEYS = new Set(['market', 'isCall', 'strike', 'expiry', 'size'])

/** onlyKeys without throwing: an object whose enumerable keys are all allowed. */
function hasOnlyKeys(o: unknown, allowed: Set<string>): boolean {
  if (o === null || typeof o !== 'object') return false
  for (const k in o) if (!allowed.has(k)) return false
  return true
}

/** Unknown fields are rejected, not dropped: silently losing data is a form of coercion. */
export function onlyKeys(o: unknown, allowed: Set<string>, what: string): void {
  if (o === null || typeof o !== 'object') throw new InvalidInputError(`${what} must be an object with ${[...allowed].join(', ')}`)
  for (const k in o) if (!allowed.has(k)) throw new InvalidInputError(`${what} has unknown field ${JSON.stringify(k)}; allowed: ${[...allowed].join(', ')}`)
}

export const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

/** Option series order: market, then put before call, then strike, then expiry. */
const compareOptions = (a: OptionPosition, b: OptionPosition): number =>
  cmpBig(a.market, b.market) || Number(a.isCall) - Number(b.isCall) || cmpBig(a.strike, b.strike) || cmpBig(a.expiry, b.expiry)
const optionSeries = (x: OptionPosition): string => `series (market ${x.market}, ${x.isCall ? 'call' : 'put'}, strike ${x.strike}, expiry ${x.expiry})`

const writer = new CborWriter()

/** A bigint already within range: the common case, checked without building the field's label. */
const inRange = (v: unknown, r: readonly [bigint, bigint]): v is bigint => typeof v === 'bigint' && v >= r[0] && v <= r[1]
const R_UINT256 = rangeOf(UINT256)
const R_INT256 = rangeOf(INT256)
const R_UINT64 = rangeOf(UINT64)

/*
 * Validation below builds error labels (`${what}.perps[0].size`) only on the
 * failure path: the fast checks (inRange, hasOnlyKeys, parseAddress) accept
 * exactly what checkInt, onlyKeys and addressToBytes accept, and anything
 * else goes through those functions for their error.
 */
export function encodeAccount(record: AccountRecord, what: string): EncodedRecord {
  if (record === null || typeof record !== 'object') throw new InvalidInputError(`${what} must be an object with collateral, perps and options`)
  for (const k in record) {
    if (Object.hasOwn(record, k) && k !== 'collateral' && k !== 'perps' && k !== 'options') throw new InvalidInputError(`${what} has unknown field ${JSON.stringify(k)}; records hold only collateral, perps and options`)
  }
  const cin = Array.isArray(record.collateral) ? (record.collateral as Collateral[]) : list<Collateral>(record.collateral, `${what}.collateral`)
  const coll: { asset: Uint8Array; amount: bigint }[] = new Array(cin.length)
  for (let i = 0; i < cin.length; i++) {
    const c = cin[i]!
    if (!hasOnlyKeys(c, COLLATERAL_KEYS)) onlyKeys(c, COLLATERAL_KEYS, `${what}.collateral[${i}]`)
    const asset = parseAddress(c.asset) ?? addressToBytes(c?.asset, `${what}.collateral[${i}].asset`)
    const amount = inRange(c.amount, R_UINT256) ? c.amount : checkInt(c?.amount, UINT256, `${what}.collateral[${i}].amount`)
    if (amount === 0n) throw new InvalidInputError(`${what}.collateral[${i}].amount is zero; omit empty balances`)
    coll[i] = { asset, amount }
  }
  const pin = Array.isArray(record.perps) ? (record.perps as PerpPosition[]) : list<PerpPosition>(record.perps, `${what}.perps`)
  const perps: PerpPosition[] = new Array(pin.length)
  for (let i = 0; i < pin.length; i++) {
    const p = pin[i]!
    const w = (): string => `${what}.perps[${i}]`
    if (!hasOnlyKeys(p, PERP_KEYS)) onlyKeys(p, PERP_KEYS, w())
    const size = inRange(p.size, R_INT256) ? p.size : checkInt(p?.size, INT256, `${w()}.size`)
    if (size === 0n) throw new InvalidInputError(`${w()}.size is zero; omit closed positions`)
    perps[i] = {
      market: inRange(p.market, R_UINT64) ? p.market : checkInt(p?.market, UINT64, `${w()}.market`),
      size,
      entryPrice: inRange(p.entryPrice, R_UINT256) ? p.entryPrice : checkInt(p?.entryPrice, UINT256, `${w()}.entryPrice`),
      fundingIndex: inRange(p.fundingIndex, R_INT256) ? p.fundingIndex : checkInt(p?.fundingIndex, INT256, `${w()}.fundingIndex`),
    }
  }
  const oin = Array.isArray(record.options) ? (record.options as OptionPosition[]) : list<OptionPosition>(record.options, `${what}.options`)
  const opts: OptionPosition[] = new Array(oin.length)
  for (let i = 0; i < oin.length; i++) {
    const o = oin[i]!
    const w = (): string => `${what}.options[${i}]`
    if (!hasOnlyKeys(o, OPTION_KEYS)) onlyKeys(o, OPTION_KEYS, w())
    if (typeof o?.isCall !== 'boolean') throw new InvalidInputError(`${w()}.isCall must be true or false`)
    const size = inRange(o.size, R_INT256) ? o.size : checkInt(o.size, INT256, `${w()}.size`)
    if (size === 0n) throw new InvalidInputError(`${w()}.size is zero; omit closed positions`)
    opts[i] = {
      market: inRange(o.market, R_UINT64) ? o.market : checkInt(o.market, UINT64, `${w()}.market`),
      isCall: o.isCall,
      strike: inRange(o.strike, R_UINT256) ? o.strike : checkInt(o.strike, UINT256, `${w()}.strike`),
      expiry: inRange(o.expiry, R_UINT64) ? o.expiry : checkInt(o.expiry, UINT64, `${w()}.expiry`),
      size,
    }
  }
  if (coll.length + perps.length + opts.length === 0) throw new InvalidInputError(`${what} has no collateral, positions or options; omit empty accounts (no account and an empty account must be one state)`)
  const c2 = sortUnique(coll, (a, b) => compareBytes(a.asset, b.asset), what, 'collateral', (x) => `asset ${bytesToHex(x.asset)}`)
  const p2 = sortUnique(perps, (a, b) => cmpBig(a.market, b.market), what, 'perps', (x) => `market ${x.market}`)
  const o2 = sortUnique(opts, compareOptions, what, 'options', optionSeries)
  // Written directly (same bytes as dag-cbor of the IPLD arrays; see encoder-equivalence.test.ts).
  const w = writer
  w.begin()
  w.byte(0x83)
  w.head(4, c2.length)
  for (const c of c2) {
    w.byte(0x82)
    w.bytes(c.asset)
    w.int(c.amount)
  }
  w.head(4, p2.length)
  for (const p of p2) {
    w.byte(0x84)
    w.int(p.market)
    w.int(p.size)
    w.int(p.entryPrice)
    w.int(p.fundingIndex)
  }
  w.head(4, o2.length)
  for (const o of o2) {
    w.byte(0x85)
    w.int(o.market)
    w.byte(o.isCall ? 0xf5 : 0xf4)
    w.int(o.strike)
    w.int(o.expiry)
    w.int(o.size)
  }
  const bytes = w.finish()
  return {
    bytes,
    leaf: (key, recordHash) => [key, recordHash, c2.map((c) => c.asset), c2.map((c) => c.amount)],
  }
}

/**
 * Strict decode without a re-encode: every check below is one the canonical
 * encoder implies (shape, shortest heads and the integer rule in CborReader,
 * ranges, non-zero amounts/sizes, strictly increasing sort keys, a non-empty
 * record, no trailing bytes), so a byte string passes iff encodeAccount of the
 * result reproduces it.
 */
export function decodeAccount(bytes: Uint8Array, what: string): AccountRecord {
  const r = reader.reset(bytes, what)
  const bad = (why: string): never => {
    throw new MalformedBlockError(`${what} is not a canonical account record: ${why}`)
  }
  const unsorted = (list: string, dup: string | null): never =>
    bad(dup === null ? 'fields are unsorted, duplicated or not minimally encoded' : `${what}.${list} lists ${dup} twice; merge the entries`)
  if (r.array() !== 3) bad('expected [collateral, perps, options]')
  const nc = r.array()
  if (nc < 0) bad('expected [collateral, perps, options]')
  const collateral: Collateral[] = new Array(nc)
  const assets: Uint8Array[] = new Array(nc)
  for (let i = 0; i < nc; i++) {
    const at = r.array() === 2 ? r.fixedBytes(20) : -1
    if (at < 0) bad(`collateral[${i}] is not [asset, amount]`)
    const asset = bytes.subarray(at, at + 20)
    const amount = r.int(UINT256, 'collateral', i, 'amount')
    if (amount === 0n) bad(`${what}.collateral[${i}].amount is zero; omit empty balances`)
    if (i > 0) {
      const c = compareBytes(assets[i - 1]!, asset)
      if (c >= 0) unsorted('collateral', c === 0 ? `asset ${bytesToHex(asset)}` : null)
    }
    assets[i] = asset
    collateral[i] = { asset: bytesToHex(asset), amount }
  }
  const np = r.array()
  if (np < 0) bad('expected [collateral, perps, options]')
  const perps: PerpPosition[] = new Array(np)
  for (let i = 0; i < np; i++) {
    if (r.array() !== 4) bad(`perps[${i}] is not [market, size, entryPrice, fundingIndex]`)
    const p: PerpPosition = { market: r.int(UINT64, 'perps', i, 'market'), size: r.int(INT256, 'perps', i, 'size'), entryPrice: r.int(UINT256, 'perps', i, 'entryPrice'), fundingIndex: r.int(INT256, 'perps', i, 'fundingIndex') }
    if (p.size === 0n) bad(`${what}.perps[${i}].size is zero; omit closed positions`)
    if (i > 0 && perps[i - 1]!.market >= p.market) unsorted('perps', perps[i - 1]!.market === p.market ? `market ${p.market}` : null)
    perps[i] = p
  }
  const no = r.array()
  if (no < 0) bad('expected [collateral, perps, options]')
  const options: OptionPosition[] = new Array(no)
  for (let i = 0; i < no; i++) {
    if (r.array() !== 5) bad(`options[${i}] is not [market, isCall, strike, expiry, size]`)
    const market = r.int(UINT64, 'options', i, 'market')
    const isCall = r.bool()
    if (isCall === undefined) bad(`options[${i}] is not [market, isCall, strike, expiry, size]`)
    const o: OptionPosition = { market, isCall: isCall!, strike: r.int(UINT256, 'options', i, 'strike'), expiry: r.int(UINT64, 'options', i, 'expiry'), size: r.int(INT256, 'options', i, 'size') }
    if (o.size === 0n) bad(`${what}.options[${i}].size is zero; omit closed positions`)
    if (i > 0) {
      const c = compareOptions(options[i - 1]!, o)
      if (c >= 0) unsorted('options', c === 0 ? optionSeries(o) : null)
    }
    options[i] = o
  }
  if (!r.done) r.invalid('trailing bytes after the record')
  if (nc + np + no === 0) bad(`${what} has no collateral, positions or options; omit empty accounts (no account and an empty account must be one state)`)
  const rec: AccountRecord = { collateral, perps, options }
  // leaf() of this record can reuse the asset bytes instead of parsing the hex again.
  lastDecoded = rec
  lastAssets = assets
  lastHex = collateral.map((c) => c.asset)
  return rec
}

const reader = new CborReader()

/**
 * The most recently decoded record, its raw asset addresses (views of the
 * decoded bytes) and their hex strings as decoded: proofs decode a record and
 * then take its leaf, which can skip parsing the hex back while the record's
 * assets are unchanged.
 */
let lastDecoded: AccountRecord | undefined
let lastAssets: Uint8Array[] = []
let lastHex: string[] = []

function sameAssets(collateral: readonly Collateral[]): boolean {
  if (collateral.length !== lastHex.length) return false
  for (let i = 0; i < collateral.length; i++) if (collateral[i]!.asset !== lastHex[i]) return false
  return true
}

/**
 * Proof leaf: (account, keccak256 of the record's canonical bytes, collateral
 * assets, collateral amounts). A claim contract pays from the last two alone;
 * the record hash commits to every other field.
 */
export const DERIVATIVES_LEAF_ENCODING = ['address', 'bytes32', 'address[]', 'uint256[]'] as const

export function derivativesLeaf(key: Uint8Array, record: AccountRecord, recordHash: Uint8Array): unknown[] {
  // decoded records are canonical: collateral is already sorted by asset
  const assets = record === lastDecoded && sameAssets(record.collateral) ? lastAssets.map((a) => a.slice()) : record.collateral.map((c) => addressToBytes(c.asset))
  return [key, recordHash, assets, record.collateral.map((c) => c.amount)]
}

const abiScratch = new Uint8Array(4096)

/**
 * The proof leaf (account, keccak256(record), assets, amounts) ABI-encoded
 * straight from canonical record bytes: assets and amounts are copied from
 * the collateral entries (an amount's CBOR argument or big-form magnitude is
 * its big-endian value) into their 32-byte words. Returns false for anything
 * not in canonical form or too large for the scratch buffer (the generic path
 * then handles or rejects it).
 */
export function leafHashInto(key: Uint8Array, bytes: Uint8Array, out: Uint8Array, offset: number): boolean {
  if (key.length !== 20 || bytes[0] !== 0x83) return false
  let p = 2
  let k = bytes[1]! - 0x80
  if (k === 24) k = bytes[p++]! // 0x98 n
  else if (k < 0 || k > 24) return false
  const size = 192 + 64 * k
  if (size > abiScratch.length) return false
  const abi = abiScratch.subarray(0, size)
  abi.fill(0)
  abi.set(key, 12)
  abi[64 + 31] = 128
  abi[96 + 30] = (160 + 32 * k) >> 8
  abi[96 + 31] = (160 + 32 * k) & 0xff
  abi[128 + 31] = k
  abi[160 + 32 * k + 31] = k
  for (let j = 0; j < k; j++) {
    if (bytes[p] !== 0x82 || bytes[p + 1] !== 0x54 || p + 22 > bytes.length) return false
    const assetAt = 160 + 32 * j + 12
    for (let i = 0; i < 20; i++) abi[assetAt + i] = bytes[p + 2 + i]!
    p += 22
    const ib = bytes[p]!
    let from: number
    let len: number
    if (ib < 0x18) {
      from = p + 1
      len = 0
      abi[192 + 32 * k + 32 * j + 31] = ib
    } else if (ib <= 0x1b) {
      from = p + 1
      len = 1 << (ib - 0x18)
    } else if (ib >= 0x42 && ib <= 0x57) {
      from = p + 2 // 0x40+L, sign byte
      len = ib - 0x41
    } else if (ib === 0x58) {
      from = p + 3 // 0x58 L, sign byte
      len = bytes[p + 1]! - 1
    } else return false
    if (len > 32 || from + len > bytes.length || (ib >= 0x40 && (len < 1 || bytes[from - 1] !== 0))) return false
    const amountAt = 192 + 32 * k + 32 * j + 32 - len
    for (let i = 0; i < len; i++) abi[amountAt + i] = bytes[from + i]!
    p = from + len
  }
  keccak256Into(bytes, abi, 32)
  doubleKeccak256Into(abi, out, offset)
  return true
}
