/**
 * End-to-end tests of `ark snapshot ...`: the real entry point (node/cli/bin.js)
 * runs as a child process; every test works in its own temporary directory.
 * Library code is used only as an independent oracle (rebuilding a snapshot
 * from an export, building a changed snapshot to diff against) and to craft
 * bad inputs.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { readCar, writeCar } from '../../snapshot/car/car.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot, type ChangeInput } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { ark, encodeCar, expectFailure, expectOnly, jsonError, listDir, parseCar, parseCsv, stdoutJson, tempDir, useCompileCache, type RunResult } from './helpers.ts'

const SUBCOMMANDS = ['synth', 'inspect', 'export', 'diff', 'prove', 'verify-proof'] as const
const CSV_HEADER = 'account,kind,asset,market,is_call,strike,expiry,amount_or_size,entry_price,funding_index'
const SCHEMA_FIELDS = ['account', 'collateral', 'perps', 'options']

interface SynthJson {
  out: string
  root: string
  stateRoot: string
  accounts: number
  blocks: number
  bytes: number
  buildMs: number
}

interface ProofJson {
  format: string
  snapshot: string
  chainId: string
  blockNumber: string
  blockHash: string
  stateRoot: string
  leafEncoding: string[]
  value: [string, string, string[], string[]]
  proof: string[]
  record?: { account: string; collateral: { asset: string; amount: string }[]; perps: unknown[]; options: unknown[] }
}

interface AccountJson {
  account: string
  collateral: { asset: string; amount: string }[]
  perps: { market: string; size: string; entryPrice: string; fundingIndex: string }[]
  options: { market: string; isCall: boolean; strike: string; expiry: string; size: string }[]
}

/** The shared input snapshot: made once with the CLI, copied into each test's own directory. */
const FIXTURE = { accounts: 1000, seed: 'ark-cli-fixture' }
let fixtureDir: string
let fixtureCar: string
let fixture: SynthJson
let fixtureBytes: Uint8Array
/** every account of the fixture, 0x-hex, in key order, and its JSON form (read in-process as an oracle) */
let fixtureKeys: string[]
let fixtureJson: AccountJson[]
let dropCompileCache: (() => Promise<void>) | undefined

beforeAll(async () => {
  dropCompileCache = await useCompileCache()
  fixtureDir = await mkdtemp(join(tmpdir(), 'ark-cli-fixture-'))
  fixtureCar = join(fixtureDir, 'base.car')
  const r = await ark(['snapshot', 'synth', '--accounts', String(FIXTURE.accounts), '--seed', FIXTURE.seed, '--out', fixtureCar, '--json'])
  expect(r.code, r.stderr).toBe(0)
  fixture = stdoutJson<SynthJson>(r)
  fixtureBytes = await readFile(fixtureCar)
  const s = await openInProcess(fixtureBytes)
  fixtureJson = []
  for await (const { key, record } of s.entries()) fixtureJson.push(derivativesSchema.toJSON(key, record) as unknown as AccountJson)
  fixtureKeys = fixtureJson.map((j) => j.account)
})

afterAll(async () => {
  if (fixtureDir !== undefined) await rm(fixtureDir, { recursive: true, force: true })
  await dropCompileCache?.()
})

async function openInProcess(bytes: Uint8Array): Promise<Snapshot<AccountRecord, unknown>> {
  const car = readCar(bytes)
  return (await Snapshot.open(car.store, car.roots[0]!, derivativesSchema)) as unknown as Snapshot<AccountRecord, unknown>
}

/** Copy the fixture CAR into `dir` as `name`. */
async function withFixture(dir: string, name = 'a.car'): Promise<string> {
  const p = join(dir, name)
  await copyFile(fixtureCar, p)
  return p
}

function jsonLines<T>(text: string): T[] {
  expect(text.endsWith('\n'), 'output ends with a newline').toBe(true)
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as T)
}

async function sha256Cid(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(0x71, await sha256.digest(bytes))
}

/** The fixture with its root block replaced by `edit(root)` (re-encoded, new CID named in the header). */
async function withEditedRoot(edit: (root: Record<string, unknown>) => void): Promise<Uint8Array> {
  const car = parseCar(fixtureBytes)
  const rootIndex = car.blocks.findIndex((b) => b.cid.equals(car.roots[0]!))
  expect(rootIndex).toBeGreaterThanOrEqual(0)
  const root = dagCbor.decode(car.blocks[rootIndex]!.bytes) as Record<string, unknown>
  edit(root)
  const bytes = dagCbor.encode(root)
  const cid = await sha256Cid(bytes)
  const blocks = car.blocks.map((b, i) => (i === rootIndex ? { cid, bytes } : b))
  return encodeCar([cid], blocks)
}

function ozVerify(p: { stateRoot: string; leafEncoding: string[]; value: unknown[]; proof: string[] }): boolean {
  return StandardMerkleTree.verify(p.stateRoot, p.leafEncoding, p.value, p.proof)
}

