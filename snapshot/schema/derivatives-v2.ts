import * as dagCbor from '@ipld/dag-cbor'
import { addressToBytes, bytesToHex, compareBytes, equalBytes } from '../codec/hex.ts'
import { checkInt, INT256, intFromIpld, intToIpld, UINT256, UINT64, type IntKind } from '../codec/int.ts'
import { ArkError } from '../ark-error.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'
import type { LeafHashFromBytes } from '../merkle/standard-tree.ts'
import { cmpBig, list, sortUnique } from './derivatives-record.ts'
import { derivativesSchema, type AccountRecord, type CollateralAsset, type MarketState } from './derivatives.ts'
import type { MarketCodec, RecordSchema } from './types.ts'

/**
 * The reference derivatives schema, version 2 (SPEC §1.3): account records,
 * their proof leaf and their encoding are exactly version 1's; the
 * market-state block also carries what `ark risk` needs to recompute the
 * contract's margin views from the snapshot alone — how each collateral asset
 * is priced (its feed and the feed's answer at the block, or par) and each
 * market's feed and `lastFundingTime`.
 */

export const ZERO_ADDRESS = `0x${'00'.repeat(20)}`

export interface CollateralAssetV2 extends CollateralAsset {
  /** the price feed that values the asset; the zero address: no feed, valued at par (1:1 in quote units) */
  feed: string
  /** the feed's latestRoundData (answer, round, update time) and decimals at the block; all zero at par */
  price: bigint
  roundId: bigint
  updatedAt: bigint
  priceDecimals: bigint
}
export interface MarketStateV2 extends MarketState {
  /** the market's price feed (the source of price/roundId/updatedAt) */
  feed: string
  /** when fundingIndex was last accrued (seconds): the views accrue fundingRate from here to the block */
  lastFundingTime: bigint
}
export interface DerivativesMarketsV2 {
  assets: CollateralAssetV2[]
  markets: MarketStateV2[]
}

/** An entry field: an integer kind, a 20-byte address, or a token symbol (v3: SYMBOL_PATTERN, a dag-cbor string). */
export type Field = IntKind | 'address' | 'symbol'

/** A token symbol as stored (schema v3): 0 to 32 printable ASCII characters; "" means unknown. */
export const SYMBOL_PATTERN = /^[\x20-\x7e]{0,32}$/
const UINT8: IntKind = Object.freeze({ signed: false, bits: 8 })
const UINT16: IntKind = Object.freeze({ signed: false, bits: 16 })
const UINT80: IntKind = Object.freeze({ signed: false, bits: 80 })

/** Every field of an asset entry, in JSON order (the block itself uses dag-cbor key order). */
export const ASSET_FIELDS_V2: Readonly<Record<keyof CollateralAssetV2, Field>> = {
  asset: 'address',
  haircutBps: UINT16,
  decimals: UINT8,
  feed: 'address',
  price: INT256,
  roundId: UINT80,
  updatedAt: UINT64,
  priceDecimals: UINT8,
}
export const MARKET_FIELDS_V2: Readonly<Record<keyof MarketStateV2, Field>> = {
  id: UINT64,
  feed: 'address',
  price: INT256,
  roundId: UINT80,
  updatedAt: UINT64,
  priceDecimals: UINT8,
  longOpenInterest: UINT256,
  shortOpenInterest: UINT256,
  fundingIndex: INT256,
  fundingRate: INT256,
  lastFundingTime: UINT64,
  initialMarginRatio: UINT256,
  maintenanceMarginRatio: UINT256,
  liquidationFee: UINT256,
}
const PRICE_FIELDS = ['price', 'roundId', 'updatedAt', 'priceDecimals'] as const

type Entry = Record<string, Uint8Array | bigint | string>
type Fields = Readonly<Record<string, Field>>

/** One entry as validated values (addresses as bytes, integers as bigint); unknown and missing fields rejected. */
function entryIn(o: unknown, fields: Fields, what: string): Entry {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidInputError(`${what} must be an object with ${Object.keys(fields).join(', ')}`)
  for (const k of Object.keys(o)) if (!Object.hasOwn(fields, k)) throw new InvalidInputError(`${what} has unknown field ${JSON.stringify(k)}; allowed: ${Object.keys(fields).join(', ')}`)
  const out: Entry = {}
  for (const [k, f] of Object.entries(fields)) {
    const v = (o as Record<string, unknown>)[k]
    if (f === 'symbol') {
      if (typeof v !== 'string' || !SYMBOL_PATTERN.test(v)) throw new InvalidInputError(`${what}.${k} must be a string of at most 32 printable ASCII characters ("" when unknown), got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v}`)
      out[k] = v
    } else out[k] = f === 'address' ? addressToBytes(v as string, `${what}.${k}`) : checkInt(v, f, `${what}.${k}`)
  }
  return out
}

function entryOut(e: Entry): Record<string, unknown> {
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === 'bigint' ? intToIpld(v) : v]))
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0)

