import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot, type RecordInput } from '../../snapshot/state/build.ts'
import { checkMeta } from '../../snapshot/state/root.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { SYNTH_DEFAULTS, synthAccount, synthChangeCounts, synthChanges, synthKey, synthMarkets, synthMeta, synthRecords, type SynthOptions } from '../../snapshot/synth/synth.ts'

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? bytesToHex(x) : x))
const hex = (k: string | Uint8Array): string => (typeof k === 'string' ? k.toLowerCase() : bytesToHex(k))
const all = (opts: SynthOptions): RecordInput<AccountRecord>[] => [...synthRecords(opts)]
const TWO64 = 1n << 64n

function build(opts: SynthOptions, records: Iterable<RecordInput<AccountRecord>>, round = 0, sorted = false) {
  return buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts, round), markets: synthMarkets(opts, round), records, store: new MemoryBlockStore(), sorted })
}

describe('synth: determinism', () => {
  it('same seed gives the same records, meta and markets; 42 and "42" are one seed', () => {
    const a = all({ accounts: 300, seed: 42 })
    const b = all({ accounts: 300, seed: '42' })
    expect(json(a)).toBe(json(b))
    expect(json(synthMeta({ accounts: 300, seed: 42 }))).toBe(json(synthMeta({ accounts: 300, seed: '42' })))
    expect(json(synthMarkets({ accounts: 300, seed: 42 }))).toBe(json(synthMarkets({ accounts: 300, seed: '42' })))
    // a prefix of a larger run is the smaller run: account i depends on (seed, i) only
    expect(json(all({ accounts: 100, seed: 42 }))).toBe(json(a.slice(0, 100)))
    expect(json(synthAccount({ accounts: 300, seed: 42 }, 217))).toBe(json(a[217]))
    expect(hex(synthKey({ accounts: 300, seed: 42 }, 5))).toBe(hex(a[5]!.key))
  })

  it('matches golden digests (same output on every machine; change only with SYNTH_VERSION)', () => {
    const o = { accounts: 100, seed: 'ark' }
    const recs = all(o)
    const digest = (v: unknown): string => bytesToHex(keccak256(new TextEncoder().encode(json(v))))
    expect(hex(recs[0]!.key)).toBe('0x4c28f7db67a83897392021a6e1d82bffa2a870ca')
    expect(digest(recs)).toBe('0xacfe818971b9182a3e88385d8c3c965b3330fa6171b38ce65cad4940c2762887')
    expect(digest([synthMeta(o), synthMarkets(o), synthMeta(o, 2), synthMarkets(o, 2)])).toBe('0x9b32c430db8cd8232f3b54d5b0797ddc0b7ceca7e869c743a2efb1c86fe8bd0a')
  })

  it('different seeds and options give different state', () => {
    const a = all({ accounts: 200, seed: 'a' })
    const b = all({ accounts: 200, seed: 'b' })
    const keysA = new Set(a.map((r) => hex(r.key)))
    expect(b.some((r) => keysA.has(hex(r.key)))).toBe(false)
    expect(json(a.map((r) => r.record))).not.toBe(json(b.map((r) => r.record)))
    expect(synthMeta({ accounts: 200, seed: 'a' }).block.hash).not.toBe(synthMeta({ accounts: 200, seed: 'b' }).block.hash)
    expect(synthMeta({ accounts: 200, seed: 'a' }).adapter.configHash).not.toBe(synthMeta({ accounts: 201, seed: 'a' }).adapter.configHash)
    expect(json(synthMarkets({ accounts: 1, seed: 'a' }))).not.toBe(json(synthMarkets({ accounts: 1, seed: 'b' })))
  })

  it('meta is valid, seed-derived and advances per round', () => {
    const opts = { accounts: 10, seed: 'meta' }
    const m0 = checkMeta(synthMeta(opts))
    const m1 = checkMeta(synthMeta(opts, 1))
    expect(m0.block.chainId).toBe(31337n)
    expect(m0.adapter).toMatchObject({ id: 'synth', version: '1' })
    expect(m1.block.number).toBeGreaterThan(m0.block.number)
    expect(m1.block.timestamp).toBeGreaterThan(m0.block.timestamp)
    expect(m1.block.hash).not.toBe(m0.block.hash)
    expect(m1.adapter.configHash).toBe(m0.adapter.configHash)
  })
})

