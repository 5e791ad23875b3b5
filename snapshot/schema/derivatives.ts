import * as dagCbor from '@ipld/dag-cbor'
import { CborReader } from '../codec/cbor-read.ts'
import { CborWriter } from '../codec/cbor-write.ts'
import { addressToBytes, bytesToHex, compareBytes, equalBytes, parseAddress } from '../codec/hex.ts'
import { checkInt, INT256, intFromIpld, intToIpld, rangeOf, UINT256, UINT64, type IntKind } from '../codec/int.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'
import type { EncodedRecord, RecordSchema } from './types.ts'

/** The reference derivatives record (SPEC §1.2). Integers are bigint; addresses 0x-hex. */
export interface Collateral {
  asset: string
  amount: bigint
}
export interface PerpPosition {
  market: bigint
  /** signed: positive long, negative short */
  size: bigint
  entryPrice: bigint
  /** cumulative funding index at the last settlement */
  fundingIndex: bigint
}
export interface OptionPosition {
  market: bigint
  isCall: boolean
  strike: bigint
  expiry: bigint
  /** signed: positive bought, negative written */
  size: bigint
}
export interface AccountRecord {
  collateral: Collateral[]
  perps: PerpPosition[]
  options: OptionPosition[]
}

export interface CollateralAsset {
  asset: string
  /** value counted toward margin, in basis points (10000 = full value) */
  haircutBps: bigint
  decimals: bigint
}
export interface MarketState {
  id: bigint
  /** Chainlink answer (int256), round id (uint80), update time (seconds) and decimals */
  price: bigint
  roundId: bigint
  updatedAt: bigint
  priceDecimals: bigint
  longOpenInterest: bigint
  shortOpenInterest: bigint
  fundingIndex: bigint
  /** funding per second, 1e18-scaled, signed (positive: longs pay) */
  fundingRate: bigint
  /** margin ratios and liquidation fee, 1e18-scaled */
  initialMarginRatio: bigint
  maintenanceMarginRatio: bigint
  liquidationFee: bigint
}
export interface DerivativesMarkets {
  assets: CollateralAsset[]
  markets: MarketState[]
}

const UINT80: IntKind = { signed: false, bits: 80 }

function int(v: unknown, kind: IntKind, what: string): number | bigint | Uint8Array {
  return intToIpld(checkInt(v, kind, what))
}

function list<T>(v: unknown, what: string): T[] {
  if (!Array.isArray(v)) throw new InvalidInputError(`${what} must be an array`)
  return v as T[]
}

/** Sort by a byte/number key and reject duplicates: order carries no meaning, repetition would. */
function sortUnique<T>(items: T[], cmp: (a: T, b: T) => number, what: string, listName: string, name: (x: T) => string): T[] {
  if (items.length < 2) return items
  const sorted = [...items].sort(cmp)
  for (let i = 1; i < sorted.length; i++) {
    if (cmp(sorted[i - 1]!, sorted[i]!) === 0) throw new InvalidInputError(`${what}${listName === '' ? '' : `.${listName}`} lists ${name(sorted[i]!)} twice; merge the entries`)
  }
  return sorted
}

const COLLATERAL_KEYS = new Set(['asset', 'amount'])
const PERP_KEYS = new Set(['market', 'size', 'entryPrice', 'fundingIndex'])
const OPTION_KEYS = new Set(['market', 'isCall', 'strike', 'expiry', 'size'])
const ASSET_KEYS = new Set(['asset', 'haircutBps', 'decimals'])

/** onlyKeys without throwing: an object whose enumerable keys are all allowed. */
function hasOnlyKeys(o: unknown, allowed: Set<string>): boolean {
  if (o === null || typeof o !== 'object') return false
  for (const k in o) if (!allowed.has(k)) return false
  return true
}

/** Unknown fields are rejected, not dropped: silently losing data is a form of coercion. */
function onlyKeys(o: unknown, allowed: Set<string>, what: string): void {
  if (o === null || typeof o !== 'object') throw new InvalidInputError(`${what} must be an object with ${[...allowed].join(', ')}`)
  for (const k in o) if (!allowed.has(k)) throw new InvalidInputError(`${what} has unknown field ${JSON.stringify(k)}; allowed: ${[...allowed].join(', ')}`)
}

const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

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
 * The most recently decoded record, its raw asset addresses and their hex
 * strings as decoded: proofs decode a record and then take its leaf, which
 * can skip parsing the hex back while the record's assets are unchanged.
 */
let lastDecoded: AccountRecord | undefined
let lastAssets: Uint8Array[] = []
let lastHex: string[] = []