function encodeMarketsWith(m: { assets: unknown; markets: unknown }, assetFields: Fields, marketFields: Fields): unknown {
  if (m === null || typeof m !== 'object') throw new InvalidInputError('market state must be an object with assets and markets')
  for (const k of Object.keys(m)) if (k !== 'assets' && k !== 'markets') throw new InvalidInputError(`market state has unknown field ${JSON.stringify(k)}; allowed: assets, markets`)
  const assets = sortUnique(
    list<unknown>(m.assets, 'assets').map((a, i) => {
      const e = entryIn(a, assetFields, `assets[${i}]`)
      if ((e.haircutBps as bigint) > 10000n) throw new InvalidInputError(`assets[${i}].haircutBps is ${e.haircutBps}; a haircut counts at most 10000 bps (full value)`)
      if (isZero(e.feed as Uint8Array)) {
        for (const k of PRICE_FIELDS) if (e[k] !== 0n) throw new InvalidInputError(`assets[${i}] has no feed (valued at par) but ${k} ${e[k]}; an asset without a feed has price, roundId, updatedAt and priceDecimals 0`)
      }
      return e
    }),
    (a, b) => compareBytes(a.asset as Uint8Array, b.asset as Uint8Array),
    'assets',
    '',
    (x) => `asset ${bytesToHex(x.asset as Uint8Array)}`,
  )
  const markets = sortUnique(
    list<unknown>(m.markets, 'markets').map((x, i) => entryIn(x, marketFields, `markets[${i}]`)),
    (a, b) => cmpBig(a.id as bigint, b.id as bigint),
    'markets',
    '',
    (x) => `market ${x.id}`,
  )
  return { assets: assets.map(entryOut), markets: markets.map(entryOut) }
}

/** Entry of a stored block: exactly the fields, addresses 20 bytes, integers under the integer rule, symbols under SYMBOL_PATTERN. */
function entryFrom(o: unknown, fields: Fields, what: string): Record<string, string | bigint> {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) throw new MalformedBlockError(`market-state block is malformed: ${what} is not a map`)
  const keys = Object.keys(o)
  if (keys.length !== Object.keys(fields).length || !keys.every((k) => Object.hasOwn(fields, k))) throw new MalformedBlockError(`market-state block is malformed: ${what} must have exactly ${Object.keys(fields).join(', ')}`)
  const out: Record<string, string | bigint> = {}
  for (const [k, f] of Object.entries(fields)) {
    const v = (o as Record<string, unknown>)[k]
    if (f === 'symbol') {
      if (typeof v === 'string' && SYMBOL_PATTERN.test(v)) out[k] = v
      else throw new MalformedBlockError(`market-state block is malformed: ${what}.${k} is not a string of at most 32 printable ASCII characters`)
    } else if (f !== 'address') out[k] = intFromIpld(v, f, `${what}.${k}`)
    else if (v instanceof Uint8Array && v.length === 20) out[k] = bytesToHex(v)
    else throw new MalformedBlockError(`market-state block is malformed: ${what}.${k} is not a 20-byte address`)
  }
  return out
}

/**
 * The market-state codec of schema v2 (and, with a symbol per asset, v3) over
 * its field tables. Decode is the strict inverse of encode: given the block's
 * bytes, it requires them to be exactly the canonical encoding of the decoded
 * value (so integral floats, unsorted map keys and the like are rejected,
 * §2.1); without them it compares with the re-encoded value.
 */
export function pricedMarketCodec<M extends { assets: object[]; markets: object[] }>(assetFields: Fields, marketFields: Fields): MarketCodec<M> {
  const encode = (m: M): unknown => encodeMarketsWith(m, assetFields, marketFields)
  const decode = (v: unknown, bytes?: Uint8Array): M => {
    const bad = (why: string): never => {
      throw new MalformedBlockError(`market-state block is malformed: ${why}`)
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('expected {assets, markets}')
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length !== 2 || !Array.isArray(o.assets) || !Array.isArray(o.markets)) bad('expected exactly {assets, markets}, both arrays')
    const out = {
      assets: (o.assets as unknown[]).map((a, i) => entryFrom(a, assetFields, `assets[${i}]`)),
      markets: (o.markets as unknown[]).map((m, i) => entryFrom(m, marketFields, `markets[${i}]`)),
    } as unknown as M
    let canonical: Uint8Array
    try {
      canonical = dagCbor.encode(encode(out))
    } catch (cause) {
      if (cause instanceof ArkError) bad(cause.message)
      throw cause
    }
    if (!equalBytes(canonical!, bytes ?? dagCbor.encode(v))) bad('entries are unsorted or duplicated, or the block is not in canonical dag-cbor form')
    return out
  }
  const json = (e: object, fields: Fields): Record<string, string> =>
    Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f === 'address' ? String((e as Record<string, unknown>)[k]).toLowerCase() : String((e as Record<string, unknown>)[k])]))
  return {
    encode,
    decode,
    toJSON: (m) => ({ assets: m.assets.map((a) => json(a, assetFields)), markets: m.markets.map((x) => json(x, marketFields)) }),
    identity: { assets: ['asset'], markets: ['id'] },
    openInterest: (m) => (m.markets as unknown as MarketStateV2[]).map((x) => ({ market: x.id, long: x.longOpenInterest, short: x.shortOpenInterest })),
  }
}

export const derivativesMarketsV2: MarketCodec<DerivativesMarketsV2> = pricedMarketCodec<DerivativesMarketsV2>(ASSET_FIELDS_V2, MARKET_FIELDS_V2)

/** Schema `ark.derivatives.account` version 2: version 1's records and leaf, the v2 market state. */
export const derivativesSchemaV2: RecordSchema<AccountRecord, DerivativesMarketsV2> & LeafHashFromBytes = {
  ...derivativesSchema,
  version: 2,
  markets: derivativesMarketsV2,
}

/** A decoded market state carries the v2 fields (pricing and lastFundingTime). */
export function isMarketsV2(m: { assets: readonly object[]; markets: readonly object[] }): m is DerivativesMarketsV2 {
  return m.assets.every((a) => 'feed' in a && 'priceDecimals' in a) && m.markets.every((x) => 'feed' in x && 'lastFundingTime' in x)
}
