/*
 * Over ~400 lines on purpose: one deterministic generator (seeded words, accounts, markets, changes)
 * whose parts share the same seed schedule; split, the schedule would have to be exported and kept in
 * step across files, and every golden vector that uses synthetic state depends on it.
 */
import { bytesToHex } from '../codec/hex.ts'
import { keccak256 } from '../codec/keccak.ts'
import { InvalidInputError } from '../errors.ts'
import type { AccountRecord, Collateral, DerivativesMarkets, MarketState, OptionPosition, PerpPosition } from '../schema/derivatives.ts'
import type { Change, RecordInput } from '../state/build.ts'
import type { SnapshotMeta } from '../state/root.ts'
import { fmix32 } from '../tree/params.ts'

/**
 * Deterministic synthetic derivatives-protocol state for the CLI
 * (`ark snapshot synth`), tests and benchmarks.
 *
 * Everything is a function of (seed, options) only: no clocks, no
 * Math.random, no floating point in generated values. Randomness comes from
 * keccak256 over a domain-separated input (seed digest ‖ tag ‖ round ‖ index)
 * for the per-seed parameters, and from a keyed 32-bit integer mix of the
 * account index feeding a small integer PRNG (sfc32) per account, so account
 * i can be regenerated on its own: its key and record depend on (seed, i)
 * and nothing else.
 *
 * Changing anything here changes every synthetic snapshot CID; tests and
 * benchmarks that pin CIDs must be updated with it (`SYNTH_VERSION`).
 */
export interface SynthOptions {
  /** number of accounts (0 ≤ accounts < 2^32) */
  accounts: number
  /** any string or safe integer; 42 and '42' are the same seed */
  seed: string | number
  /** number of perp/option markets, ids 1..markets (default 4, at most 64) */
  markets?: number
  /** number of collateral assets (default 3, at most 32) */
  assets?: number
}

export const SYNTH_DEFAULTS = Object.freeze({ markets: 4, assets: 3 })

/** Bumped whenever generated output changes for the same options. */
export const SYNTH_VERSION = 1

export const SYNTH_CHAIN_ID = 31337n
export const SYNTH_ADAPTER_ID = 'synth'
export const SYNTH_ADAPTER_VERSION = '1'

const MAX_MARKETS = 64
const MAX_ASSETS = 32

// Domain tags: the byte after the seed digest in every hash input.
const TAG_ACCOUNT = 0
const TAG_ADDED = 1
const TAG_MODIFY = 2
const TAG_MARKET = 3
const TAG_ASSET = 4
const TAG_BLOCK = 5
const TAG_PERMUTE = 6

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 32-bit integer ops only. */
class Rng {
  private a = 0
  private b = 0
  private c = 0
  private d = 0

  /** Seed from three uniformly random words (so no warm-up is needed). */
  seed(a: number, b: number, c: number): void {
    this.a = a | 0
    this.b = b | 0
    this.c = c | 0
    this.d = 1
  }

  /** Seed from 12 bytes of a hash at `off`. */
  seedBytes(h: Uint8Array, off: number): void {
    const w = (o: number): number => h[off + o]! | (h[off + o + 1]! << 8) | (h[off + o + 2]! << 16) | (h[off + o + 3]! << 24)
    this.seed(w(0), w(4), w(8))
  }

  u32(): number {
    const t0 = (this.a + this.b) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.d = (this.d + 1) | 0
    const t = (t0 + this.d) | 0
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Integer in [0, n) for 0 < n ≤ 2^32 (modulo bias < n/2^32, irrelevant here and deterministic). */
  below(n: number): number {
    return this.u32() % n
  }

  /** Integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1))
  }

  /** True with probability per/10000. */
  chance(per10k: number): boolean {
    return this.u32() % 10000 < per10k
  }
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i))

interface MarketParams {
  id: bigint
  /** oracle price, 8 decimals, as an exact integer Number (≤ 1e13) */
  price: number
  /** floor(log10(price in USD)): sizes scale with it so notionals stay realistic */
  pd: number
  /** option strike grid step and the at-the-money strike, 8 decimals */
  step: number
  atm: number
  fundingIndex: bigint
  fundingRate: bigint
  imr: bigint
  phase: bigint
  baseRound: number
}