describe.concurrent('ark snapshot synth', () => {
  it('is deterministic: same seed, same bytes and root; another seed differs; --json has root/stateRoot/accounts', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const [a1, a2, b] = await Promise.all([
      ark(['snapshot', 'synth', '--accounts', '400', '--seed', 'det', '--out', join(dir, 'a1.car'), '--json']),
      ark(['snapshot', 'synth', '--accounts', '400', '--seed', 'det', '--out', join(dir, 'a2.car')]),
      ark(['snapshot', 'synth', '--accounts', '400', '--seed', 'det2', '--out', join(dir, 'b.car'), '--json']),
    ])
    for (const r of [a1, a2, b]) expect(r.code, r.stderr).toBe(0)
    const j1 = stdoutJson<SynthJson>(a1)
    const jb = stdoutJson<SynthJson>(b)
    expect(j1.out).toBe(join(dir, 'a1.car'))
    expect(j1.accounts).toBe(400)
    expect(j1.root).toMatch(/^bafyrei[a-z2-7]+$/)
    expect(j1.stateRoot).toMatch(/^0x[0-9a-f]{64}$/)
    expect(j1.blocks).toBeGreaterThan(2)
    expect(j1.bytes).toBeGreaterThan(0)
    // the human-readable run names the same root and stateRoot
    expect(a2.stdout).toContain(j1.root)
    expect(a2.stdout).toContain(j1.stateRoot)
    expect(a2.stdout).toMatch(/accounts\s+400/)

    const [f1, f2, fb] = await Promise.all(['a1.car', 'a2.car', 'b.car'].map((n) => readFile(join(dir, n))))
    expect(Buffer.compare(f1!, f2!)).toBe(0)
    expect(Buffer.compare(f1!, fb!)).not.toBe(0)
    expect(jb.accounts).toBe(400)
    expect(jb.root).not.toBe(j1.root)
    expect(jb.stateRoot).not.toBe(j1.stateRoot)
    // the CAR names the reported root
    expect(parseCar(f1!).roots.map(String)).toEqual([j1.root])
    expect(parseCar(fb!).roots.map(String)).toEqual([jb.root])
    await expectOnly(dir, ['a1.car', 'a2.car', 'b.car'])
  })

  it('the fixture (made in beforeAll) matches an in-process build from the same seed', async () => {
    const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(FIXTURE), markets: synthMarkets(FIXTURE), records: synthRecords(FIXTURE), store: new MemoryBlockStore() })
    expect(fixture.root).toBe(snapshot.cid.toString())
    expect(fixture.stateRoot).toBe(snapshot.root.stateRoot)
    expect(fixture.accounts).toBe(FIXTURE.accounts)
    expect(fixtureKeys).toHaveLength(FIXTURE.accounts)
  })
})

describe.concurrent('ark snapshot inspect', () => {
  it('--verify --json reports the accountCount, stateRoot and root synth printed', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const [j, t] = await Promise.all([ark(['snapshot', 'inspect', car, '--verify', '--json']), ark(['snapshot', 'inspect', car, '--verify'])])
    expect(j.code, j.stderr).toBe(0)
    const info = stdoutJson<Record<string, unknown>>(j)
    expect(info.accountCount).toBe(fixture.accounts)
    expect(info.stateRoot).toBe(fixture.stateRoot)
    expect(info.root).toBe(fixture.root)
    expect(info.verified).toBe(true)
    expect(info.specVersion).toBe(1)
    expect(info.schema).toMatchObject({ id: 'ark.derivatives.account', version: 1 })
    expect(info.fileBytes).toBe((await stat(car)).size)
    expect(info.blocks).toBe(parseCar(fixtureBytes).blocks.length)
    expect(info.blocks).toBe(fixture.blocks)
    expect(j.stderr).toBe('')
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).toContain(`${fixture.root}  (verified)`)
    expect(t.stdout).toContain(fixture.stateRoot)
    await expectOnly(dir, ['a.car'])
  })

  it('--verify catches a root whose stateRoot was forged (plain inspect only reads it)', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const forged = `0x${'ab'.repeat(32)}`
    const car = join(dir, 'forged.car')
    await writeFile(car, await withEditedRoot((r) => (r.stateRoot = Buffer.from(forged.slice(2), 'hex'))))
    const [plain, verify] = await Promise.all([ark(['snapshot', 'inspect', car, '--json']), ark(['snapshot', 'inspect', car, '--verify', '--json'])])
    expect(plain.code, plain.stderr).toBe(0)
    expect(stdoutJson(plain).stateRoot).toBe(forged)
    const e = expectFailure(verify, 1, 'ROOT_MISMATCH', /stateRoot/)
    expect(e.message).toContain(fixture.stateRoot)
    expect(verify.stdout).toBe('')
  })
})

