import type { Adapter } from '../../snapshot/adapters/types.ts'
import { isArkError } from '../../snapshot/ark-error.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import { bytesToHex, equalBytes } from '../../snapshot/codec/hex.ts'
import { deriveCheckpoint, type Checkpoint } from '../../snapshot/derive/derive.ts'
import { diffRecords } from '../../snapshot/state/diff.ts'
import { fieldChanges } from '../../snapshot/state/field-diff.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'

/**
 * The adapter conformance kit (`ark adapter check`, SPEC §7): derives at several checkpoints and
 * checks spot checks (every checkpoint), determinism (two derivations from scratch give one CID),
 * incremental == from scratch, record and market round trips (encode/decode, JSON, CSV) and that
 * decode rejects non-canonical bytes (mutations of real records). Every failure names the check,
 * the block and, where there is one, the account and field.
 */
export interface ConformanceFailure {
  check: 'derive' | 'spot-check' | 'determinism' | 'incremental' | 'round-trip' | 'canonical'
  block: string
  account?: string
  field?: string
  message: string
}

export interface ConformanceReport {
  adapter: string
  version: string
  schema: string
  checkpoints: { block: string; accounts: number; snapshot: string }[]
  failures: ConformanceFailure[]
  ok: boolean
}

export interface ConformanceOptions<C> {
  adapter: Adapter<C, unknown, unknown>
  config: C
  source: ChainSource
  from: bigint
  to: bigint
  /** checkpoints between from and to inclusive (≥ 2) */
  checkpoints?: number
  /** records round-tripped per checkpoint (cap for big protocols) */
  sampleRecords?: number
  signal?: AbortSignal
}

export const CONFORMANCE_DEFAULTS = Object.freeze({ checkpoints: 3, sampleRecords: 2000, failuresPerCheck: 20 })

type Failures = ConformanceFailure[]

function push(out: Failures, f: ConformanceFailure): void {
  if (out.filter((x) => x.check === f.check).length < CONFORMANCE_DEFAULTS.failuresPerCheck) out.push(f)
}

/** Accounts and fields where two snapshots of one block differ. */
async function explainDiff(check: 'determinism' | 'incremental', a: Snapshot<unknown, unknown>, b: Snapshot<unknown, unknown>, block: string, out: Failures, what: string): Promise<void> {
  const schema = a.schema
  let n = 0
  for await (const d of diffRecords(a, b)) {
    const account = bytesToHex(d.key)
    const changes = fieldChanges(d.before === null ? null : schema.toJSON(d.key, d.before), d.after === null ? null : schema.toJSON(d.key, d.after), schema.identity)
    for (const c of changes.slice(0, 3)) push(out, { check, block, account, field: c.path || '(record)', message: `${what}: account ${account} field ${c.path || '(record)'} is ${String(c.before)} vs ${String(c.after)}` })
    if (++n >= 10) break
  }
  if (n === 0) {
    const ma = JSON.stringify(schema.markets.toJSON(await a.markets()))
    const mb = JSON.stringify(schema.markets.toJSON(await b.markets()))
    push(out, { check, block, field: ma === mb ? '(root)' : '(markets)', message: `${what}: same accounts, different ${ma === mb ? 'root metadata' : `market state (${ma.slice(0, 200)} vs ${mb.slice(0, 200)})`}` })
  }
}

/** Byte mutations of canonical record bytes that a strict decoder must refuse (or decode back to the same bytes). */
function* mutations(bytes: Uint8Array): Generator<[string, Uint8Array]> {
  yield ['a trailing zero byte', Uint8Array.from([...bytes, 0])]
  if (bytes.length > 1) yield ['the last byte removed', bytes.subarray(0, bytes.length - 1)]
  for (let i = 0; i < Math.min(bytes.length, 24); i++) {
    const m = Uint8Array.from(bytes)
    m[i] = (m[i]! + 1) & 0xff
    yield [`byte ${i} incremented`, m]
  }
}

