/**
 * The fixed incident behind test/vectors/restitution-v1.json: two snapshots
 * of one scope (reference derivatives schema v1, collateral balances) and an
 * exclusion list, and the function that computes every vector from them.
 * Generated once by running computeRestitutionVectors() and committing the
 * output. NEVER regenerate the file to make a test pass: it pins the
 * restitution table's consensus encoding (root block, list block, tree,
 * leaves, Merkle root).
 */
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { exclusionsFrom } from '../../snapshot/restitution/exclusions.ts'
import { buildRestitution } from '../../snapshot/restitution/build.ts'
import { restitutionLeafHash } from '../../snapshot/restitution/leaf.ts'
import { Restitution } from '../../snapshot/restitution/open.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { GOLDEN_MARKETS, GOLDEN_META } from '../snapshot/golden-fixture.ts'

export const USDC = '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48'
export const WBTC = '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599'
const ATTACKER = '0xbad0000000000000000000000000000000000bad'
const ALSO_EXCLUDED = '0x00000000000000000000000000000000000000e1' // excluded but never held anything

const rec = (collateral: [string, bigint][]): AccountRecord => ({ collateral: collateral.map(([asset, amount]) => ({ asset, amount })), perps: [], options: [] })

export const BEFORE_META = GOLDEN_META
export const AFTER_META = { ...GOLDEN_META, block: { ...GOLDEN_META.block, number: 130n, hash: `0x${'33'.repeat(32)}`, timestamp: 1700000360n } }

export const BEFORE: { key: string; record: AccountRecord }[] = [
  { key: '0x1000000000000000000000000000000000000001', record: rec([[USDC, 1_000_000_000n], [WBTC, 5n]]) }, // loses 600 USDC, keeps WBTC
  { key: '0x2000000000000000000000000000000000000002', record: rec([[USDC, 200_000_000n]]) }, // emptied: gone after
  { key: ATTACKER, record: rec([[USDC, 10n]]) }, // excluded
  { key: '0x4000000000000000000000000000000000000004', record: rec([[WBTC, 3n]]) }, // gains: no row
  { key: '0x6000000000000000000000000000000000000006', record: rec([[WBTC, 1n << 200n], [USDC, 1n]]) }, // big-integer loss in WBTC, USDC untouched
  { key: '0x0000000000000000000000000000000000000000', record: rec([[USDC, 7n]]) }, // address(0): reserved, never a row
]

export const AFTER: { key: string; record: AccountRecord }[] = [
  { key: '0x1000000000000000000000000000000000000001', record: rec([[USDC, 400_000_000n], [WBTC, 5n]]) },
  { key: ATTACKER, record: rec([[USDC, 9_999_999_999n]]) },
  { key: '0x4000000000000000000000000000000000000004', record: rec([[WBTC, 7n]]) },
  { key: '0x5000000000000000000000000000000000000005', record: rec([[USDC, 5n]]) }, // new after: no row
  { key: '0x6000000000000000000000000000000000000006', record: rec([[WBTC, 1n], [USDC, 1n]]) },
]

export const EXCLUDED = [ATTACKER, ALSO_EXCLUDED]

export async function incident(store = new MemoryBlockStore()) {
  const { snapshot: before } = await buildSnapshot({ schema: derivativesSchema, meta: BEFORE_META, markets: GOLDEN_MARKETS, records: BEFORE, store })
  const { snapshot: after } = await buildSnapshot({ schema: derivativesSchema, meta: AFTER_META, markets: GOLDEN_MARKETS, records: AFTER, store })
  return { store, before, after }
}

export async function computeRestitutionVectors(): Promise<Record<string, unknown>> {
  const { store, before, after } = await incident()
  const table = await buildRestitution({ before, after, exclusions: exclusionsFrom(EXCLUDED), store })
  const opened = await Restitution.open(store, table.cid)
  const blocks: { cid: string; hex: string }[] = []
  for await (const cid of opened.blockCids()) blocks.push({ cid: cid.toString(), hex: bytesToHex(store.get(cid)) })
  return {
    before: before.cid.toString(),
    after: after.cid.toString(),
    exclusionsHash: table.root.exclusions.hash,
    rootCid: table.cid.toString(),
    merkleRoot: table.root.root,
    blocks,
    leaves: table.leaves.map((e) => ({ account: bytesToHex(e.account), asset: bytesToHex(e.asset), amount: e.amount.toString(), leafHash: bytesToHex(restitutionLeafHash(e)) })),
  }
}