describe.concurrent('ark snapshot export', () => {
  it('jsonl: one valid JSON line per account, sorted by account; --out writes the same bytes', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const out = join(dir, 'accounts.jsonl')
    // jsonl is the default format
    const [std, file] = await Promise.all([ark(['snapshot', 'export', car]), ark(['snapshot', 'export', car, '--format', 'jsonl', '--out', out])])
    for (const r of [std, file]) expect(r.code, r.stderr).toBe(0)
    const rows = jsonLines<AccountJson>(std.stdout)
    expect(rows).toHaveLength(fixture.accounts)
    expect(rows.map((r) => r.account)).toEqual(fixtureKeys)
    for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.account < rows[i]!.account).toBe(true)
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(SCHEMA_FIELDS)
      expect(r.account).toMatch(/^0x[0-9a-f]{40}$/)
      expect(r.collateral.length + r.perps.length + r.options.length).toBeGreaterThan(0)
      for (const c of r.collateral) expect(c.amount).toMatch(/^[1-9][0-9]*$/)
    }
    expect(std.stdout).toBe(fixtureJson.map((j) => `${JSON.stringify(j)}\n`).join(''))
    expect(file.stdout).toBe('')
    expect(await readFile(out, 'utf8')).toBe(std.stdout)
    await expectOnly(dir, ['a.car', 'accounts.jsonl'])
  })

  it('csv: the header, then RFC 4180 rows that match the records item for item; --out writes the same bytes', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const out = join(dir, 'accounts.csv')
    const [csv, file] = await Promise.all([ark(['snapshot', 'export', car, '--format', 'csv']), ark(['snapshot', 'export', car, '--format', 'csv', '--out', out])])
    for (const r of [csv, file]) expect(r.code, r.stderr).toBe(0)
    expect(csv.stdout.split(/\r?\n/, 1)[0]).toBe(CSV_HEADER)
    const rows = parseCsv(csv.stdout)
    expect(rows[0]).toEqual(CSV_HEADER.split(','))
    for (const r of rows) expect(r).toHaveLength(10)
    const expected: string[][] = []
    for (const a of fixtureJson) {
      for (const c of a.collateral) expected.push([a.account, 'collateral', c.asset, '', '', '', '', c.amount, '', ''])
      for (const p of a.perps) expected.push([a.account, 'perp', '', p.market, '', '', '', p.size, p.entryPrice, p.fundingIndex])
      for (const o of a.options) expected.push([a.account, 'option', '', o.market, String(o.isCall), o.strike, o.expiry, o.size, '', ''])
    }
    expect(rows.slice(1)).toEqual(expected)
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(fixture.accounts)
    expect(file.stdout).toBe('')
    expect(await readFile(out, 'utf8')).toBe(csv.stdout)
    await expectOnly(dir, ['a.car', 'accounts.csv'])
  })

  it('round trip: the JSONL export, read back with fromJSON and rebuilt with the synth meta, gives the same stateRoot and root', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const out = join(dir, 'accounts.jsonl')
    const r = await ark(['snapshot', 'export', car, '--format', 'jsonl', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    const records = jsonLines<unknown>(await readFile(out, 'utf8')).map((j) => derivativesSchema.fromJSON(j))
    expect(records).toHaveLength(fixture.accounts)
    // reversed: the rebuild must not depend on the export's order
    const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(FIXTURE), markets: synthMarkets(FIXTURE), records: records.reverse(), store: new MemoryBlockStore() })
    expect(snapshot.root.stateRoot).toBe(fixture.stateRoot)
    expect(snapshot.root.accountCount).toBe(fixture.accounts)
    expect(snapshot.cid.toString()).toBe(fixture.root)
  })
})

