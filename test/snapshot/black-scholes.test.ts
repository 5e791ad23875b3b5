/**
 * Black-Scholes analytics (snapshot/risk/black-scholes.ts): the normal CDF
 * against reference values, textbook prices and greeks, put-call parity,
 * bounds and signs as properties, greeks against finite differences of the
 * price, and an independent numerical integration of the payoff.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { blackScholes, normCdf, normPdf, type OptionInput } from '../../snapshot/risk/black-scholes.ts'

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300)

describe('normal distribution', () => {
  it('matches reference values of N(x) to ~1e-14 relative', () => {
    // Φ(x) to 16-17 significant digits (e.g. Abramowitz & Stegun table 26.1, scipy.special.ndtr)
    const table: [number, number][] = [
      [0, 0.5],
      [0.5, 0.6914624612740131],
      [1, 0.8413447460685429],
      [1.96, 0.9750021048517795],
      [2.5, 0.9937903346742238],
      [-1, 0.15865525393145707],
      [-2, 0.022750131948179195],
      [-3, 0.0013498980316300946],
      [-5, 2.866515718791939e-7],
      [-10, 7.61985302416047e-24],
    ]
    for (const [x, y] of table) expect(rel(normCdf(x), y), `N(${x})`).toBeLessThan(2e-14)
    expect(normCdf(-40)).toBe(0)
    expect(normCdf(40)).toBe(1)
    expect(normPdf(0)).toBeCloseTo(0.3989422804014327, 15)
  })

  it('property: N(x) + N(−x) = 1, monotone, derivative is φ', () => {
    fc.assert(
      fc.property(fc.double({ min: -8, max: 8, noNaN: true }), (x) => {
        expect(Math.abs(normCdf(x) + normCdf(-x) - 1)).toBeLessThan(1e-15)
        expect(normCdf(x + 1e-3)).toBeGreaterThanOrEqual(normCdf(x))
        const h = 1e-5
        expect(Math.abs((normCdf(x + h) - normCdf(x - h)) / (2 * h) - normPdf(x))).toBeLessThan(1e-9)
      }),
      { numRuns: 500 },
    )
  })
})

describe('Black-Scholes', () => {
  it('textbook values (Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, σ=20%, T=0.5)', () => {
    const o: OptionInput = { isCall: true, spot: 42, strike: 40, years: 0.5, vol: 0.2, rate: 0.1 }
    const c = blackScholes(o)
    const p = blackScholes({ ...o, isCall: false })
    expect(c.price).toBeCloseTo(4.76, 2)
    expect(p.price).toBeCloseTo(0.81, 2)
    expect(c.price).toBeCloseTo(4.759422392871532, 10)
    expect(p.price).toBeCloseTo(0.8085993729000922, 10)
    expect(c.delta).toBeCloseTo(0.7791, 4) // N(d1), d1 = 0.7693
    expect(p.delta).toBeCloseTo(0.7791 - 1, 4)
    // Hull's theta of this call is −4.56 per year
    expect(c.theta * 365).toBeCloseTo(-4.559, 3)
  })

  it('at the money with r = 0: call = put = S·(2N(σ√T/2) − 1)', () => {
    const g = blackScholes({ isCall: true, spot: 2000, strike: 2000, years: 0.25, vol: 0.8 })
    const exact = 2000 * (2 * normCdf((0.8 * 0.5) / 2) - 1)
    expect(rel(g.price, exact)).toBeLessThan(1e-13)
    expect(rel(blackScholes({ isCall: false, spot: 2000, strike: 2000, years: 0.25, vol: 0.8 }).price, exact)).toBeLessThan(1e-12)
  })

  it('expired or zero-vol options are worth their (discounted) intrinsic value, delta 0/±1, other greeks 0', () => {
    expect(blackScholes({ isCall: true, spot: 110, strike: 100, years: 0, vol: 0.5 })).toEqual({ price: 10, delta: 1, gamma: 0, theta: 0, vega: 0 })
    expect(blackScholes({ isCall: false, spot: 110, strike: 100, years: -1, vol: 0.5 })).toEqual({ price: 0, delta: 0, gamma: 0, theta: 0, vega: 0 })
    expect(blackScholes({ isCall: false, spot: 90, strike: 100, years: 0, vol: 0.5 })).toEqual({ price: 10, delta: -1, gamma: 0, theta: 0, vega: 0 })
    expect(blackScholes({ isCall: true, spot: 100, strike: 100, years: 0, vol: 0.5 }).delta).toBe(0.5)
    expect(() => blackScholes({ isCall: true, spot: 0, strike: 1, years: 1, vol: 1 })).toThrow(RangeError)
  })

  const arbOption = fc.record({
    isCall: fc.boolean(),
    spot: fc.double({ min: 1, max: 100_000, noNaN: true }),
    moneyness: fc.double({ min: 0.3, max: 3, noNaN: true }),
    years: fc.double({ min: 1 / 365, max: 3, noNaN: true }),
    vol: fc.double({ min: 0.05, max: 2, noNaN: true }),
    rate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  })
  const input = (a: { isCall: boolean; spot: number; moneyness: number; years: number; vol: number; rate: number }): OptionInput => ({ isCall: a.isCall, spot: a.spot, strike: a.spot * a.moneyness, years: a.years, vol: a.vol, rate: a.rate })

  it('property: put-call parity C − P = S − K·e^{−rT}, and delta_call − delta_put = 1', () => {
    fc.assert(
      fc.property(arbOption, (a) => {
        const o = input(a)
        const c = blackScholes({ ...o, isCall: true })
        const p = blackScholes({ ...o, isCall: false })
        const parity = o.spot - o.strike * Math.exp(-(o.rate ?? 0) * o.years)
        expect(Math.abs(c.price - p.price - parity)).toBeLessThan(1e-9 * o.spot)
        expect(Math.abs(c.delta - p.delta - 1)).toBeLessThan(1e-12)
        expect(c.gamma).toBe(p.gamma)
        expect(c.vega).toBe(p.vega)
      }),
      { numRuns: 500 },
    )
  })

  it('property: bounds and signs — delta in [0,1] (calls) / [−1,0] (puts), gamma ≥ 0, vega ≥ 0, no-arbitrage price bounds', () => {
    fc.assert(
      fc.property(arbOption, (a) => {
        const o = input(a)
        const g = blackScholes(o)
        const df = Math.exp(-(o.rate ?? 0) * o.years)
        if (o.isCall) {
          expect(g.delta).toBeGreaterThanOrEqual(0)
          expect(g.delta).toBeLessThanOrEqual(1)
          expect(g.price).toBeGreaterThanOrEqual(Math.max(o.spot - o.strike * df, 0) - 1e-9 * o.spot)
          expect(g.price).toBeLessThanOrEqual(o.spot * (1 + 1e-12))
        } else {
          expect(g.delta).toBeGreaterThanOrEqual(-1)
          expect(g.delta).toBeLessThanOrEqual(0)
          expect(g.price).toBeGreaterThanOrEqual(Math.max(o.strike * df - o.spot, 0) - 1e-9 * o.spot)
          expect(g.price).toBeLessThanOrEqual(o.strike * df * (1 + 1e-12))
        }
        expect(g.gamma).toBeGreaterThanOrEqual(0)
        expect(g.vega).toBeGreaterThanOrEqual(0)
        // with r = 0 an option only loses value as time passes
        if (o.rate === 0) expect(g.theta).toBeLessThanOrEqual(0)
        // deterministic: the same inputs give the same bits
        expect(blackScholes(o)).toEqual(g)
      }),
      { numRuns: 1000 },
    )
  })

  it('property: greeks agree with finite differences of the price', () => {
    fc.assert(
      fc.property(arbOption, (a) => {
        const o = input(a)
        const g = blackScholes(o)
        const price = (x: Partial<OptionInput>): number => blackScholes({ ...o, ...x }).price
        const hs = o.spot * 1e-4
        const fdDelta = (price({ spot: o.spot + hs }) - price({ spot: o.spot - hs })) / (2 * hs)
        const fdGamma = (price({ spot: o.spot + hs }) - 2 * g.price + price({ spot: o.spot - hs })) / (hs * hs)
        const fdVega = (price({ vol: o.vol + 1e-5 }) - price({ vol: o.vol - 1e-5 })) / 2e-5 / 100
        const dt = Math.min(1e-5, o.years / 10)
        const fdTheta = -(price({ years: o.years + dt }) - price({ years: o.years - dt })) / (2 * dt) / 365
        const scale = o.spot
        // the central difference is off by ~h²/6·∂³V/∂S³, which grows with gamma (short expiry, low vol)
        expect(Math.abs(fdDelta - g.delta)).toBeLessThan(1e-5 * (1 + g.gamma * scale))
        expect(Math.abs(fdGamma - g.gamma) * scale).toBeLessThan(1e-3 + 1e-3 * g.gamma * scale)
        expect(Math.abs(fdVega - g.vega)).toBeLessThan(1e-6 * scale)
        expect(Math.abs(fdTheta - g.theta)).toBeLessThan(1e-6 * scale)
      }),
      { numRuns: 300 },
    )
  })

  it('the price equals the discounted expected payoff under the lognormal law (independent numerical integration)', () => {
    const cases: OptionInput[] = [
      { isCall: true, spot: 2000, strike: 2200, years: 0.1, vol: 0.8 },
      { isCall: false, spot: 60_000, strike: 50_000, years: 1, vol: 0.6, rate: 0.03 },
      { isCall: true, spot: 1, strike: 0.5, years: 2, vol: 1.5, rate: 0.05 },
    ]
    for (const o of cases) {
      const r = o.rate ?? 0
      const sd = o.vol * Math.sqrt(o.years)
      const mu = Math.log(o.spot) + (r - (o.vol * o.vol) / 2) * o.years
      // Simpson's rule over z in [−10, 10] of payoff(e^{mu + sd z}) φ(z)
      const n = 200_000
      const h = 20 / n
      let sum = 0
      for (let i = 0; i <= n; i++) {
        const z = -10 + i * h
        const st = Math.exp(mu + sd * z)
        const payoff = o.isCall ? Math.max(st - o.strike, 0) : Math.max(o.strike - st, 0)
        const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2
        sum += w * payoff * normPdf(z)
      }
      const integral = (Math.exp(-r * o.years) * sum * h) / 3
      expect(rel(blackScholes(o).price, integral), JSON.stringify(o)).toBeLessThan(1e-7)
    }
  })
})
