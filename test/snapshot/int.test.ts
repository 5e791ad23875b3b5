import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { intFromIpld, intToIpld, INT256 } from '../../snapshot/codec/int.ts'

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
