// Small helpers: HTML built from templates with every interpolated value escaped, amounts in units.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c])

class Raw {
  constructor(s) {
    this.s = s
  }
  toString() {
    return this.s
  }
}
export const raw = (s) => new Raw(s)

const part = (v) => (v instanceof Raw ? v.s : Array.isArray(v) ? v.map(part).join('') : v === undefined || v === null || v === false ? '' : escape(v))

/** html`<p>${value}</p>`: values are escaped; raw() and nested html`` pass through. */
export function html(strings, ...values) {
  let s = strings[0]
  values.forEach((v, i) => (s += part(v) + strings[i + 1]))
  return new Raw(s)
}

/** An integer string with `decimals` decimal places, grouped (exact: bigint arithmetic). */
export function units(value, decimals) {
  let v = BigInt(value)
  const neg = v < 0n
  if (neg) v = -v
  const d = decimals === undefined ? 0 : Number(decimals)
  const base = 10n ** BigInt(d)
  const whole = (v / base).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  let frac = d === 0 ? '' : (v % base).toString().padStart(d, '0').replace(/0+$/, '')
  if (frac.length > 6) frac = frac.slice(0, 6) + '…'
  return `${neg ? '−' : ''}${whole}${frac === '' ? '' : `.${frac}`}`
}

export const short = (hex, n = 10) => (typeof hex === 'string' && hex.length > 2 * n + 3 ? `${hex.slice(0, n + 2)}…${hex.slice(-n + 2)}` : String(hex))

export function time(seconds) {
  if (seconds === undefined) return '…'
  const d = new Date(Number(seconds) * 1000)
  return `${d.toISOString().replace('T', ' ').slice(0, 19)} UTC`
}

export const verified = (label = 'verified in this browser') => html`<span class="badge ok">✔ ${label}</span>`
export const failed = (label) => html`<span class="badge bad">✘ ${label}</span>`
export const reported = (label = 'reported by this node') => html`<span class="badge reported">${label}</span>`

/** Asset decimals from a summary's market state (assets[].decimals), when it lists them. */
export function assetDecimals(markets) {
  const out = new Map()
  for (const a of markets?.assets ?? []) if (typeof a.asset === 'string' && a.decimals !== undefined) out.set(a.asset.toLowerCase(), Number(a.decimals))
  return out
}