describe('synth: shape', () => {
  it('yields exactly N distinct 20-byte keys, not in key order', () => {
    const recs = all({ accounts: 5000, seed: 'shape' })
    expect(recs).toHaveLength(5000)
    const keys = recs.map((r) => hex(r.key))
    expect(keys.every((k) => k.length === 42)).toBe(true)
    expect(new Set(keys).size).toBe(5000)
    expect(keys).not.toEqual([...keys].sort())
  })

  it('every record, the markets and the meta encode under the derivatives schema', () => {
    const opts = { accounts: 5000, seed: 'encode' }
    for (const { key, record } of synthRecords(opts)) derivativesSchema.encode(record, `record of ${hex(key)}`)
    derivativesSchema.markets.encode(synthMarkets(opts))
    derivativesSchema.markets.encode(synthMarkets(opts, 3))
    checkMeta(synthMeta(opts))
  })

  it('has realistic proportions at N=5000', () => {
    const opts = { accounts: 5000, seed: 'dist' }
    const markets = SYNTH_DEFAULTS.markets
    let whales = 0
    let withOptions = 0
    let collateralOnly = 0
    let multiCollateral = 0
    let bigAmounts = 0
    let smallAmounts = 0
    let shorts = 0
    let negativeFunding = 0
    let bigNegative = 0
    const marketPrice = new Map(synthMarkets(opts).markets.map((m) => [m.id, m.price]))
    for (const { record: r } of synthRecords(opts)) {
      if (r.perps.length === markets && r.options.length >= 3) whales++
      if (r.options.length > 0) withOptions++
      if (r.perps.length === 0 && r.options.length === 0) collateralOnly++
      if (r.collateral.length > 1) multiCollateral++
      expect(r.collateral.length).toBeGreaterThan(0)
      for (const c of r.collateral) {
        if (c.amount >= TWO64) bigAmounts++
        else smallAmounts++
      }
      for (const p of r.perps) {
        if (p.size < 0n) shorts++
        if (p.size < -TWO64) bigNegative++
        if (p.fundingIndex < 0n) negativeFunding++
        // entry within ±10% (plus noise) of the market price
        const price = marketPrice.get(p.market)!
        expect(p.entryPrice * 100n).toBeGreaterThanOrEqual(price * 89n)
        expect(p.entryPrice * 100n).toBeLessThanOrEqual(price * 111n)
      }
      for (const o of r.options) {
        const price = marketPrice.get(o.market)!
        expect(o.strike).toBeGreaterThan(0n)
        expect(o.strike * 100n).toBeGreaterThan(price * 70n)
        expect(o.strike * 100n).toBeLessThan(price * 130n)
      }
    }
    expect(whales).toBeGreaterThan(50) // ~2%
    expect(whales).toBeLessThan(150)
    expect(withOptions).toBeGreaterThan(500) // ~15%
    expect(withOptions).toBeLessThan(1000)
    expect(collateralOnly).toBeGreaterThan(200) // ~10%
    expect(multiCollateral).toBeGreaterThan(750) // ~20%
    expect(multiCollateral).toBeLessThan(1250)
    expect(bigAmounts).toBeGreaterThan(100)
    expect(smallAmounts).toBeGreaterThan(100)
    expect(shorts).toBeGreaterThan(100)
    expect(bigNegative).toBeGreaterThan(10)
    expect(negativeFunding).toBeGreaterThan(100)
  })

  it('any small options produce valid, distinct, exact-count records', () => {
    fc.assert(
      fc.property(
        fc.record({ accounts: fc.integer({ min: 0, max: 40 }), seed: fc.oneof(fc.string(), fc.integer()), markets: fc.integer({ min: 1, max: 8 }), assets: fc.integer({ min: 1, max: 5 }) }),
        (opts) => {
          const recs = all(opts)
          expect(recs).toHaveLength(opts.accounts)
          expect(new Set(recs.map((r) => hex(r.key))).size).toBe(opts.accounts)
          for (const { record } of recs) derivativesSchema.encode(record, 'record')
          derivativesSchema.markets.encode(synthMarkets(opts))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('rejects bad options', () => {
    expect(() => all({ accounts: -1, seed: 1 })).toThrow(InvalidInputError)
    expect(() => all({ accounts: 1.5, seed: 1 })).toThrow(InvalidInputError)
    expect(() => all({ accounts: 1, seed: 1.5 })).toThrow(InvalidInputError)
    expect(() => all({ accounts: 1, seed: 1, markets: 0 })).toThrow(InvalidInputError)
    expect(() => synthChanges({ accounts: 10, seed: 1 }, 1.5, 0)).toThrow(InvalidInputError)
    expect(() => synthChanges({ accounts: 10, seed: 1 }, 0.1, -1)).toThrow(InvalidInputError)
    expect(() => synthKey({ accounts: 10, seed: 1 }, 10)).toThrow(InvalidInputError)
  })
})

describe('synth: snapshots', () => {
  it('builds the same CID whatever order the records arrive in', async () => {
    const opts = { accounts: 2000, seed: 'order' }
    const recs = all(opts)
    const byKey = [...recs].sort((a, b) => Buffer.compare(a.key as Uint8Array, b.key as Uint8Array))
    const a = await build(opts, synthRecords(opts))
    const b = await build(opts, [...recs].reverse())
    const c = await build(opts, byKey, 0, true)
    expect(a.snapshot.root.accountCount).toBe(2000)
    expect(b.snapshot.cid.toString()).toBe(a.snapshot.cid.toString())
    expect(c.snapshot.cid.toString()).toBe(a.snapshot.cid.toString())
    expect(c.snapshot.root.stateRoot).toBe(a.snapshot.root.stateRoot)
  })
})

describe('synth: changes', () => {
  const opts = { accounts: 2000, seed: 'changes' }

  it('are deterministic, distinct and of the requested size', () => {
    const base = new Set(all(opts).map((r) => hex(r.key)))
    const ch = synthChanges(opts, 0.05, 0)
    expect(json(ch)).toBe(json(synthChanges(opts, 0.05, 0)))
    expect(json(ch)).not.toBe(json(synthChanges(opts, 0.05, 1)))
    const counts = synthChangeCounts(opts, 0.05, 0)
    expect(counts.modified).toBe(100)
    expect(counts.added).toBeGreaterThan(0)
    expect(counts.removed).toBeGreaterThan(0)
    expect(ch).toHaveLength(counts.modified + counts.added + counts.removed)
    expect(new Set(ch.map((c) => hex(c.key))).size).toBe(ch.length)
    const modified = ch.filter((c) => c.record !== null && base.has(hex(c.key)))
    const added = ch.filter((c) => c.record !== null && !base.has(hex(c.key)))
    const removed = ch.filter((c) => c.record === null)
    expect(modified).toHaveLength(counts.modified)
    expect(added).toHaveLength(counts.added)
    expect(removed).toHaveLength(counts.removed)
    expect(removed.every((c) => base.has(hex(c.key)))).toBe(true)
    // a modification really changes the account
    const baseRecs = new Map(all(opts).map((r) => [hex(r.key), json(r.record)]))
    expect(modified.every((c) => baseRecs.get(hex(c.key)) !== json(c.record))).toBe(true)
    for (const c of ch) if (c.record !== null) derivativesSchema.encode(c.record, 'changed record')
  })

  it('rounds applied in sequence stay valid, including when removals run out', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 100 }), fc.string(), (accounts, pct, seed) => {
        const o = { accounts, seed }
        const state = new Map(all(o).map((r) => [hex(r.key), r.record]))
        for (let round = 0; round < 6; round++) {
          const ch = synthChanges(o, pct / 100, round)
          const counts = synthChangeCounts(o, pct / 100, round)
          expect(ch).toHaveLength(counts.modified + counts.added + counts.removed)
          expect(new Set(ch.map((c) => hex(c.key))).size).toBe(ch.length)
          let mods = 0
          for (const c of ch) {
            const k = hex(c.key)
            if (c.record === null) {
              expect(state.has(k)).toBe(true)
              state.delete(k)
            } else {
              if (state.has(k)) mods++
              state.set(k, c.record)
            }
          }
          expect(mods).toBe(counts.modified)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('applyChanges over them equals a full rebuild, one round and several in sequence', async () => {
    const recs = all(opts)
    const base = await build(opts, recs)
    const state = new Map(recs.map((r) => [hex(r.key), r]))
    let prev = base.snapshot
    for (let round = 1; round <= 3; round++) {
      const ch = synthChanges(opts, 0.02, round)
      for (const c of ch) {
        if (c.record === null) state.delete(hex(c.key))
        else state.set(hex(c.key), { key: c.key, record: c.record })
      }
      const next = await applyChanges(prev, ch, { meta: synthMeta(opts, round), markets: synthMarkets(opts, round) })
      const full = await build(opts, state.values(), round)
      expect(next.snapshot.root.accountCount).toBe(state.size)
      expect(next.snapshot.cid.toString()).toBe(full.snapshot.cid.toString())
      expect(next.snapshot.root.stateRoot).toBe(full.snapshot.root.stateRoot)
      prev = next.snapshot
    }
  })
})
