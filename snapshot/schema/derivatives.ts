import * as dagCbor from '@ipld/dag-cbor'
import { addressToBytes, bytesToHex, compareBytes, equalBytes } from '../codec/hex.ts'
import { checkInt, INT256, intFromIpld, intToIpld, UINT256, UINT64, type IntKind } from '../codec/int.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'
import type { LeafHashFromBytes } from '../merkle/standard-tree.ts'
import { cmpBig, decodeAccount, DERIVATIVES_LEAF_ENCODING, derivativesLeaf, encodeAccount, leafHashInto, list, onlyKeys, sortUnique } from './derivatives-record.ts'
import type { RecordSchema } from './types.ts'
import { isCanonicalAccount } from './derivatives-check.ts'

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

const ASSET_KEYS = new Set(['asset', 'haircutBps', 'decimals'])

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

export { DERIVATIVES_LEAF_ENCODING, decodeAccount, encodeAccount }

export const derivativesSchema: RecordSchema<AccountRecord, DerivativesMarkets> & LeafHashFromBytes = {
  id: 'ark.derivatives.account',
  version: 1,
  keyLength: 20,
  leafEncoding: DERIVATIVES_LEAF_ENCODING,
  encode: encodeAccount,
  decode: decodeAccount,
  isCanonical: isCanonicalAccount,
  leaf: derivativesLeaf,
  balances: (r) => r.collateral.map((c) => [c.asset.toLowerCase(), c.amount]),
  positions: (r) => [...r.perps.map((p) => ({ market: p.market, size: p.size, option: false })), ...r.options.map((o) => ({ market: o.market, size: o.size, option: true }))],
  identity: { '': ['account'], collateral: ['asset'], perps: ['market'], options: ['market', 'isCall', 'strike', 'expiry'] },
  toJSON: accountJSON,
  fromJSON: accountFromJSON,
  csvHeader: DERIVATIVES_CSV_HEADER,
  toCsvRows: csvRows,
  markets: {
    encode: encodeMarkets,
    decode: decodeMarkets,
    toJSON: marketsJSON,
    identity: { assets: ['asset'], markets: ['id'] },
    openInterest: (m) => m.markets.map((x) => ({ market: x.id, long: x.longOpenInterest, short: x.shortOpenInterest })),
  },
  leafHash: { leaf: derivativesLeaf, leafEncoding: DERIVATIVES_LEAF_ENCODING, into: leafHashInto },
}
