// A line chart as inline SVG: one series per asset over checkpoints (x: block), incidents marked.
import { escape } from './format.js'

const COLORS = ['#0b5cad', '#8a4a00', '#1d7a33', '#6a2c91', '#8a1408', '#00676b']

/**
 * series: [{ name, points: [{ x: bigint-able, y: number }] }]; marks: [{ x, label }] drawn as
 * red dashed lines; band: { from, to } shaded. Values are scaled per series (each to its own
 * max) so assets of different sizes share one chart; the table beside it has the exact numbers.
 */
export function lineChart({ title, series, marks = [], band }) {
  const W = 640
  const H = 290
  const L = 48
  const R = 12
  const T = 24
  const B = 56
  const xs = series.flatMap((s) => s.points.map((p) => Number(p.x)))
  if (xs.length === 0) return `<p class="muted">No data to chart yet.</p>`
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs, x0 + 1)
  const sx = (x) => L + ((Number(x) - x0) / (x1 - x0)) * (W - L - R)
  const sy = (v) => T + (1 - v) * (H - T - B)
  const out = [`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title"><title id="chart-title">${escape(title)}</title>`]
  if (band !== undefined) out.push(`<rect x="${sx(band.from)}" y="${T}" width="${Math.max(2, sx(band.to) - sx(band.from))}" height="${H - T - B}" fill="#f2a900" opacity="0.18"/>`)
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#767676"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#767676"/>`)
  out.push(`<text x="${L}" y="${H - B + 16}">block ${x0}</text><text x="${W - R}" y="${H - B + 16}" text-anchor="end">block ${x1}</text><text x="4" y="${T + 4}">max</text><text x="4" y="${H - B}">0</text>`)
  for (const m of marks) {
    out.push(`<line x1="${sx(m.x)}" y1="${T}" x2="${sx(m.x)}" y2="${H - B}" stroke="#b3261e" stroke-dasharray="4 3" stroke-width="2"><title>${escape(m.label)}</title></line>`)
    out.push(`<text x="${sx(m.x) + 3}" y="${T - 6}" fill="#b3261e">${escape(m.short ?? '!')}</text>`)
  }
  series.forEach((s, i) => {
    const max = Math.max(...s.points.map((p) => Math.abs(p.y)), 1e-30)
    const pts = s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y / max).toFixed(1)}`).join(' ')
    const c = COLORS[i % COLORS.length]
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"><title>${escape(s.name)}</title></polyline>`)
    for (const p of s.points) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y / max).toFixed(1)}" r="3" fill="${c}"/>`)
    out.push(`<text x="${L + 150 * i}" y="${H - 8}" fill="${c}">■ ${escape(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('')
}

/** The checkpoints of one page on a block axis: regular on one row, emergency (red) on another. */
export function timeline(cps) {
  const W = 640
  const H = 78
  const L = 84
  const R = 12
  if (cps.length === 0) return ''
  const xs = cps.map((c) => Number(c.block))
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs, x0 + 1)
  const sx = (x) => L + ((Number(x) - x0) / (x1 - x0)) * (W - L - R)
  const em = cps.filter((c) => c.kind === 'emergency').length
  const out = [`<svg class="chart timeline" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="timeline-title"><title id="timeline-title">Timeline: ${cps.length - em} regular and ${em} emergency checkpoints from block ${x0} to ${x1}</title>`]
  out.push(`<text x="4" y="24">regular</text><text x="4" y="50">emergency</text><line x1="${L}" y1="20" x2="${W - R}" y2="20" stroke="#c8c8c8"/><line x1="${L}" y1="46" x2="${W - R}" y2="46" stroke="#c8c8c8"/>`)
  for (const c of cps) {
    const y = c.kind === 'emergency' ? 46 : 20
    out.push(`<circle cx="${sx(c.block).toFixed(1)}" cy="${y}" r="5" fill="${c.kind === 'emergency' ? '#b3261e' : '#0b5cad'}"><title>block ${escape(c.block)}${c.kind === 'emergency' ? ' (emergency)' : ''}</title></circle>`)
  }
  out.push(`<text x="${L}" y="${H - 6}">block ${x0}</text><text x="${W - R}" y="${H - 6}" text-anchor="end">block ${x1}</text></svg>`)
  return out.join('')
}