interface Ctx {
  seed: Uint8Array
  accounts: number
  markets: number
  assets: number
  /** reusable hash input: seed digest (32) ‖ tag (1) ‖ round u32be ‖ index u32be */
  buf: Uint8Array
  view: DataView
  assetHex: string[]
  mk: MarketParams[]
  blockNumber: bigint
  timestamp: bigint
  /** option expiries (unix seconds): Fridays 08:00 UTC after the base block */
  expiries: bigint[]
  /** domain words of the base accounts */
  base: Uint32Array
}

function checkCount(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidInputError(`synth ${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  }
  return v
}

function seedString(seed: unknown): string {
  if (typeof seed === 'string') return seed
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) return String(seed)
  throw new InvalidInputError(`synth seed must be a string or a safe integer, got ${typeof seed === 'number' ? String(seed) : typeof seed}`)
}


/** Eight words per (tag, round) domain: keccak256(seed digest ‖ tag ‖ round ‖ 0xffffffff). */
function domain(ctx: Ctx, tag: number, round: number): Uint32Array {
  const h = hashInput(ctx, tag, round, 0xffffffff)
  const v = new DataView(h.buffer, h.byteOffset, 32)
  return Uint32Array.from({ length: 8 }, (_, i) => v.getUint32(i * 4))
}

function putWord(key: Uint8Array, at: number, x: number): void {
  key[at] = x >>> 24
  key[at + 1] = x >>> 16
  key[at + 2] = x >>> 8
  key[at + 3] = x
}

/**
 * Account `index` of a domain: a fresh 20-byte key, and `rng` seeded for its
 * record. The first key word is a keyed bijection of the index, so keys of
 * one domain never collide; each later word (and the PRNG seed) mixes in
 * more domain words, so keys of different domains (base accounts, each
 * round's additions) coincide with probability ~2^-128. One keccak per
 * domain, then a dozen integer mixes per account: a keccak per account
 * (hash-wasm, ~1.1 µs a call) would eat half the 1M-record budget.
 */
function derive(d: Uint32Array, index: number, rng: Rng | null): Uint8Array {
  const k0 = fmix32(fmix32((index ^ d[0]!) >>> 0) ^ d[1]!)
  const k1 = fmix32(k0 ^ d[2]!)
  const k2 = fmix32(k1 ^ d[3]!)
  const k3 = fmix32(k2 ^ d[4]!)
  const k4 = fmix32(k3 ^ d[5]!)
  const key = new Uint8Array(20)
  putWord(key, 0, k0)
  putWord(key, 4, k1)
  putWord(key, 8, k2)
  putWord(key, 12, k3)
  putWord(key, 16, k4)
  if (rng !== null) {
    const a = fmix32(k4 ^ d[6]!)
    const b = fmix32(a ^ d[7]!)
    rng.seed(a, b, fmix32(b ^ d[0]! ^ d[1]!))
  }
  return key
}

function hashInput(ctx: Ctx, tag: number, round: number, index: number): Uint8Array {
  ctx.buf[32] = tag
  ctx.view.setUint32(33, round)
  ctx.view.setUint32(37, index)
  return keccak256(ctx.buf)
}

function normalize(opts: SynthOptions): { seed: string; accounts: number; markets: number; assets: number } {
  if (opts === null || typeof opts !== 'object') throw new InvalidInputError('synth options must be an object {accounts, seed, markets?, assets?}')
  return {
    seed: seedString(opts.seed),
    accounts: checkCount(opts.accounts, 'accounts', 0, 0xffffffff),
    markets: checkCount(opts.markets ?? SYNTH_DEFAULTS.markets, 'markets', 1, MAX_MARKETS),
    assets: checkCount(opts.assets ?? SYNTH_DEFAULTS.assets, 'assets', 1, MAX_ASSETS),
  }
}

function makeCtx(opts: SynthOptions): Ctx {
  const n = normalize(opts)
  const seed = keccak256(new TextEncoder().encode(`ark.synth.v${SYNTH_VERSION}:${n.seed}`))
  const buf = new Uint8Array(41)
  buf.set(seed, 0)
  const ctx: Ctx = { seed, accounts: n.accounts, markets: n.markets, assets: n.assets, buf, view: new DataView(buf.buffer), assetHex: [], mk: [], blockNumber: 0n, timestamp: 0n, expiries: [], base: new Uint32Array(8) }
  ctx.base = domain(ctx, TAG_ACCOUNT, 0)
  const rng = new Rng()

  // block: number in [19_000_000, 21_000_000), 12-second slots from 2024-01-01T00:00Z
  rng.seedBytes(hashInput(ctx, TAG_BLOCK, 0, 0), 0)
  const number = 19_000_000 + rng.below(2_000_000)
  const timestamp = 1_704_067_200 + (number - 19_000_000) * 12
  ctx.blockNumber = BigInt(number)
  ctx.timestamp = BigInt(timestamp)
  // next Friday 08:00 UTC (epoch day 0 was a Thursday; Friday 08:00 = 115200 s), then weekly and monthly
  const WEEK = 604_800
  const since = timestamp - 115_200
  const first = 115_200 + since - (since % WEEK) + WEEK
  ctx.expiries = [0, 1, 2, 3, 5, 9, 13].map((w) => BigInt(first + w * WEEK))

  for (let i = 0; i < n.assets; i++) ctx.assetHex.push(bytesToHex(hashInput(ctx, TAG_ASSET, 0, i).subarray(12)))

  for (let i = 0; i < n.markets; i++) {
    rng.seedBytes(hashInput(ctx, TAG_MARKET, 0, i), 0)
    // market 1 trades like BTC, market 2 like ETH, the rest between $0.10 and $9,999
    const pd = i === 0 ? 4 : i === 1 ? 3 : rng.range(-1, 3)
    const price = rng.range(1_000_000, 9_999_999) * Number(POW10[pd + 2]!)
    // strike step: 5, 10 or 20 × 10^(pd+6), i.e. 2-5% of the price (price is in [100, 1000) × 10^(pd+6))
    const unit = Number(POW10[pd + 6]!)
    const step = price < 200 * unit ? 5 * unit : price < 500 * unit ? 10 * unit : 20 * unit
    const atm = price - (price % step)
    ctx.mk.push({
      id: BigInt(i + 1),
      price,
      pd,
      step,
      atm,
      fundingIndex: BigInt(rng.u32() | 0) * 1_000_000n + BigInt(rng.u32()),
      fundingRate: BigInt((rng.u32() | 0) >> 8),
      imr: BigInt(rng.range(20, 200)) * 10n ** 15n,
      phase: BigInt(rng.range(1, 6)),
      baseRound: rng.range(1_000, 100_000),
    })
  }
  return ctx
}

/**
 * ±(m × 10^e + dust) with a 9-digit mantissa m and 6 digits of dust below it
 * (dust scaled like m): never zero, spread over magnitudes. The 15 leading
 * digits are exact in a Number, so a value costs one BigInt and at most one
 * multiplication.
 */
function amount(rng: Rng, e: number, negative: boolean): bigint {
  const head = rng.range(100_000_000, 999_999_999) * 1_000_000 + rng.below(1_000_000)
  const v = negative ? -head : head
  return e >= 6 ? BigInt(v) * POW10[e - 6]! : BigInt(v)
}

function collateral(ctx: Ctx, rng: Rng, count: number, whale: boolean): Collateral[] {
  const out: Collateral[] = []
  const picked: number[] = []
  // an 18-decimal amount: 0.01 to 10^6 tokens (whales 10^4 to 10^9); above 18.4 tokens it is > 2^64
  const eLo = whale ? 14 : 8
  const eHi = whale ? 18 : 15
  while (out.length < count) {
    // asset 0 (the stablecoin) is the most common single collateral
    const a = out.length === 0 && !whale && rng.chance(6000) ? 0 : rng.below(ctx.assets)
    if (picked.includes(a)) continue
    picked.push(a)
    out.push({ asset: ctx.assetHex[a]!, amount: amount(rng, rng.range(eLo, eHi), false) })
  }
  return out
}

function perp(ctx: Ctx, rng: Rng, m: number, whale: boolean): PerpPosition {
  const mk = ctx.mk[m]!
  // notional 10..10^6 USD (whales 10^5..10^8): size exponent shifts down as price grows
  const e = whale ? rng.range(15, 17) - mk.pd : rng.range(11, 15) - mk.pd
  const size = amount(rng, e, rng.chance(5000))
  // entry within ±10% of the market price, in 0.1% steps, plus sub-step noise
  const entry = mk.price + ((mk.price - (mk.price % 1000)) / 1000) * rng.range(-100, 100) + rng.below(1000)
  return {
    market: mk.id,
    size,
    entryPrice: BigInt(entry),
    // index at last settlement: behind or ahead of the market's by up to ~2^31 × 1e6, either sign
    fundingIndex: mk.fundingIndex + BigInt((rng.u32() | 0) * 1_000_000),
  }
}

function perps(ctx: Ctx, rng: Rng, count: number): PerpPosition[] {
  const first = rng.below(ctx.markets)
  const out = [perp(ctx, rng, first, false)]
  if (count > 1 && ctx.markets > 1) out.push(perp(ctx, rng, (first + 1 + rng.below(ctx.markets - 1)) % ctx.markets, false))
  return out
}

function options(ctx: Ctx, rng: Rng, count: number, whale: boolean): OptionPosition[] {
  const out: OptionPosition[] = []
  const series: number[] = []
  const nExp = ctx.expiries.length
  while (out.length < count) {
    const m = rng.below(ctx.markets)
    const call = rng.below(2)
    const k = rng.range(-4, 4)
    const x = rng.below(nExp)
    const s = ((m * 2 + call) * 9 + (k + 4)) * nExp + x
    if (series.includes(s)) continue
    series.push(s)
    const mk = ctx.mk[m]!
    const e = whale ? rng.range(14, 16) - mk.pd : rng.range(10, 14) - mk.pd
    const size = amount(rng, e, rng.chance(4000))
    out.push({
      market: mk.id,
      isCall: call === 1,
      // ATM ± 4 steps; steps are ≤ 5% of the price so every strike is positive
      strike: BigInt(mk.atm + k * mk.step),
      expiry: ctx.expiries[x]!,
      size,
    })
  }
  return out
}

/**
 * One account from a seeded PRNG. Shapes: 2% whales (every asset, every
 * market, 3-8 options); otherwise 80% one collateral asset, 20% two or three;
 * 10% collateral only; the rest 1-2 perps (65/35), of whom 15% also hold
 * options and a third of those hold options only.
 */
function account(ctx: Ctx, rng: Rng): AccountRecord {
  if (rng.chance(200)) {
    const ps: PerpPosition[] = []
    for (let m = 0; m < ctx.markets; m++) ps.push(perp(ctx, rng, m, true))
    return { collateral: collateral(ctx, rng, ctx.assets, true), perps: ps, options: options(ctx, rng, rng.range(3, 8), true) }
  }
  const nColl = ctx.assets === 1 || rng.chance(8000) ? 1 : Math.min(ctx.assets, rng.range(2, 3))
  const coll = collateral(ctx, rng, nColl, false)
  if (rng.chance(1000)) return { collateral: coll, perps: [], options: [] }
  const hasOptions = rng.chance(1500)
  const nPerps = hasOptions && rng.chance(3300) ? 0 : rng.chance(6500) ? 1 : 2
  return {
    collateral: coll,
    perps: nPerps === 0 ? [] : perps(ctx, rng, nPerps),
    options: hasOptions ? options(ctx, rng, rng.range(1, 3), false) : [],
  }
}

/** Same account, later: every collateral amount and position size moved (never to zero, never unchanged). */
function modify(rec: AccountRecord, rng: Rng): AccountRecord {
  const scale = (v: bigint, lo: number, hi: number): bigint => {
    const neg = v < 0n
    const mag = ((neg ? -v : v) * BigInt(rng.range(lo, hi))) / 1000n + BigInt(rng.range(1, 1_000_000))
    return neg ? -mag : mag
  }
  return {
    collateral: rec.collateral.map((c) => ({ asset: c.asset, amount: scale(c.amount, 500, 1500) })),
    perps: rec.perps.map((p) => ({ market: p.market, size: scale(p.size, 200, 2000), entryPrice: p.entryPrice, fundingIndex: p.fundingIndex + BigInt(rng.u32()) })),
    options: rec.options.map((o) => ({ ...o, size: scale(o.size, 200, 2000) })),
  }
}

function baseAccount(ctx: Ctx, rng: Rng, index: number): RecordInput<AccountRecord> & { key: Uint8Array } {
  const key = derive(ctx.base, index, rng)
  return { key, record: account(ctx, rng) }
}

/**
 * The market state for the synthetic protocol. Round 0 is the base state the
 * records were generated against; round r > 0 is the same markets r
 * checkpoints later (prices drifted, new oracle rounds, funding accrued).
 */
export function synthMarkets(opts: SynthOptions, round = 0): DerivativesMarkets {
  const ctx = makeCtx(opts)
  checkCount(round, 'round', 0, 0xffffffff)
  const rng = new Rng()
  const meta = synthMeta(opts, round)
  const markets: MarketState[] = ctx.mk.map((mk, i) => {
    rng.seedBytes(hashInput(ctx, TAG_MARKET, round, i), 12)
    const price = round === 0 ? mk.price : mk.price + ((mk.price - (mk.price % 1000)) / 1000) * rng.range(-80, 80)
    const r = BigInt(round)
    // open interest: $10^8-10^9 notional, 18 decimals
    const oi = (): bigint => BigInt(rng.range(100_000_000, 999_999_999)) * POW10[18 - mk.pd]! + BigInt(rng.u32())
    return {
      id: mk.id,
      price: BigInt(price),
      // Chainlink round id: phase in the top 16 bits, aggregator round below (> 2^64)
      roundId: (mk.phase << 64n) + BigInt(mk.baseRound) + r * 12n + BigInt(rng.below(12)),
      updatedAt: meta.block.timestamp - BigInt(rng.below(3600)),
      priceDecimals: 8n,
      longOpenInterest: oi(),
      shortOpenInterest: oi(),
      fundingIndex: mk.fundingIndex + mk.fundingRate * 3600n * r,
      fundingRate: mk.fundingRate,
      initialMarginRatio: mk.imr,
      maintenanceMarginRatio: mk.imr / 2n,
      liquidationFee: mk.imr / 10n,
    }
  })
  return {
    assets: ctx.assetHex.map((asset, i) => {
      rng.seedBytes(hashInput(ctx, TAG_ASSET, 0, i), 0)
      // asset 0 is the full-value stablecoin; others count 80-95%
      return { asset, haircutBps: i === 0 ? 10_000n : BigInt(rng.range(80, 95) * 100), decimals: 18n }
    }),
    markets,
  }
}

/**
 * Snapshot metadata: anvil's chain id, a block derived from the seed (round r
 * is 300 blocks = one hour per round later), adapter `synth` v1 and a config
 * hash over the normalized seed and options.
 */
export function synthMeta(opts: SynthOptions, round = 0): SnapshotMeta {
  const n = normalize(opts)
  const ctx = makeCtx(opts)
  checkCount(round, 'round', 0, 0xffffffff)
  const config = `ark.synth.v${SYNTH_VERSION}|seed=${bytesToHex(ctx.seed)}|accounts=${n.accounts}|markets=${n.markets}|assets=${n.assets}`
  return {
    block: {
      chainId: SYNTH_CHAIN_ID,
      number: ctx.blockNumber + BigInt(round) * 300n,
      hash: bytesToHex(hashInput(ctx, TAG_BLOCK, round, 1)),
      timestamp: ctx.timestamp + BigInt(round) * 3600n,
    },
    adapter: { id: SYNTH_ADAPTER_ID, version: SYNTH_ADAPTER_VERSION, configHash: bytesToHex(keccak256(new TextEncoder().encode(config))) },
  }
}

/**
 * Exactly `accounts` records with distinct 20-byte keys (account i's key is a
 * keyed integer mix of i under words from keccak256 of the seed; see derive),
 * yielded by index
 * — an order that looks random in key space, never sorted. Keys are
 * Uint8Array; each record is a fresh object.
 */
export function* synthRecords(opts: SynthOptions): Generator<RecordInput<AccountRecord>> {
  const ctx = makeCtx(opts)
  const rng = new Rng()
  for (let i = 0; i < ctx.accounts; i++) yield baseAccount(ctx, rng, i)
}

function checkIndex(ctx: Ctx, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= ctx.accounts) throw new InvalidInputError(`synth account index must be an integer in [0, ${ctx.accounts}), got ${String(index)}`)
}

/** Key of base account `index` (0 ≤ index < accounts) without generating any record. */
export function synthKey(opts: SynthOptions, index: number): Uint8Array {
  const ctx = makeCtx(opts)
  checkIndex(ctx, index)
  return derive(ctx.base, index, null)
}

/** Base account `index` alone: the same key and record synthRecords yields at that position. */
export function synthAccount(opts: SynthOptions, index: number): RecordInput<AccountRecord> & { key: Uint8Array } {
  const ctx = makeCtx(opts)
  checkIndex(ctx, index)
  return baseAccount(ctx, new Rng(), index)
}

export interface SynthChangeCounts {
  modified: number
  added: number
  removed: number
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

/** A seed-chosen affine permutation of [0, n): x ↦ (a·x + b) mod n with gcd(a, n) = 1. */
function affine(ctx: Ctx, round: number, kind: number, n: number): (x: number) => number {
  if (n <= 1) return () => 0
  const rng = new Rng()
  rng.seedBytes(hashInput(ctx, TAG_PERMUTE, round, kind), 0)
  const N = BigInt(n)
  let a = BigInt(1 + rng.below(n - 1))
  while (gcd(a, N) !== 1n) a = a + 1n === N ? 1n : a + 1n
  const b = BigInt(rng.below(n))
  return (x) => Number((a * BigInt(x) + b) % N)
}

function changePlan(ctx: Ctx, fraction: number, round: number): SynthChangeCounts & { extras: number } {
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new InvalidInputError(`synth change fraction must be a number in [0, 1], got ${String(fraction)}`)
  checkCount(round, 'round', 0, 0xffffffff)
  const n = ctx.accounts
  const modified = Math.round(n * fraction)
  const extras = Math.ceil(modified / 20)
  const removed = Math.max(0, Math.min(extras, n - modified - round * extras))
  return { modified, added: extras, removed, extras }
}

/** How many accounts synthChanges(opts, fraction, round) modifies, adds and removes. */
export function synthChangeCounts(opts: SynthOptions, fraction: number, round: number): SynthChangeCounts {
  const { modified, added, removed } = changePlan(makeCtx(opts), fraction, round)
  return { modified, added, removed }
}

/**
 * A deterministic change set for incremental-update benchmarks, a function of
 * (seed, options, fraction, round):
 * - modifies round(accounts × fraction) existing accounts (same positions,
 *   new collateral amounts, sizes and funding indexes);
 * - adds ceil(modified / 20) new accounts (keys outside the base set);
 * - removes up to as many existing accounts.
 * All keys are distinct. Every round is valid against the base state
 * (synthRecords), and rounds 0, 1, …, r applied in sequence with the same
 * fraction are valid too: removals walk through a seed-fixed permutation of
 * the accounts from its tail, modifications are drawn only from accounts no
 * round up to r removes, and additions never repeat. Once removals would eat
 * into the accounts needed for modifications they stop.
 * Nothing is materialized beyond the changed accounts themselves.
 */
export function synthChanges(opts: SynthOptions, fraction: number, round: number): Change<AccountRecord>[] {
  const ctx = makeCtx(opts)
  const plan = changePlan(ctx, fraction, round)
  const n = ctx.accounts
  const order = affine(ctx, 0, 0, n)
  // positions [tailStart, tailEnd) of `order` are this round's removals; [0, live) never removed so far
  const tailEnd = Math.max(plan.modified, n - round * plan.extras)
  const live = tailEnd - plan.removed
  const pick = affine(ctx, round, 1, live)
  const rng = new Rng()
  const modDomain = domain(ctx, TAG_MODIFY, round)
  const addDomain = domain(ctx, TAG_ADDED, round)
  const out: Change<AccountRecord>[] = []
  for (let j = 0; j < plan.modified; j++) {
    const i = order(pick(j))
    const base = baseAccount(ctx, rng, i)
    derive(modDomain, i, rng)
    out.push({ key: base.key, record: modify(base.record, rng) })
  }
  for (let j = 0; j < plan.removed; j++) out.push({ key: derive(ctx.base, order(live + j), null), record: null })
  for (let j = 0; j < plan.added; j++) {
    const key = derive(addDomain, j, rng)
    out.push({ key, record: account(ctx, rng) })
  }
  return out
}