function sameAssets(collateral: readonly Collateral[]): boolean {
  if (collateral.length !== lastHex.length) return false
  for (let i = 0; i < collateral.length; i++) if (collateral[i]!.asset !== lastHex[i]) return false
  return true
}

function accountJSON(key: Uint8Array, r: AccountRecord): Record<string, unknown> {
  return {
    account: bytesToHex(key),
    collateral: r.collateral.map((c) => ({ asset: c.asset.toLowerCase(), amount: c.amount.toString() })),
    perps: r.perps.map((p) => ({ market: p.market.toString(), size: p.size.toString(), entryPrice: p.entryPrice.toString(), fundingIndex: p.fundingIndex.toString() })),
    options: r.options.map((o) => ({ market: o.market.toString(), isCall: o.isCall, strike: o.strike.toString(), expiry: o.expiry.toString(), size: o.size.toString() })),
  }
}

function accountFromJSON(json: unknown): { key: Uint8Array; record: AccountRecord } {
  const j = json as { account: string; collateral?: Collateral[]; perps?: PerpPosition[]; options?: OptionPosition[] }
  if (j === null || typeof j !== 'object') throw new InvalidInputError('account JSON must be an object')
  const key = addressToBytes(j.account, 'account')
  const record: AccountRecord = {
    collateral: list<Record<string, unknown>>(j.collateral ?? [], 'collateral').map((c) => ({ asset: String(c.asset), amount: checkInt(c.amount, UINT256, 'collateral.amount') })),
    perps: list<Record<string, unknown>>(j.perps ?? [], 'perps').map((p) => ({ market: checkInt(p.market, UINT64, 'perps.market'), size: checkInt(p.size, INT256, 'perps.size'), entryPrice: checkInt(p.entryPrice, UINT256, 'perps.entryPrice'), fundingIndex: checkInt(p.fundingIndex, INT256, 'perps.fundingIndex') })),
    options: list<Record<string, unknown>>(j.options ?? [], 'options').map((o) => ({ market: checkInt(o.market, UINT64, 'options.market'), isCall: o.isCall as boolean, strike: checkInt(o.strike, UINT256, 'options.strike'), expiry: checkInt(o.expiry, UINT64, 'options.expiry'), size: checkInt(o.size, INT256, 'options.size') })),
  }
  return { key, record }
}

const MARKET_FIELDS: Record<keyof MarketState, IntKind> = {
  id: UINT64,
  price: INT256,
  roundId: UINT80,
  updatedAt: UINT64,
  priceDecimals: { signed: false, bits: 8 },
  longOpenInterest: UINT256,
  shortOpenInterest: UINT256,
  fundingIndex: INT256,
  fundingRate: INT256,
  initialMarginRatio: UINT256,
  maintenanceMarginRatio: UINT256,
  liquidationFee: UINT256,
}
const ASSET_FIELDS = { haircutBps: { signed: false, bits: 16 }, decimals: { signed: false, bits: 8 } } as const

function encodeMarkets(m: DerivativesMarkets): unknown {
  if (m === null || typeof m !== 'object') throw new InvalidInputError('market state must be an object with assets and markets')
  const assets = sortUnique(
    list<CollateralAsset>(m.assets, 'assets').map((a, i) => {
      onlyKeys(a, ASSET_KEYS, `assets[${i}]`)
      const haircutBps = checkInt(a.haircutBps, ASSET_FIELDS.haircutBps, `assets[${i}].haircutBps`)
      if (haircutBps > 10000n) throw new InvalidInputError(`assets[${i}].haircutBps is ${haircutBps}; a haircut counts at most 10000 bps (full value)`)
      return { asset: addressToBytes(a?.asset, `assets[${i}].asset`), haircutBps, decimals: checkInt(a.decimals, ASSET_FIELDS.decimals, `assets[${i}].decimals`) }
    }),
    (a, b) => compareBytes(a.asset, b.asset),
    'assets',
    '',
    (x) => bytesToHex(x.asset),
  )
  const markets = sortUnique(
    list<MarketState>(m.markets, 'markets').map((mk, i) => {
      const out: Record<string, unknown> = {}
      for (const [k, kind] of Object.entries(MARKET_FIELDS)) out[k] = int((mk as unknown as Record<string, unknown>)?.[k], kind, `markets[${i}].${k}`)
      for (const k of Object.keys(mk ?? {})) if (!(k in MARKET_FIELDS)) throw new InvalidInputError(`markets[${i}] has unknown field ${JSON.stringify(k)}`)
      return { id: mk.id, out }
    }),
    (a, b) => cmpBig(BigInt(a.id), BigInt(b.id)),
    'markets',
    '',
    (x) => `market ${x.id}`,
  )
  return {
    assets: assets.map((a) => ({ asset: a.asset, haircutBps: intToIpld(a.haircutBps), decimals: intToIpld(a.decimals) })),
    markets: markets.map((x) => x.out),
  }
}

