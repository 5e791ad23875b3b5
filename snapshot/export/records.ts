import type { Snapshot } from '../state/snapshot.ts'

/** One JSON object per line, integers as decimal strings; key order as the schema writes it. */
export async function* exportJsonl<R>(s: Snapshot<R, unknown>): AsyncGenerator<string> {
  for await (const { key, record } of s.entries()) yield `${JSON.stringify(s.schema.toJSON(key, record))}\n`
}

export function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

/** RFC 4180 CSV (CRLF line ends), one row per account item (collateral balance, position, ...). */
export async function* exportCsv<R>(s: Snapshot<R, unknown>): AsyncGenerator<string> {
  yield `${s.schema.csvHeader.join(',')}\r\n`
  for await (const { key, record } of s.entries()) {
    let out = ''
    for (const row of s.schema.toCsvRows(key, record)) out += `${row.map(csvField).join(',')}\r\n`
    if (out.length > 0) yield out
  }
}