describe.concurrent('ark snapshot prove / verify-proof', () => {
  it('prove --account, then verify-proof exits 0 and StandardMerkleTree.verify accepts the proof', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const account = fixtureKeys[437]!
    const pf = join(dir, 'proof.json')
    // the address is case-insensitive
    const [toFile, toStdout] = await Promise.all([
      ark(['snapshot', 'prove', car, '--account', account, '--out', pf]),
      ark(['snapshot', 'prove', car, '--account', `0x${account.slice(2).toUpperCase()}`]),
    ])
    for (const r of [toFile, toStdout]) expect(r.code, r.stderr).toBe(0)
    expect(toFile.stdout).toBe('')
    const text = await readFile(pf, 'utf8')
    expect(toStdout.stdout).toBe(text)
    const p = JSON.parse(text) as ProofJson
    expect(p.format).toBe('ark.proof.v1')
    expect(p.snapshot).toBe(fixture.root)
    expect(p.stateRoot).toBe(fixture.stateRoot)
    expect(p.chainId).toBe('31337')
    expect(p.leafEncoding).toEqual(['address', 'bytes32', 'address[]', 'uint256[]'])
    expect(p.value[0]).toBe(account)
    expect(p.record?.account).toBe(account)
    expect(p.value[2]).toEqual(p.record!.collateral.map((c) => c.asset))
    expect(p.value[3]).toEqual(p.record!.collateral.map((c) => c.amount))
    expect(p.proof.length).toBeGreaterThanOrEqual(Math.floor(Math.log2(fixture.accounts)))
    expect(ozVerify(p)).toBe(true)

    const [v, vr] = await Promise.all([ark(['snapshot', 'verify-proof', pf]), ark(['snapshot', 'verify-proof', pf, '--root', fixture.stateRoot, '--json'])])
    for (const r of [v, vr]) expect(r.code, r.stderr).toBe(0)
    expect(v.stdout).toMatch(/^valid: /)
    expect(v.stdout).toContain(account)
    expect(stdoutJson(vr)).toMatchObject({ valid: true, account, stateRoot: fixture.stateRoot, snapshot: fixture.root })
    await expectOnly(dir, ['a.car', 'proof.json'])
  })

  it('a tampered amount, proof or record, or --root of another snapshot: exit 1 with PROOF_INVALID', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const account = fixtureKeys[12]!
    const pf = join(dir, 'proof.json')
    const r = await ark(['snapshot', 'prove', car, '--account', account, '--out', pf])
    expect(r.code, r.stderr).toBe(0)
    const o = { accounts: 300, seed: 'another' }
    const otherRoot = (await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(o), markets: synthMarkets(o), records: synthRecords(o), store: new MemoryBlockStore() })).snapshot.root.stateRoot
    expect(otherRoot).not.toBe(fixture.stateRoot)
    const good = JSON.parse(await readFile(pf, 'utf8')) as ProofJson
    expect(ozVerify(good)).toBe(true)

    const amount: ProofJson = structuredClone(good)
    amount.value[3][0] = (BigInt(amount.value[3][0]!) + 1n).toString()
    const proof: ProofJson = structuredClone(good)
    const last = proof.proof[0]!.at(-1)!
    proof.proof[0] = proof.proof[0]!.slice(0, -1) + (last === '0' ? '1' : '0')
    const record: ProofJson = structuredClone(good)
    record.record!.collateral[0]!.amount = (BigInt(record.record!.collateral[0]!.amount) * 2n).toString()
    expect(ozVerify(amount)).toBe(false)
    expect(ozVerify(proof)).toBe(false)
    expect(ozVerify(record)).toBe(true) // the leaf does not cover the record: only verify-proof can catch this
    await Promise.all([writeFile(join(dir, 'amount.json'), JSON.stringify(amount)), writeFile(join(dir, 'proof2.json'), JSON.stringify(proof)), writeFile(join(dir, 'record.json'), JSON.stringify(record))])

    const runs = await Promise.all([
      ark(['snapshot', 'verify-proof', join(dir, 'amount.json'), '--json']),
      ark(['snapshot', 'verify-proof', join(dir, 'proof2.json'), '--json']),
      ark(['snapshot', 'verify-proof', join(dir, 'record.json'), '--json']),
      ark(['snapshot', 'verify-proof', pf, '--root', otherRoot, '--json']),
    ])
    expectFailure(runs[0]!, 1, 'PROOF_INVALID', /does not lead to stateRoot/)
    expectFailure(runs[1]!, 1, 'PROOF_INVALID', /does not lead to stateRoot/)
    expectFailure(runs[2]!, 1, 'PROOF_INVALID', /record/)
    expectFailure(runs[3]!, 1, 'PROOF_INVALID', new RegExp(otherRoot))
    for (const x of runs) expect(x.stdout).toBe('')
  })

  it('prove --all --format standard-v1 writes a dump StandardMerkleTree.load reads: its root is the stateRoot, every proof verifies (issue 18)', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const out = join(dir, 'tree.json')
    const r = await ark(['snapshot', 'prove', car, '--all', '--format', 'standard-v1', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(stdoutJson(r)).toEqual({ out, format: 'standard-v1', stateRoot: fixture.stateRoot, accounts: fixture.accounts })
    const dump = JSON.parse(await readFile(out, 'utf8')) as Parameters<typeof StandardMerkleTree.load>[0]
    const tree = StandardMerkleTree.load(dump)
    tree.validate()
    expect(tree.root).toBe(fixture.stateRoot)
    expect(tree.length).toBe(fixture.accounts)
    // values in key order, as the claims file lists them
    expect(dump.values.map((v) => v.value[0])).toEqual(fixtureKeys)
    for (const [i, v] of tree.entries()) expect(StandardMerkleTree.verify(fixture.stateRoot, dump.leafEncoding, v, tree.getProof(i)), `leaf ${i}`).toBe(true)
    // the same proofs as Ark's own claims file
    const claimsOut = join(dir, 'claims.json')
    expect((await ark(['snapshot', 'prove', car, '--all', '--out', claimsOut])).code).toBe(0)
    const claims = JSON.parse(await readFile(claimsOut, 'utf8')) as { claims: { proof: string[] }[] }
    expect(claims.claims.map((_, i) => tree.getProof(i))).toEqual(claims.claims.map((c) => c.proof))
    const bad = await ark(['snapshot', 'prove', car, '--all', '--format', 'merkle-distributor', '--out', join(dir, 'x.json'), '--json'])
    expectFailure(bad, 2, 'USAGE', /--format must be claims or standard-v1/)
    await expect(readFile(join(dir, 'x.json'))).rejects.toThrow()
  })

  it('prove --all --out writes a claims file with accountCount claims that verify', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const out = join(dir, 'proofs.json')
    const all = await ark(['snapshot', 'prove', car, '--all', '--out', out])
    expect(all.code, all.stderr).toBe(0)
    expect(stdoutJson(all)).toEqual({ out, format: 'claims', stateRoot: fixture.stateRoot, accounts: fixture.accounts })
    const claims = JSON.parse(await readFile(out, 'utf8')) as { format: string; accountCount: number; stateRoot: string; snapshot: string; leafEncoding: string[]; claims: { value: ProofJson['value']; proof: string[] }[] }
    expect(claims.format).toBe('ark.claims.v1')
    expect(claims.accountCount).toBe(fixture.accounts)
    expect(claims.stateRoot).toBe(fixture.stateRoot)
    expect(claims.snapshot).toBe(fixture.root)
    expect(claims.claims).toHaveLength(fixture.accounts)
    expect(claims.claims.map((c) => c.value[0])).toEqual(fixtureKeys)
    const step = Math.floor(fixture.accounts / 20)
    for (let i = 0; i < 20; i++) {
      const c = claims.claims[i * step + (i % step)]!
      expect(StandardMerkleTree.verify(claims.stateRoot, claims.leafEncoding, c.value, c.proof), `claim ${i * step}`).toBe(true)
    }
    expect(StandardMerkleTree.verify(claims.stateRoot, claims.leafEncoding, claims.claims.at(-1)!.value, claims.claims.at(-1)!.proof)).toBe(true)
    // the claim for an account is its single-account proof
    const p = await proveAccount(await openInProcess(fixtureBytes), Buffer.from(fixtureKeys[777]!.slice(2), 'hex'))
    expect(claims.claims[777]).toEqual({ value: p.value, proof: p.proof })
    await expectOnly(dir, ['a.car', 'proofs.json'])
  })
})

