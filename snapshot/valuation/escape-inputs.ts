import { abiEncode } from '../abi/encode.ts'
import { ArkError } from '../ark-error.ts'
import { bytesToHex, equalBytes, hexToBytes } from '../codec/hex.ts'
import { InvalidInputError } from '../errors.ts'
import { marketLeafProof } from '../merkle/composed-root.ts'
import { processProof, standardLeafHash } from '../merkle/standard-tree.ts'
import { abiValueToJSON } from '../proof/format.ts'
import { proveAccount } from '../proof/prove.ts'
import { ProofInvalidError } from '../proof/verify.ts'
import type { DerivativesMarketsV2 } from '../schema/derivatives-v2.ts'
import type { AccountRecord } from '../schema/derivatives.ts'
import { ACCOUNT_LEAF_V4, ASSET_LEAF_V4, ASSET_TAG_V4, BLOCK_LEAF_V4, BLOCK_TAG_V4, MARKET_LEAF_V4, MARKET_TAG_V4 } from '../schema/derivatives-v4.ts'
import type { Snapshot } from '../state/snapshot.ts'
import { escapeValue, valuationContext, type EscapeValuation } from './escape-value.ts'
import { requireValuation } from './offered.ts'

/**
 * Everything a contract needs to value one account of a v4 snapshot (SPEC §1.5.2): the account
 * leaf, the leaves of the assets it holds and the markets it has positions in, the block leaf,
 * each with its MerkleProof.verify proof against stateRoot, and the valuation they give. Leaf
 * values are in JSON form (integers as decimal strings, bytes 0x-hex), in leaf-encoding order.
 */
export interface EscapeInputs {
  stateRoot: string
  account: ProvenLeaf
  assets: ProvenLeaf[]
  markets: ProvenLeaf[]
  block: ProvenLeaf
  /** the valuation (decimal strings), EscapeValuation field by field */
  valuation: Record<keyof EscapeValuation, string>
}
export interface ProvenLeaf {
  value: unknown[]
  proof: string[]
}

const json = (values: unknown[]): unknown[] => values.map(abiValueToJSON)

export function valuationJSON(v: EscapeValuation): Record<keyof EscapeValuation, string> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, (x as bigint).toString()])) as Record<keyof EscapeValuation, string>
}

/** The escape inputs of `key` in a snapshot whose schema offers valuation (v4). */
export async function escapeInputs(s: Snapshot<unknown, unknown>, key: Uint8Array): Promise<EscapeInputs> {
  requireValuation(s.schema)
  const p = await proveAccount(s, key)
  const record = s.schema.fromJSON(p.record).record as AccountRecord
  const markets = (await s.markets()) as DerivativesMarketsV2
  const mt = (await s.marketsTree())!
  const accountsRoot = (await s.merkle())?.root ?? null
  const assetSet = new Set(record.collateral.map((c) => c.asset.toLowerCase()))
  const marketSet = new Set([...record.perps.map((x) => x.market), ...record.options.map((x) => x.market)])
  const pick = (kind: string, keep: (values: unknown[]) => boolean): ProvenLeaf[] =>
    mt.leaves.flatMap((l, i) => (l.kind === kind && keep(l.values) ? [{ value: json(l.values), proof: marketLeafProof(mt, i, accountsRoot).map(bytesToHex) }] : []))
  const assets = pick('asset', (v) => assetSet.has(bytesToHex(v[1] as Uint8Array)))
  const mks = pick('market', (v) => marketSet.has(v[1] as bigint))
  const [block] = pick('block', () => true)
  if (assets.length !== assetSet.size || mks.length !== marketSet.size) throw new ArkError('ROOT_MISMATCH', `account ${bytesToHex(key)} refers to an asset or market the snapshot's market state does not list; the snapshot is inconsistent, run verify`)
  return { stateRoot: p.stateRoot, account: { value: p.value, proof: p.proof }, assets, markets: mks, block: block!, valuation: valuationJSON(escapeValue(valuationContext(markets, s.root.block.timestamp), record)) }
}

const big = (v: unknown, what: string): bigint => {
  if (typeof v !== 'string' || !/^-?[0-9]{1,78}$/.test(v)) throw new InvalidInputError(`${what} must be a decimal string`)
  return BigInt(v)
}
const arr = (v: unknown, what: string): unknown[] => {
  if (!Array.isArray(v)) throw new InvalidInputError(`${what} must be an array`)
  return v
}

function checkLeaf(l: ProvenLeaf, encoding: readonly string[], root: Uint8Array, what: string): void {
  if (l === null || typeof l !== 'object' || !Array.isArray(l.value) || !Array.isArray(l.proof) || l.value.length !== encoding.length) throw new InvalidInputError(`${what} must be {value: [${encoding.length} values], proof: [...]}`)
  const leaf = standardLeafHash(abiEncode(encoding, l.value))
  if (!equalBytes(processProof(leaf, l.proof.map((h, i) => hexToBytes(h, `${what}.proof[${i}]`, 32))), root)) throw new ProofInvalidError(`${what}: the proof does not lead to stateRoot; the value or proof was altered`)
}

