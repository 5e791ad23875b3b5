/**
 * Black-Scholes prices and greeks of European options (analytics, not
 * consensus: IEEE doubles, but only +, −, ×, ÷, Math.sqrt (correctly rounded)
 * and Math.exp/Math.log, evaluated in a fixed order, so one build gives the
 * same bits for the same inputs). Conventions in snapshot/risk/RISK.md.
 */

const SQRT_PI = Math.sqrt(Math.PI)
const SQRT2 = Math.SQRT2
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

/** Terms of the erfc continued fraction evaluated (backwards, fixed depth: no data-dependent stopping). */
const CF_TERMS = 400

/**
 * erfc(z) for z >= 0: below 2 from erf's power series
 * erf(z) = 2/√π · e^{−z²} · Σ_{n≥0} 2ⁿ z^{2n+1} / (1·3·…·(2n+1)) (positive terms, no cancellation);
 * from 2 up, the continued fraction erfc(z) = e^{−z²}/√π · 1/(z + ½/(z + 1/(z + 3⁄2/(z + …)))).
 */
function erfcNonNegative(z: number): number {
  if (z < 2) {
    const z2 = 2 * z * z
    let term = z
    let sum = z
    for (let n = 1; n < 200; n++) {
      term *= z2 / (2 * n + 1)
      sum += term
      if (term < sum * 1e-17) break
    }
    return 1 - ((2 / SQRT_PI) * Math.exp(-z * z) * sum)
  }
  if (z > 27) return 0
  let t = z
  for (let n = CF_TERMS; n >= 1; n--) t = z + n / 2 / t
  return Math.exp(-z * z) / (SQRT_PI * t)
}

/** Standard normal cumulative distribution N(x). */
export function normCdf(x: number): number {
  if (Number.isNaN(x)) return NaN
  const z = x / SQRT2
  return x < 0 ? erfcNonNegative(-z) / 2 : 1 - erfcNonNegative(z) / 2
}

/** Standard normal density φ(x). */
export function normPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-(x * x) / 2)
}

export interface OptionInput {
  isCall: boolean
  /** spot and strike in quote per unit of underlying */
  spot: number
  strike: number
  /** time to expiry in years (<= 0: expired, valued at intrinsic) */
  years: number
  /** annualised volatility (0.8 = 80 %) */
  vol: number
  /** continuously compounded risk-free rate per year (default 0) */
  rate?: number
}

export interface Greeks {
  /** option value per unit of underlying, in quote */
  price: number
  /** ∂price/∂spot: [0, 1] for calls, [−1, 0] for puts */
  delta: number
  /** ∂²price/∂spot², per quote unit of spot */
  gamma: number
  /** ∂price/∂t per calendar day (365-day year): usually negative */
  theta: number
  /** ∂price/∂vol per volatility point (0.01) */
  vega: number
}

/**
 * Black-Scholes with a flat volatility and rate, no dividends:
 * d1 = (ln(S/K) + (r + σ²/2)T) / (σ√T), d2 = d1 − σ√T,
 * call = S·N(d1) − K·e^{−rT}·N(d2), put = K·e^{−rT}·N(−d2) − S·N(−d1).
 * At or after expiry, or with zero volatility, the value is the discounted
 * intrinsic value and delta is 0 or ±1 (½ exactly at the money), other greeks 0.
 */
export function blackScholes(o: OptionInput): Greeks {
  const S = o.spot
  const K = o.strike
  const T = o.years
  const r = o.rate ?? 0
  const sigma = o.vol
  if (!(S > 0) || !(K > 0) || !Number.isFinite(T) || !(sigma >= 0) || !Number.isFinite(sigma) || !Number.isFinite(r)) {
    throw new RangeError(`Black-Scholes needs spot > 0, strike > 0, finite years and vol >= 0 (got spot ${S}, strike ${K}, years ${T}, vol ${sigma})`)
  }
  const sqrtT = T > 0 ? Math.sqrt(T) : 0
  const sd = sigma * sqrtT
  const df = T > 0 ? Math.exp(-r * T) : 1
  if (!(sd > 0)) {
    const fwdK = K * df
    const call = Math.max(S - fwdK, 0)
    const price = o.isCall ? call : Math.max(fwdK - S, 0)
    const itm = S > fwdK ? 1 : S < fwdK ? 0 : 0.5
    return { price, delta: o.isCall ? itm : itm - 1, gamma: 0, theta: 0, vega: 0 }
  }
  const d1 = (Math.log(S / K) + (r + (sigma * sigma) / 2) * T) / sd
  const d2 = d1 - sd
  const pdf = normPdf(d1)
  const Nd1 = normCdf(d1)
  const Nd2 = normCdf(d2)
  const gamma = pdf / (S * sd)
  const vega = (S * pdf * sqrtT) / 100
  const decay = -(S * pdf * sigma) / (2 * sqrtT)
  if (o.isCall) {
    const price = S * Nd1 - K * df * Nd2
    return { price, delta: Nd1, gamma, theta: (decay - r * K * df * Nd2) / 365, vega }
  }
  const price = K * df * normCdf(-d2) - S * normCdf(-d1)
  return { price, delta: -normCdf(-d1), gamma, theta: (decay + r * K * df * normCdf(-d2)) / 365, vega }
}