describe.concurrent('ark snapshot diff', () => {
  /** b = a with two accounts changed, two removed and two added; returns the expected change lines. */
  async function makeChanged(dir: string): Promise<{ b: string; bRoot: string; bBlock: string; expected: { account: string; kind: string; fields: string[]; before: unknown; after: unknown }[]; moved: Record<string, string> }> {
    const a = await openInProcess(fixtureBytes)
    const get = async (k: string): Promise<AccountRecord> => (await a.get(Buffer.from(k.slice(2), 'hex')))!
    const k1 = fixtureKeys[10]!
    let k2 = ''
    for (const k of fixtureKeys.slice(20)) {
      if ((await get(k)).perps.length > 0) {
        k2 = k
        break
      }
    }
    expect(k2).not.toBe('')
    const removed = [fixtureKeys[500]!, fixtureKeys[fixtureKeys.length - 1]!]
    const r1 = await get(k1)
    const r2 = await get(k2)
    const m1: AccountRecord = { ...r1, collateral: r1.collateral.map((c, i) => (i === 0 ? { ...c, amount: c.amount + 12_345n } : c)) }
    const m2: AccountRecord = { ...r2, perps: r2.perps.map((p, i) => (i === 0 ? { ...p, size: p.size + (p.size > 0n ? 1n : -1n) } : p)) }
    const asset = r1.collateral[0]!.asset
    const n1 = `0x${'00'.repeat(19)}01`
    const n2 = `0x${'ff'.repeat(20)}`
    const a1: AccountRecord = { collateral: [{ asset, amount: 777n }], perps: [], options: [] }
    const a2: AccountRecord = { collateral: [], perps: [], options: [{ market: 1n, isCall: true, strike: 100n, expiry: 1_800_000_000n, size: -5n }] }
    const changes: ChangeInput<AccountRecord>[] = [
      { key: k1, record: m1 },
      { key: k2, record: m2 },
      { key: removed[0]!, record: null },
      { key: removed[1]!, record: null },
      { key: n1, record: a1 },
      { key: n2, record: a2 },
    ]
    const { snapshot: b } = await applyChanges(a, changes, { meta: synthMeta(FIXTURE, 1), markets: synthMarkets(FIXTURE, 1) })
    const chunks: Uint8Array[] = []
    for await (const c of writeCar([b.cid], b.blockCids(), b.store)) chunks.push(c)
    const path = join(dir, 'b.car')
    await writeFile(path, Buffer.concat(chunks))

    const toJson = (k: string, r: AccountRecord | null): unknown => (r === null ? null : derivativesSchema.toJSON(Buffer.from(k.slice(2), 'hex'), r))
    const rows = [
      { account: k1, kind: 'changed', fields: ['collateral'], before: r1, after: m1 },
      { account: k2, kind: 'changed', fields: ['perps'], before: r2, after: m2 },
      { account: removed[0]!, kind: 'removed', fields: SCHEMA_FIELDS, before: await get(removed[0]!), after: null },
      { account: removed[1]!, kind: 'removed', fields: SCHEMA_FIELDS, before: await get(removed[1]!), after: null },
      { account: n1, kind: 'added', fields: SCHEMA_FIELDS, before: null, after: a1 },
      { account: n2, kind: 'added', fields: SCHEMA_FIELDS, before: null, after: a2 },
    ].sort((x, y) => (x.account < y.account ? -1 : 1))
    const moved = new Map<string, bigint>()
    for (const row of rows) {
      for (const c of row.before?.collateral ?? []) moved.set(c.asset.toLowerCase(), (moved.get(c.asset.toLowerCase()) ?? 0n) - c.amount)
      for (const c of row.after?.collateral ?? []) moved.set(c.asset.toLowerCase(), (moved.get(c.asset.toLowerCase()) ?? 0n) + c.amount)
    }
    return {
      b: path,
      bRoot: b.cid.toString(),
      bBlock: b.root.block.number.toString(),
      expected: rows.map((r) => ({ account: r.account, kind: r.kind, fields: r.fields, before: toJson(r.account, r.before), after: toJson(r.account, r.after) })),
      moved: Object.fromEntries([...moved].filter(([, v]) => v !== 0n).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, v.toString()])),
    }
  }

  it('lists exactly the added, removed and changed accounts, then a summary with counts and moved per asset', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const a = await withFixture(dir)
    const { b, bRoot, bBlock, expected, moved } = await makeChanged(dir)
    expect(Object.keys(moved).length).toBeGreaterThan(0)
    const out = join(dir, 'changes.jsonl')
    const [std, file, same] = await Promise.all([ark(['snapshot', 'diff', a, b]), ark(['snapshot', 'diff', a, b, '--out', out]), ark(['snapshot', 'diff', a, a, '--json'])])
    for (const r of [std, file, same]) expect(r.code, r.stderr).toBe(0)
    const lines = jsonLines<Record<string, unknown>>(std.stdout)
    expect(lines).toHaveLength(expected.length + 1)
    const changes = lines.slice(0, -1)
    expect(changes.map((l) => l.account)).toEqual(expected.map((e) => e.account))
    for (const [i, e] of expected.entries()) {
      const got = changes[i]!
      expect(got.kind, e.account).toBe(e.kind)
      if (e.kind === 'changed') expect(got.fields).toEqual(e.fields)
      else expect(got.fields).toEqual(expect.arrayContaining(['collateral', 'perps', 'options']))
      expect(got.before).toEqual(e.before)
      expect(got.after).toEqual(e.after)
    }
    expect(lines.at(-1)).toEqual({
      summary: { from: { snapshot: fixture.root, block: expect.any(String) }, to: { snapshot: bRoot, block: bBlock }, added: 2, removed: 2, changed: 2, moved },
    })
    // --out: the same change lines in the file, a human summary on stdout
    expect(await readFile(out, 'utf8')).toBe(changes.map((c) => `${JSON.stringify(c)}\n`).join(''))
    expect(file.stdout).toMatch(/2 added, 2 removed, 2 changed/)
    expect(file.stdout).toContain(out)
    // a snapshot against itself: no changes, only the summary
    expect(jsonLines(same.stdout)).toEqual([{ summary: expect.objectContaining({ added: 0, removed: 0, changed: 0, moved: {} }) }])
    await expectOnly(dir, ['a.car', 'b.car', 'changes.jsonl'])
  })
})