/**
 * Check escape inputs as EscapeValuation.verifiedValue does (every leaf proven against
 * `expectedRoot`, tags right) and recompute the valuation from the leaf values alone; throws
 * ProofInvalidError/InvalidInputError, also when the stated valuation differs from the recomputed one.
 */
export function verifyEscapeInputs(e: EscapeInputs, expectedRoot: string): EscapeValuation {
  const root = hexToBytes(expectedRoot, 'stateRoot', 32)
  if (e === null || typeof e !== 'object' || !equalBytes(hexToBytes(String(e.stateRoot), 'valuation stateRoot', 32), root)) throw new ProofInvalidError(`the valuation inputs are for stateRoot ${String(e?.stateRoot)}, not ${expectedRoot}`)
  checkLeaf(e.account, ACCOUNT_LEAF_V4, root, 'valuation account')
  arr(e.assets, 'valuation assets').forEach((l, i) => checkLeaf(l as ProvenLeaf, ASSET_LEAF_V4, root, `valuation assets[${i}]`))
  arr(e.markets, 'valuation markets').forEach((l, i) => checkLeaf(l as ProvenLeaf, MARKET_LEAF_V4, root, `valuation markets[${i}]`))
  checkLeaf(e.block, BLOCK_LEAF_V4, root, 'valuation block')
  const tagIs = (l: ProvenLeaf, t: Uint8Array, what: string): void => {
    if (String(l.value[0]).toLowerCase() !== bytesToHex(t)) throw new ProofInvalidError(`${what} is not a leaf of that kind (its tag is ${String(l.value[0])})`)
  }
  e.assets.forEach((l, i) => tagIs(l, ASSET_TAG_V4, `valuation assets[${i}]`))
  e.markets.forEach((l, i) => tagIs(l, MARKET_TAG_V4, `valuation markets[${i}]`))
  tagIs(e.block, BLOCK_TAG_V4, 'valuation block')
  const v = e.account.value
  const ints = (x: unknown, what: string): bigint[] => arr(x, what).map((y, i) => big(y, `${what}[${i}]`))
  const assets = arr(v[2], 'assets').map(String)
  const amounts = ints(v[3], 'amounts')
  const pm = ints(v[4], 'perpMarkets')
  const ps = ints(v[5], 'perpSizes')
  const pe = ints(v[6], 'perpEntryPrices')
  const pf = ints(v[7], 'perpFundingIndexes')
  const om = ints(v[8], 'optionMarkets')
  const oc = arr(v[9], 'optionIsCall')
  const ok = ints(v[10], 'optionStrikes')
  const oe = ints(v[11], 'optionExpiries')
  const os = ints(v[12], 'optionSizes')
  const record: AccountRecord = {
    collateral: assets.map((asset, i) => ({ asset, amount: amounts[i]! })),
    perps: pm.map((market, i) => ({ market, size: ps[i]!, entryPrice: pe[i]!, fundingIndex: pf[i]! })),
    options: om.map((market, i) => ({ market, isCall: oc[i] === true, strike: ok[i]!, expiry: oe[i]!, size: os[i]! })),
  }
  const markets: DerivativesMarketsV2 = {
    assets: e.assets.map(({ value: a }) => ({ asset: String(a[1]), haircutBps: big(a[2], 'haircutBps'), decimals: big(a[3], 'decimals'), feed: String(a[4]), price: big(a[5], 'price'), roundId: big(a[6], 'roundId'), updatedAt: big(a[7], 'updatedAt'), priceDecimals: big(a[8], 'priceDecimals') })),
    markets: e.markets.map(({ value: m }) => ({
      id: big(m[1], 'id'), feed: String(m[2]), price: big(m[3], 'price'), roundId: big(m[4], 'roundId'), updatedAt: big(m[5], 'updatedAt'), priceDecimals: big(m[6], 'priceDecimals'),
      longOpenInterest: big(m[7], 'longOpenInterest'), shortOpenInterest: big(m[8], 'shortOpenInterest'), fundingIndex: big(m[9], 'fundingIndex'), fundingRate: big(m[10], 'fundingRate'),
      lastFundingTime: big(m[11], 'lastFundingTime'), initialMarginRatio: big(m[12], 'initialMarginRatio'), maintenanceMarginRatio: big(m[13], 'maintenanceMarginRatio'), liquidationFee: big(m[14], 'liquidationFee'),
    })),
  }
  const got = escapeValue(valuationContext(markets, big(e.block.value[4], 'block timestamp')), record)
  const stated = e.valuation as Record<string, unknown> | undefined
  for (const [k, x] of Object.entries(valuationJSON(got))) {
    if (stated?.[k] !== x) throw new ProofInvalidError(`the valuation's ${k} is ${String(stated?.[k])} but its proven inputs give ${x}; the valuation was altered`)
  }
  return got
}