function decodeMarkets(v: unknown): DerivativesMarkets {
  const bad = (why: string): never => {
    throw new MalformedBlockError(`market-state block is malformed: ${why}`)
  }
  if (v === null || typeof v !== 'object' || !Array.isArray((v as { assets: unknown }).assets) || !Array.isArray((v as { markets: unknown }).markets)) bad('expected {assets, markets}')
  const o = v as { assets: Record<string, unknown>[]; markets: Record<string, unknown>[] }
  if (Object.keys(o).length !== 2) bad('unknown top-level field')
  const out: DerivativesMarkets = {
    assets: o.assets.map((a, i) => {
      if (!(a.asset instanceof Uint8Array) || a.asset.length !== 20 || Object.keys(a).length !== 3) bad(`assets[${i}] is not {asset, haircutBps, decimals}`)
      return { asset: bytesToHex(a.asset as Uint8Array), haircutBps: intFromIpld(a.haircutBps, ASSET_FIELDS.haircutBps, `assets[${i}].haircutBps`), decimals: intFromIpld(a.decimals, ASSET_FIELDS.decimals, `assets[${i}].decimals`) }
    }),
    markets: o.markets.map((m, i) => {
      if (m === null || typeof m !== 'object' || Object.keys(m).length !== Object.keys(MARKET_FIELDS).length) bad(`markets[${i}] has missing or unknown fields`)
      const r: Record<string, bigint> = {}
      for (const [k, kind] of Object.entries(MARKET_FIELDS)) r[k] = intFromIpld(m[k], kind, `markets[${i}].${k}`)
      return r as unknown as MarketState
    }),
  }
  if (!equalBytes(dagCbor.encode(encodeMarkets(out)), dagCbor.encode(v))) bad('entries are unsorted or duplicated')
  return out
}

function marketsJSON(m: DerivativesMarkets): unknown {
  return {
    assets: m.assets.map((a) => ({ asset: a.asset.toLowerCase(), haircutBps: a.haircutBps.toString(), decimals: a.decimals.toString() })),
    markets: m.markets.map((mk) => Object.fromEntries(Object.entries(mk).map(([k, v]) => [k, (v as bigint).toString()]))),
  }
}

export const DERIVATIVES_CSV_HEADER = ['account', 'kind', 'asset', 'market', 'is_call', 'strike', 'expiry', 'amount_or_size', 'entry_price', 'funding_index'] as const

function csvRows(key: Uint8Array, r: AccountRecord): string[][] {
  const a = bytesToHex(key)
  return [
    ...r.collateral.map((c) => [a, 'collateral', c.asset.toLowerCase(), '', '', '', '', c.amount.toString(), '', '']),
    ...r.perps.map((p) => [a, 'perp', '', p.market.toString(), '', '', '', p.size.toString(), p.entryPrice.toString(), p.fundingIndex.toString()]),
    ...r.options.map((o) => [a, 'option', '', o.market.toString(), String(o.isCall), o.strike.toString(), o.expiry.toString(), o.size.toString(), '', '']),
  ]
}

/**
 * Proof leaf: (account, keccak256 of the record's canonical bytes, collateral
 * assets, collateral amounts). A claim contract pays from the last two alone;
 * the record hash commits to every other field.
 */
export const DERIVATIVES_LEAF_ENCODING = ['address', 'bytes32', 'address[]', 'uint256[]'] as const

export const derivativesSchema: RecordSchema<AccountRecord, DerivativesMarkets> = {
  id: 'ark.derivatives.account',
  version: 1,
  keyLength: 20,
  leafEncoding: DERIVATIVES_LEAF_ENCODING,
  encode: encodeAccount,
  decode: decodeAccount,
  leaf(key, record, recordHash) {
    // decoded records are canonical: collateral is already sorted by asset
    const assets = record === lastDecoded && sameAssets(record.collateral) ? lastAssets.map((a) => a.slice()) : record.collateral.map((c) => addressToBytes(c.asset))
    return [key, recordHash, assets, record.collateral.map((c) => c.amount)]
  },
  balances: (r) => r.collateral.map((c) => [c.asset.toLowerCase(), c.amount]),
  toJSON: accountJSON,
  fromJSON: accountFromJSON,
  csvHeader: DERIVATIVES_CSV_HEADER,
  toCsvRows: csvRows,
  markets: { encode: encodeMarkets, decode: decodeMarkets, toJSON: marketsJSON },
}
