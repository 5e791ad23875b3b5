import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { checkInt, int, intFromIpld, intToIpld, INT128, INT256, rangeOf, uint, UINT128 } from '../../snapshot/codec/int.ts'

describe('integer rule', () => {
  it('round-trips every int256 through dag-cbor with one encoding', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 255n), max: (1n << 255n) - 1n }), (v) => {
        const bytes = dagCbor.encode(intToIpld(v))
        expect(intFromIpld(dagCbor.decode(bytes), INT256, 'v')).toBe(v)
      }),
    )
  })
  it('rejects a big-integer byte string that fits a CBOR integer', () => {
    expect(() => intFromIpld(Uint8Array.of(0, 1), INT256, 'v')).toThrow(/fits a CBOR integer/)
  })
  it('rejects floats', () => {
    expect(() => intFromIpld(1.5, INT256, 'v')).toThrow(/not an integer/)
  })
})

describe('integer kinds of every Solidity width (issue 12: uint128 had to be written by hand)', () => {
  it('uint(N) / int(N) for N = 8..256 in steps of 8 have the Solidity ranges, one shared object per kind', () => {
    for (let bits = 8; bits <= 256; bits += 8) {
      const n = BigInt(bits)
      expect(rangeOf(uint(bits))).toEqual([0n, (1n << n) - 1n])
      expect(rangeOf(int(bits))).toEqual([-(1n << (n - 1n)), (1n << (n - 1n)) - 1n])
      expect(uint(bits)).toBe(uint(bits))
      expect(Object.isFrozen(int(bits))).toBe(true)
    }
    expect(uint(128)).toBe(UINT128)
    expect(int(128)).toBe(INT128)
  })
  it('checks values at the edges of uint128 / int128 / int24 and round-trips them through dag-cbor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.boolean(), fc.bigInt({ min: -(1n << 256n), max: 1n << 256n }), (w, signed, v) => {
        const kind = signed ? int(w * 8) : uint(w * 8)
        const [min, max] = rangeOf(kind)
        if (v < min || v > max) {
          expect(() => checkInt(v, kind, 'x')).toThrow(new RegExp(`out of range for ${signed ? 'int' : 'uint'}${w * 8}`))
          return
        }
        expect(intFromIpld(dagCbor.decode(dagCbor.encode(intToIpld(v))), kind, 'x')).toBe(v)
      }),
    )
    expect(checkInt((1n << 128n) - 1n, UINT128, 'x')).toBe((1n << 128n) - 1n)
    expect(() => checkInt(1n << 128n, UINT128, 'x')).toThrow(/uint128/)
    expect(() => checkInt(-(1n << 23n) - 1n, int(24), 'tick')).toThrow(/tick = -8388609 is out of range for int24/)
  })
  it('refuses widths that are not Solidity types', () => {
    for (const bad of [0, 7, 12, 264, 1.5]) expect(() => uint(bad)).toThrow(/not a Solidity integer type; widths are 8\.\.256 in steps of 8/)
  })
})