function roundTrips(s: Snapshot<unknown, unknown>, key: Uint8Array, raw: Uint8Array, block: string, out: Failures): void {
  const schema = s.schema
  const account = bytesToHex(key)
  let record: unknown
  try {
    record = schema.decode(raw, `record of ${account}`)
    const again = schema.encode(record, `record of ${account}`).bytes
    if (!equalBytes(again, raw)) push(out, { check: 'round-trip', block, account, field: '(encoding)', message: `encode(decode(bytes)) differs from the stored bytes for account ${account}` })
  } catch (err) {
    push(out, { check: 'round-trip', block, account, field: '(decode)', message: `the stored record of ${account} does not decode: ${(err as Error).message}` })
    return
  }
  const json = schema.toJSON(key, record)
  try {
    const back = schema.fromJSON(JSON.parse(JSON.stringify(json)))
    const diffs = fieldChanges(json, schema.toJSON(back.key, back.record), schema.identity)
    if (!equalBytes(back.key, key)) push(out, { check: 'round-trip', block, account, field: '(key)', message: `fromJSON(toJSON()) of ${account} gives key ${bytesToHex(back.key)}` })
    for (const d of diffs.slice(0, 3)) push(out, { check: 'round-trip', block, account, field: d.path, message: `JSON round trip of account ${account} field ${d.path}: ${String(d.before)} -> ${String(d.after)}` })
    if (diffs.length === 0 && !equalBytes(schema.encode(back.record, account).bytes, raw)) push(out, { check: 'round-trip', block, account, field: '(json)', message: `fromJSON(toJSON()) of ${account} encodes to different bytes although toJSON agrees: toJSON hides a field` })
  } catch (err) {
    push(out, { check: 'round-trip', block, account, field: '(json)', message: `fromJSON(toJSON()) of ${account} throws: ${(err as Error).message}` })
  }
  const rows = schema.toCsvRows(key, record)
  for (const r of rows) if (r.length !== schema.csvHeader.length) push(out, { check: 'round-trip', block, account, field: '(csv)', message: `a CSV row of ${account} has ${r.length} cells; the header has ${schema.csvHeader.length}` })
  for (const [how, m] of mutations(raw)) {
    let decoded: unknown
    try {
      decoded = schema.decode(m, 'mutated')
    } catch {
      continue // refused: as it must be
    }
    let same = false
    try {
      same = equalBytes(schema.encode(decoded, 'mutated').bytes, m)
    } catch {
      same = false
    }
    if (!same) push(out, { check: 'canonical', block, account, field: '(encoding)', message: `decode accepted the record of ${account} with ${how}, which is not its canonical encoding; decode must re-encode and compare bytes` })
  }
}

export async function checkConformance<C>(o: ConformanceOptions<C>): Promise<ConformanceReport> {
  const n = Math.max(2, o.checkpoints ?? CONFORMANCE_DEFAULTS.checkpoints)
  const blocks = [...new Set(Array.from({ length: n }, (_, i) => o.from + ((o.to - o.from) * BigInt(i)) / BigInt(n - 1)))]
  const failures: Failures = []
  const checkpoints: ConformanceReport['checkpoints'] = []
  const derive = async (target: Awaited<ReturnType<ChainSource['checkpointHeader']>>, prev?: Checkpoint<unknown, unknown>): Promise<Checkpoint<unknown, unknown>> =>
    (await deriveCheckpoint({ adapter: o.adapter, config: o.config, source: o.source, target, prev, store: prev?.snapshot.store ?? new MemoryBlockStore(), spotCheckAccounts: 64, ...(o.signal === undefined ? {} : { signal: o.signal }) })).checkpoint
  let prev: Checkpoint<unknown, unknown> | undefined
  for (const b of blocks) {
    const block = b.toString()
    const target = await o.source.checkpointHeader(b, o.signal)
    let inc: Checkpoint<unknown, unknown>
    let scratch: Checkpoint<unknown, unknown>
    try {
      inc = await derive(target, prev)
      scratch = prev === undefined ? inc : await derive(target)
    } catch (err) {
      const d = isArkError(err) ? (err.details ?? {}) : {}
      const spot = (err as Error).name === 'SpotCheckError'
      push(failures, { check: spot ? 'spot-check' : 'derive', block, ...(typeof d.account === 'string' ? { account: d.account } : {}), ...(typeof d.field === 'string' ? { field: d.field } : {}), message: (err as Error).message })
      break // later checkpoints build on this one
    }
    const again = await derive(target)
    if (!again.snapshot.cid.equals(scratch.snapshot.cid)) await explainDiff('determinism', scratch.snapshot, again.snapshot, block, failures, 'two derivations from scratch differ')
    if (!inc.snapshot.cid.equals(scratch.snapshot.cid)) await explainDiff('incremental', scratch.snapshot, inc.snapshot, block, failures, 'incremental (from the previous checkpoint) differs from scratch')
    let seen = 0
    for await (const e of scratch.snapshot.rawEntries()) {
      if (seen++ >= (o.sampleRecords ?? CONFORMANCE_DEFAULTS.sampleRecords)) break
      roundTrips(scratch.snapshot, e.key, e.value, block, failures)
    }
    const m = scratch.snapshot.schema.markets
    const markets = await scratch.snapshot.markets()
    try {
      if (JSON.stringify(m.toJSON(m.decode(m.encode(markets)))) !== JSON.stringify(m.toJSON(markets))) push(failures, { check: 'round-trip', block, field: '(markets)', message: 'markets.decode(markets.encode(m)) differs from m' })
    } catch (err) {
      push(failures, { check: 'round-trip', block, field: '(markets)', message: `the market state does not round-trip: ${(err as Error).message}` })
    }
    checkpoints.push({ block, accounts: scratch.snapshot.root.accountCount, snapshot: scratch.snapshot.cid.toString() })
    prev = inc
  }
  const s = o.adapter.schema
  return { adapter: o.adapter.id, version: o.adapter.version, schema: `${s.id}@${s.version}`, checkpoints, failures, ok: failures.length === 0 }
}
