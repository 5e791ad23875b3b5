/**
 * Shared fixtures and fast-check arbitraries for the snapshot-engine tests.
 * Deliberately independent of snapshot/synth (a separate generator): these
 * arbitraries are small, fast and aimed at edge cases (values above 2^64,
 * negative sizes, keys sharing long prefixes).
 */
import fc from 'fast-check'
import { expect } from 'vitest'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { AccountRecord, DerivativesMarkets, OptionPosition, PerpPosition, Collateral } from '../../snapshot/schema/derivatives.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot, type RecordInput } from '../../snapshot/state/build.ts'
import type { SnapshotMeta } from '../../snapshot/state/root.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

export const META: SnapshotMeta = {
  block: { chainId: 31337n, number: 100n, hash: `0x${'11'.repeat(32)}`, timestamp: 1700000000n },
  adapter: { id: 'test', version: '1', configHash: `0x${'22'.repeat(32)}` },
}

export const EMPTY_MARKETS: DerivativesMarkets = { assets: [], markets: [] }

export const ASSET_A = `0x${'a0'.repeat(20)}`
export const ASSET_B = `0x${'b0'.repeat(20)}`

export const MARKETS: DerivativesMarkets = {
  assets: [
    { asset: ASSET_B, haircutBps: 8000n, decimals: 8n },
    { asset: ASSET_A, haircutBps: 10000n, decimals: 6n },
  ],
  markets: [
    {
      id: 2n,
      price: 3_000_00000000n,
      roundId: (1n << 64n) + 5n,
      updatedAt: 1699999990n,
      priceDecimals: 8n,
      longOpenInterest: 10n ** 21n,
      shortOpenInterest: 9n * 10n ** 20n,
      fundingIndex: -(10n ** 18n),
      fundingRate: -1234n,
      initialMarginRatio: 10n ** 17n,
      maintenanceMarginRatio: 5n * 10n ** 16n,
      liquidationFee: 10n ** 16n,
    },
    {
      id: 1n,
      price: 60_000_00000000n,
      roundId: 42n,
      updatedAt: 1699999999n,
      priceDecimals: 8n,
      longOpenInterest: 5n * 10n ** 18n,
      shortOpenInterest: 4n * 10n ** 18n,
      fundingIndex: 123456789n,
      fundingRate: 777n,
      initialMarginRatio: 10n ** 17n,
      maintenanceMarginRatio: 5n * 10n ** 16n,
      liquidationFee: 10n ** 16n,
    },
  ],
}

export const schema = derivativesSchema

export const hex = (b: Uint8Array): string => bytesToHex(b)

// ---------------------------------------------------------------- arbitraries

const U64 = 1n << 64n
const U256_MAX = (1n << 256n) - 1n
const I256_MIN = -(1n << 255n)
const I256_MAX = (1n << 255n) - 1n

/** uint256 > 0, biased to both sides of the CBOR-integer limit 2^64. */
export const arbAmount: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 1n, max: 1000n }),
  fc.bigInt({ min: 1n, max: U64 - 1n }),
  fc.bigInt({ min: U64, max: U256_MAX }),
  fc.constantFrom(U64 - 1n, U64, U64 + 1n, U256_MAX, 1n << 70n),
)

/** uint256 including zero. */
export const arbUint256: fc.Arbitrary<bigint> = fc.oneof(fc.constant(0n), arbAmount)

/** int256, including negatives beyond -2^64. */
export const arbInt256: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.bigInt({ min: -U64, max: U64 - 1n }),
  fc.bigInt({ min: I256_MIN, max: I256_MAX }),
  fc.constantFrom(-U64, -U64 - 1n, U64 - 1n, U64, I256_MIN, I256_MAX),
)

export const arbNonZeroInt256: fc.Arbitrary<bigint> = arbInt256.filter((x) => x !== 0n)

export const arbUint64: fc.Arbitrary<bigint> = fc.oneof(fc.bigInt({ min: 0n, max: 20n }), fc.bigInt({ min: 0n, max: U64 - 1n }))

const ASSET_POOL = [ASSET_A, ASSET_B, `0x${'c0'.repeat(20)}`, `0x${'0c'.repeat(20)}`, `0x${'ff'.repeat(20)}`]

/** A collateral asset address: mostly from a small pool (so records share assets), sometimes random, random case. */
export const arbAsset: fc.Arbitrary<string> = fc
  .tuple(fc.oneof(fc.constantFrom(...ASSET_POOL), fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hex)), fc.boolean())
  .map(([a, upper]) => (upper ? `0x${a.slice(2).toUpperCase()}` : a))

