/**
 * An SVG chart of the snapshot benchmark's growth with the number of accounts:
 * build time, one proof from a bare CAR, fetch-size figures (left axis,
 * seconds) and whole-run peak RSS (right axis, GiB), both axes linear, one
 * point per case run. `npm run bench -- snapshot --accounts 100000,1000000 --chart FILE`.
 */

interface Point {
  accounts: number
  buildS: number
  cliProofS: number
  stateRootS: number
  peakGiB: number
}

export function pointsFrom(results: readonly Record<string, unknown>[]): Point[] {
  return results
    .filter((r) => r.bench === 'snapshot')
    .map((r) => {
      const build = r.build as { ms: number }
      const proof = r.proof as { cliFromBareCarMs?: number }
      const sr = r.stateRoot as { arkFromValuesMs: number }
      return { accounts: r.accounts as number, buildS: build.ms / 1000, cliProofS: (proof.cliFromBareCarMs ?? 0) / 1000, stateRootS: sr.arkFromValuesMs / 1000, peakGiB: (r.peakRssMiB as number) / 1024 }
    })
    .sort((a, b) => a.accounts - b.accounts)
}

const W = 640
const H = 360
const L = 60
const R = 70
const T = 40
const B = 50
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
const fmt = (n: number): string => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n))

/** `note`: a line under the title (e.g. which sizes are pending). */
export function chartSvg(points: readonly Point[], note: string): string {
  const maxA = Math.max(...points.map((p) => p.accounts), 1)
  const maxS = Math.max(...points.flatMap((p) => [p.buildS, p.cliProofS, p.stateRootS]), 0.001) * 1.15
  const maxG = Math.max(...points.map((p) => p.peakGiB), 0.001) * 1.15
  const x = (a: number): number => L + ((W - L - R) * a) / maxA
  const yS = (s: number): number => H - B - ((H - T - B) * s) / maxS
  const yG = (g: number): number => H - B - ((H - T - B) * g) / maxG
  const series: [string, string, (p: Point) => number, (v: number) => number][] = [
    ['build (s)', '#1f77b4', (p) => p.buildS, yS],
    ['one proof from a bare CAR (s)', '#2ca02c', (p) => p.cliProofS, yS],
    ['stateRoot from leaf values (s)', '#9467bd', (p) => p.stateRootS, yS],
    ['peak RSS (GiB, right axis)', '#d62728', (p) => p.peakGiB, yG],
  ]
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="#fff"/>`]
  out.push(`<text x="${L}" y="16" font-size="13" font-weight="bold">Snapshot engine: time and memory against accounts</text>`, ...wrap(note, 95).map((line, i) => `<text x="${L}" y="${30 + i * 13}" fill="#555">${esc(line)}</text>`))
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`, `<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`)
  for (let i = 0; i <= 4; i++) {
    const s = (maxS * i) / 4
    const g = (maxG * i) / 4
    out.push(`<text x="${L - 6}" y="${yS(s) + 4}" text-anchor="end">${s.toFixed(1)}</text>`, `<text x="${W - R + 6}" y="${yG(g) + 4}">${g.toFixed(2)}</text>`)
  }
  for (const p of points) out.push(`<text x="${x(p.accounts)}" y="${H - B + 16}" text-anchor="middle">${fmt(p.accounts)}</text>`)
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">accounts</text>`, `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">seconds</text>`, `<text x="${W - 12}" y="${(T + H - B) / 2}" transform="rotate(90 ${W - 12} ${(T + H - B) / 2})" text-anchor="middle">GiB</text>`)
  series.forEach(([label, color, get, y], i) => {
    const pts = points.map((p) => `${x(p.accounts).toFixed(1)},${y(get(p)).toFixed(1)}`)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    for (const p of points) out.push(`<circle cx="${x(p.accounts).toFixed(1)}" cy="${y(get(p)).toFixed(1)}" r="3" fill="${color}"/>`)
    out.push(`<rect x="${L + 10}" y="${T + 6 + i * 15}" width="10" height="10" fill="${color}"/>`, `<text x="${L + 25}" y="${T + 15 + i * 15}">${esc(label)}</text>`)
  })
  out.push('</svg>\n')
  return out.join('\n')
}

/** Lines of at most `width` characters, broken at spaces (the note names the run and its load). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}