describe.concurrent('bad input: an error naming the problem, a non-zero exit, no output file', () => {
  type OutCommand = 'export-jsonl' | 'export-csv' | 'prove-all'
  /** A command that writes --out into `dir`; it must fail like `code`/`message` and leave no file behind. */
  async function expectNoOutput(dir: string, car: string, cmd: OutCommand, code: string, message: RegExp, inputs: string[]): Promise<RunResult> {
    const args = {
      'export-jsonl': ['snapshot', 'export', car, '--format', 'jsonl', '--out', join(dir, 'out.jsonl'), '--json'],
      'export-csv': ['snapshot', 'export', car, '--format', 'csv', '--out', join(dir, 'out.csv'), '--json'],
      'prove-all': ['snapshot', 'prove', car, '--all', '--out', join(dir, 'proofs.json'), '--json'],
    }[cmd]
    const r = await ark(args)
    expectFailure(r, 1, code, message)
    expect(r.stdout).toBe('')
    await expectOnly(dir, inputs)
    return r
  }

  it('truncated CAR (cut in half): MALFORMED_CAR', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'half.car')
    await writeFile(car, fixtureBytes.subarray(0, Math.floor(fixtureBytes.length / 2)))
    const [j, t] = await Promise.all([ark(['snapshot', 'inspect', car, '--json']), ark(['snapshot', 'inspect', car])])
    expectFailure(j, 1, 'MALFORMED_CAR', /truncated/)
    expect(t.code).toBe(1)
    expect(t.stderr).toMatch(/^error \[MALFORMED_CAR\]: CAR file is truncated/)
    expect(t.stdout).toBe('')
    await expectNoOutput(dir, car, 'export-jsonl', 'MALFORMED_CAR', /truncated/, ['half.car'])
  })

  it('one byte flipped inside a block: BLOCK_HASH_MISMATCH naming the block', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'flipped.car')
    const { blocks } = parseCar(fixtureBytes)
    const victim = blocks[Math.floor(blocks.length / 2)]!
    const bytes = Uint8Array.from(fixtureBytes)
    const at = victim.dataOffset + Math.floor((victim.end - victim.dataOffset) / 2)
    bytes[at] = bytes[at]! ^ 0x01
    await writeFile(car, bytes)
    const cid = new RegExp(victim.cid.toString())
    const [inspect] = await Promise.all([ark(['snapshot', 'inspect', car, '--json']), expectNoOutput(dir, car, 'export-csv', 'BLOCK_HASH_MISMATCH', cid, ['flipped.car'])])
    expectFailure(inspect, 1, 'BLOCK_HASH_MISMATCH', cid)
  })

  it('a tree block missing from the CAR: BLOCK_NOT_FOUND on inspect, export and prove', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'missing.car')
    const { roots, blocks } = parseCar(fixtureBytes)
    // blocks are root, markets, then the tree parents-first: the last one is the last leaf
    const victim = blocks.at(-1)!
    expect(victim.cid.equals(roots[0]!)).toBe(false)
    await writeFile(car, encodeCar(roots, blocks.slice(0, -1)))
    const cid = new RegExp(victim.cid.toString())
    const [inspect, streamed] = await Promise.all([
      ark(['snapshot', 'inspect', car, '--json']),
      ark(['snapshot', 'export', car, '--json']),
      expectNoOutput(dir, car, 'export-jsonl', 'BLOCK_NOT_FOUND', cid, ['missing.car']),
    ])
    expectFailure(inspect, 1, 'BLOCK_NOT_FOUND', cid)
    expectFailure(streamed, 1, 'BLOCK_NOT_FOUND', cid)
    // streaming to stdout stops at the missing leaf: what it wrote is a strict prefix of the export
    expect(fixtureJson.map((j) => `${JSON.stringify(j)}\n`).join('').startsWith(streamed.stdout)).toBe(true)
    expect(streamed.stdout.split('\n').length - 1).toBeLessThan(fixture.accounts)
    await expectNoOutput(dir, car, 'prove-all', 'BLOCK_NOT_FOUND', cid, ['missing.car'])
  })

  it('a root block with spec version 2: UNSUPPORTED_VERSION', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'v2.car')
    await writeFile(car, await withEditedRoot((r) => (r.version = 2)))
    expect(readCar(await readFile(car)).roots).toHaveLength(1) // a well-formed CAR: only the version is wrong
    const [inspect] = await Promise.all([ark(['snapshot', 'inspect', car, '--json']), expectNoOutput(dir, car, 'prove-all', 'UNSUPPORTED_VERSION', /version 2/, ['v2.car'])])
    expectFailure(inspect, 1, 'UNSUPPORTED_VERSION', /snapshot spec version 2 is not supported/)
  })

  it('not a CAR (text, empty, a JSON file): MALFORMED_CAR', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    await writeFile(join(dir, 'text.car'), 'hello, this is not a CAR file\n')
    await writeFile(join(dir, 'empty.car'), '')
    await writeFile(join(dir, 'x.json'), JSON.stringify({ roots: [], version: 1 }))
    const runs = await Promise.all(['empty.car', 'x.json'].map((n) => ark(['snapshot', 'inspect', join(dir, n), '--json'])))
    for (const r of runs) expectFailure(r, 1, 'MALFORMED_CAR')
    await expectNoOutput(dir, join(dir, 'text.car'), 'export-csv', 'MALFORMED_CAR', /CAR/, ['empty.car', 'text.car', 'x.json'])
  })

  it('a missing file or a directory: IO naming the path', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const missing = join(dir, 'nope.car')
    await mkdir(join(dir, 'sub'))
    const [d, m] = await Promise.all([ark(['snapshot', 'inspect', join(dir, 'sub'), '--json']), expectNoOutput(dir, missing, 'export-jsonl', 'IO', /ENOENT/, ['sub'])])
    expect(jsonError(m).message).toContain(missing)
    expectFailure(d, 1, 'IO', /not a file/)
  })

  it('synth --accounts 0 / abc, or no --seed: usage error (exit 2), no CAR', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const out = join(dir, 'x.car')
    const runs = await Promise.all([
      ark(['snapshot', 'synth', '--accounts', '0', '--seed', 's', '--out', out, '--json']),
      ark(['snapshot', 'synth', '--accounts', 'abc', '--seed', 's', '--out', out, '--json']),
      ark(['snapshot', 'synth', '--accounts', '10', '--out', out, '--json']),
    ])
    expectFailure(runs[0]!, 2, 'USAGE', /--accounts must be a positive integer, got "0"/)
    expectFailure(runs[1]!, 2, 'USAGE', /--accounts must be a positive integer, got "abc"/)
    expectFailure(runs[2]!, 2, 'USAGE', /--seed is required/)
    for (const r of runs) expect(r.stdout).toBe('')
    await expectOnly(dir, [])
  })

  it('unknown group, command or flag, wrong positional count, bad --format: exit 2', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const [group, cmd, flag, pos, format] = await Promise.all([
      ark(['snapshots', 'inspect', car]),
      ark(['snapshot', 'frobnicate', car, '--json']),
      ark(['snapshot', 'inspect', car, '--frobnicate']),
      ark(['snapshot', 'diff', car, '--json']),
      ark(['snapshot', 'export', car, '--format', 'xml', '--out', join(dir, 'x.xml'), '--json']),
    ])
    expect(group.code).toBe(2)
    expect(group.stderr).toMatch(/^error \[USAGE\]: unknown command group "snapshots"/)
    expectFailure(cmd, 2, 'USAGE', /unknown command "ark snapshot frobnicate"; known: .*inspect/)
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/--frobnicate/)
    expect(flag.stderr).toMatch(/usage: ark snapshot inspect/)
    expectFailure(pos, 2, 'USAGE', /expected 2 positional argument/)
    expectFailure(format, 2, 'USAGE', /--format must be jsonl or csv/)
    for (const r of [group, cmd, flag, pos, format]) expect(r.stdout).toBe('')
    await expectOnly(dir, ['a.car'])
  })

  it('prove: wrong-length --account, an absent account, --all without --out, --all with --account', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    const absent = `0x${'00'.repeat(19)}01`
    expect(fixtureKeys).not.toContain(absent)
    const [short, missing, noOut, both] = await Promise.all([
      ark(['snapshot', 'prove', car, '--account', '0x1234', '--out', join(dir, 'p.json'), '--json']),
      ark(['snapshot', 'prove', car, '--account', absent, '--out', join(dir, 'p.json'), '--json']),
      ark(['snapshot', 'prove', car, '--all', '--json']),
      ark(['snapshot', 'prove', car, '--all', '--account', absent, '--out', join(dir, 'p.json'), '--json']),
    ])
    // a malformed address is rejected naming the flag (exit 1 INVALID_INPUT today; 2 USAGE would be as good)
    expect([1, 2]).toContain(short.code)
    const e = jsonError(short)
    expect(['INVALID_INPUT', 'USAGE']).toContain(e.code)
    expect(e.message).toMatch(/--account must be 20 bytes/)
    expectFailure(missing, 1, 'KEY_NOT_FOUND', new RegExp(absent))
    expectFailure(noOut, 2, 'USAGE', /--out is required/)
    expectFailure(both, 2, 'USAGE', /either --account or --all/)
    await expectOnly(dir, ['a.car'])
  })

  it('verify-proof: a missing file, not JSON, or a malformed --root: exit 1, INVALID_INPUT', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const pf = join(dir, 'p.json')
    await writeFile(pf, JSON.stringify(await proveAccount(await openInProcess(fixtureBytes), Buffer.from(fixtureKeys[3]!.slice(2), 'hex'))))
    await writeFile(join(dir, 'garbage.json'), '{"format": "ark.proof.v1", ')
    const [missing, garbage, badRoot] = await Promise.all([
      ark(['snapshot', 'verify-proof', join(dir, 'none.json'), '--json']),
      ark(['snapshot', 'verify-proof', join(dir, 'garbage.json'), '--json']),
      ark(['snapshot', 'verify-proof', pf, '--root', '0x1234', '--json']),
    ])
    expectFailure(missing, 1, 'INVALID_INPUT', /none\.json/)
    expectFailure(garbage, 1, 'INVALID_INPUT', /garbage\.json/)
    expectFailure(badRoot, 1, 'INVALID_INPUT', /expected root must be 32 bytes/)
  })

  it('a failed export leaves an existing --out file untouched (atomic replace)', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'missing.car')
    const { roots, blocks } = parseCar(fixtureBytes)
    await writeFile(car, encodeCar(roots, blocks.slice(0, -1)))
    const out = join(dir, 'out.jsonl')
    await writeFile(out, 'previous export\n')
    const r = await ark(['snapshot', 'export', car, '--out', out, '--json'])
    expectFailure(r, 1, 'BLOCK_NOT_FOUND')
    expect(await readFile(out, 'utf8')).toBe('previous export\n')
    await expectOnly(dir, ['missing.car', 'out.jsonl'])
  })

  it('--out naming an existing directory: exit 1, no temporary file left', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    await mkdir(join(dir, 'target'))
    const r = await ark(['snapshot', 'export', car, '--out', join(dir, 'target'), '--json'])
    expect(r.code).toBe(1)
    expect(jsonError(r).message).toContain(join(dir, 'target'))
    await expectOnly(dir, ['a.car', 'target'])
    expect(await listDir(join(dir, 'target'))).toEqual([])
  })

  // BUG: writeFileAtomic (node/fs/atomic.ts) lets fs errors escape unwrapped, so main.ts reports an
  // unwritable --out (EISDIR, EACCES, ENOSPC, ...) as `internal error ... this is a bug in ark` with
  // code INTERNAL, instead of an IO error like the one open-car.ts raises for an unreadable input.
  it('--out naming an existing directory is an IO error, not an internal error', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = await withFixture(dir)
    await mkdir(join(dir, 'target'))
    expectFailure(await ark(['snapshot', 'export', car, '--out', join(dir, 'target'), '--json']), 1, 'IO', /target/)
  })

  // BUG: prove (node/cli/snapshot/prove.ts via snapshot/proof/prove.ts proveAccount/proveAll) builds the
  // proof from the Merkle tree it recomputes from the leaves but labels it with the root block's
  // stateRoot without comparing the two: a snapshot whose stateRoot is forged or corrupt gives exit 0
  // and a proof that verify-proof and StandardMerkleTree.verify reject. It should fail with
  // ROOT_MISMATCH and write nothing (DESIGN.md: recompute stateRoot, then export / prove).
  it('prove on a snapshot whose stateRoot does not match its leaves fails with ROOT_MISMATCH', async ({ onTestFinished }) => {
    const dir = await tempDir(onTestFinished)
    const car = join(dir, 'forged.car')
    await writeFile(car, await withEditedRoot((r) => (r.stateRoot = Buffer.from('ab'.repeat(32), 'hex'))))
    const [one, all] = await Promise.all([
      ark(['snapshot', 'prove', car, '--account', fixtureKeys[5]!, '--out', join(dir, 'p.json'), '--json']),
      ark(['snapshot', 'prove', car, '--all', '--out', join(dir, 'all.json'), '--json']),
    ])
    expectFailure(one, 1, 'ROOT_MISMATCH')
    expectFailure(all, 1, 'ROOT_MISMATCH')
    await expectOnly(dir, ['forged.car'])
  })
})

describe.concurrent('help', () => {
  it('every subcommand: --help exits 0 and prints its usage line (-h too)', async () => {
    const runs = await Promise.all([...SUBCOMMANDS.map((c) => ark(['snapshot', c, '--help'])), ark(['snapshot', 'prove', '-h'])])
    for (const [i, r] of runs.entries()) {
      const c = SUBCOMMANDS[i] ?? 'prove'
      expect(r.code, `${c}: ${r.stderr}`).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^usage: ark snapshot ${c} `, 'm'))
      expect(r.stdout).toMatch(/--json/)
      expect(r.stderr).toBe('')
    }
  })

  it('`ark` and `ark snapshot` alone exit 2 with the command list', async () => {
    const runs = await Promise.all([ark([]), ark(['snapshot'])])
    for (const r of runs) {
      expect(r.code).toBe(2)
      expect(r.stdout).toMatch(/usage: ark <group> <command>/)
      for (const c of SUBCOMMANDS) expect(r.stdout).toContain(`ark snapshot ${c}`)
    }
  })
})