const arbCollateral: fc.Arbitrary<Collateral> = fc.record({ asset: arbAsset, amount: arbAmount })
const arbPerp: fc.Arbitrary<PerpPosition> = fc.record({ market: arbUint64, size: arbNonZeroInt256, entryPrice: arbUint256, fundingIndex: arbInt256 })
const arbOption: fc.Arbitrary<OptionPosition> = fc.record({ market: arbUint64, isCall: fc.boolean(), strike: arbUint256, expiry: arbUint64, size: arbNonZeroInt256 })

/** A non-empty account (an empty account is not a state: it is omitted). */
export const arbRecord: fc.Arbitrary<AccountRecord> = fc
  .tuple(
    fc.record({
      collateral: fc.uniqueArray(arbCollateral, { maxLength: 3, selector: (c) => c.asset.toLowerCase() }),
      perps: fc.uniqueArray(arbPerp, { maxLength: 2, selector: (p) => p.market }),
      options: fc.uniqueArray(arbOption, { maxLength: 2, selector: (o) => `${o.market}/${o.isCall}/${o.strike}/${o.expiry}` }),
    }),
    arbCollateral,
  )
  .map(([r, c]) => (r.collateral.length + r.perps.length + r.options.length === 0 ? { ...r, collateral: [c] } : r))

const PREFIX = Uint8Array.of(0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42)

/** 20-byte account key: uniform, or sharing a 7-byte prefix (beyond the 48-bit sort shortcut). */
export const arbKey: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 20, maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 13, maxLength: 13 }).map((tail) => {
      const k = new Uint8Array(20)
      k.set(PREFIX)
      k.set(tail, 7)
      return k
    }),
  },
)

export interface Account {
  key: Uint8Array
  record: AccountRecord
}

export function arbAccounts(minLength: number, maxLength: number): fc.Arbitrary<Account[]> {
  return fc.uniqueArray(fc.record({ key: arbKey, record: arbRecord }), { minLength, maxLength, size: 'max', selector: (a) => hex(a.key) })
}

// ---------------------------------------------------------------- helpers

/** Small deterministic PRNG (mulberry32) so one fast-check integer drives shuffles and splits. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function shuffle<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Split into consecutive chunks of random sizes (1..maxChunk). */
export function chunks<T>(items: readonly T[], rand: () => number, maxChunk: number): T[][] {
  const out: T[][] = []
  let i = 0
  while (i < items.length) {
    const n = 1 + Math.floor(rand() * maxChunk)
    out.push(items.slice(i, i + n))
    i += n
  }
  return out
}

export function sortAccounts<T extends { key: Uint8Array }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => Buffer.compare(a.key, b.key))
}

export async function build(
  records: Iterable<RecordInput<AccountRecord>> | AsyncIterable<RecordInput<AccountRecord>>,
  opts: { store?: MemoryBlockStore; sorted?: boolean; markets?: DerivativesMarkets; meta?: SnapshotMeta } = {},
): Promise<{ snapshot: Snapshot<AccountRecord, DerivativesMarkets>; stats: { newBlocks: number; newBytes: number }; store: MemoryBlockStore }> {
  const store: MemoryBlockStore = opts.store ?? new MemoryBlockStore()
  const { snapshot, stats } = await buildSnapshot({ schema, meta: opts.meta ?? META, markets: opts.markets ?? EMPTY_MARKETS, records, store, sorted: opts.sorted ?? false })
  return { snapshot, stats, store }
}

export async function cidSet(s: Snapshot<unknown, unknown>): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const c of s.blockCids()) out.add(c.toString())
  return out
}

/** The incremental result must be byte-identical to the full rebuild of the resulting set. */
export async function expectSameAsRebuild(incremental: Snapshot<unknown, unknown>, rebuilt: Snapshot<unknown, unknown>): Promise<void> {
  expect(incremental.root.stateRoot).toBe(rebuilt.root.stateRoot)
  expect(incremental.root.accountCount).toBe(rebuilt.root.accountCount)
  expect(incremental.root.accounts?.toString()).toBe(rebuilt.root.accounts?.toString())
  expect(incremental.cid.toString()).toBe(rebuilt.cid.toString())
}

/** Fast-check options: bounded time even when a failure shrinks (large inputs shrink slowly). */
export function fcOpts(numRuns: number): { numRuns: number; interruptAfterTimeLimit: number; markInterruptAsFailure: boolean } {
  return { numRuns, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: true }
}
