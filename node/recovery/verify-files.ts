import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { exportJsonl } from '../../snapshot/export/records.ts'
import { fieldChanges, type FieldChange } from '../../snapshot/state/field-diff.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'

/**
 * The derived files of an `ark fetch` directory (accounts.jsonl, markets.json,
 * summary.json) checked against the verified snapshot: they are conveniences
 * written from it, so any disagreement means the directory was altered.
 */

function tampered(file: string, what: string): never {
  throw new ProtocolError('MISMATCH', `${file} ${what}; the file was altered or belongs to another snapshot (fetch again)`)
}

const show = (v: unknown): string => (v === null || v === undefined ? 'absent' : JSON.stringify(v))

function firstChange(changes: FieldChange[]): string {
  const c = changes[0]!
  return `${c.path} is ${show(c.after)} in the file but ${show(c.before)} in the snapshot${changes.length > 1 ? ` (and ${changes.length - 1} more difference(s))` : ''}`
}

async function mustExist(path: string, name: string): Promise<void> {
  try {
    await stat(path)
  } catch (cause) {
    throw new ArkError('IO', `${name} is missing from the directory (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); "ark fetch" writes certificate.json, snapshot.car, accounts.jsonl, markets.json and summary.json — fetch again`, { cause })
  }
}

/** accounts.jsonl: one line per account, in key order, each equal (as JSON) to the snapshot's record. */
export async function checkAccountsJsonl(dir: string, s: Snapshot<unknown, unknown>): Promise<number> {
  const path = join(dir, 'accounts.jsonl')
  await mustExist(path, 'accounts.jsonl')
  const expected = exportJsonl(s)[Symbol.asyncIterator]()
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let n = 0
  try {
    for await (const got of lines) {
      n++
      const next = await expected.next()
      if (next.done === true) tampered('accounts.jsonl', `has more lines than the snapshot has accounts (${s.root.accountCount}): line ${n} is extra`)
      const want = (next.value as string).slice(0, -1)
      if (got === want) continue
      let parsed: unknown
      try {
        parsed = JSON.parse(got)
      } catch {
        tampered('accounts.jsonl', `line ${n} is not valid JSON`)
      }
      const wantJson = JSON.parse(want) as { account: string }
      const gotAccount = (parsed as { account?: unknown } | null)?.account
      if (gotAccount !== wantJson.account) tampered('accounts.jsonl', `line ${n} is account ${show(gotAccount)} but the snapshot's account ${n} is ${wantJson.account} (an account was added, removed or reordered)`)
      const changes = fieldChanges(wantJson, parsed, s.schema.identity)
      if (changes.length > 0) tampered('accounts.jsonl', `line ${n} (account ${wantJson.account}) differs from the snapshot: ${firstChange(changes)}`)
    }
    const more = await expected.next()
    if (more.done !== true) tampered('accounts.jsonl', `has ${n} lines but the snapshot has ${s.root.accountCount} accounts (first missing: ${(JSON.parse(more.value as string) as { account: string }).account})`)
  } finally {
    lines.close()
    await expected.return?.(undefined)
  }
  return n
}

async function readJsonFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name)
  await mustExist(path, name)
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown
  } catch (cause) {
    throw new ProtocolError('MISMATCH', `${name} is not valid JSON; the file was altered or truncated (fetch again)`, { cause })
  }
}

/** markets.json: the snapshot's market-state block in its JSON form. */
export async function checkMarketsJson(dir: string, s: Snapshot<unknown, unknown>): Promise<void> {
  const got = await readJsonFile(dir, 'markets.json')
  const want = s.schema.markets.toJSON(await s.markets())
  const changes = fieldChanges(want, got, s.schema.markets.identity)
  if (changes.length > 0) tampered('markets.json', `differs from the snapshot's market state: ${firstChange(changes)}`)
}

/** Hex is case-insensitive; CIDs and names are compared as written. */
function normal(v: unknown): unknown {
  if (typeof v === 'string') return /^0x[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : v
  if (Array.isArray(v)) return v.map(normal)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]))
  return v
}

/** summary.json: every field that restates the certificate or the snapshot (source, trust and weight are informational). */
export async function checkSummaryJson(dir: string, s: Snapshot<unknown, unknown>, certificate: Certificate, certificateCid: string): Promise<void> {
  const got = (await readJsonFile(dir, 'summary.json')) as Record<string, unknown>
  if (got === null || typeof got !== 'object' || Array.isArray(got)) tampered('summary.json', 'is not a JSON object')
  const r = s.root
  const want: Record<string, unknown> = {
    block: r.block.number.toString(),
    blockHash: r.block.hash,
    chainId: r.block.chainId.toString(),
    adapter: r.adapter,
    snapshot: s.cid.toString(),
    certificate: certificateCid,
    stateRoot: r.stateRoot,
    accounts: r.accountCount,
    signers: certificate.signatures.map((x) => x.signer.toLowerCase()),
  }
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(normal(got[k])) !== JSON.stringify(normal(v))) tampered('summary.json', `says ${k} ${show(got[k])} but the verified snapshot and certificate say ${show(v)}`)
  }
}
