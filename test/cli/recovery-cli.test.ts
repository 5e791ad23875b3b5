/**
 * `ark prove` and `ark cite` on a directory as `ark fetch` writes it (no chain needed): the outputs
 * and their formats, offline bundle checks, and bad input (exit 1/2, a clear message, no file).
 * The CLI runs in-process (node/cli/main.ts, what bin.js calls).
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress, keccak256, toHex, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { submitCertificateCalldata } from '../../node/chain/registry.ts'
import { bundleProof, CLAIM_BUNDLE_FORMAT, verifyClaimBundle, type ClaimBundle } from '../../node/recovery/claim-bundle.ts'
import { CITATION_FORMAT, type Citation } from '../../node/recovery/citation.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 as keccakBytes } from '../../snapshot/codec/keccak.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { RecordInput } from '../../snapshot/state/build.ts'
import { attestationBodyOf, buildTestSnapshot, certify, errorOf, runArk, testOperators, writeFetchedDir, type CliRun } from '../support/recovery.ts'
import { listDir } from './helpers.ts'

const { ops } = testOperators()
const ASSET_A = `0x${'a1'.repeat(20)}`
const ASSET_B = `0x${'b2'.repeat(20)}`
const META = {
  block: { chainId: 31337n, number: 4242n, hash: keccak256(toHex('block 4242')), timestamp: 1_700_000_000n },
  adapter: { id: 'perp-reference', version: '1', configHash: keccak256(toHex('cli config')) },
}
const ALICE = getAddress(`0x${'0a'.repeat(20)}`)

let tmp: string
/** the fetched directory, its certificate, its records */
let dir: string
let cert: Certificate
let recs: RecordInput<AccountRecord>[]

function records(): RecordInput<AccountRecord>[] {
  const out: RecordInput<AccountRecord>[] = [{ key: ALICE, record: { collateral: [{ asset: ASSET_A, amount: 123_456_789n }, { asset: ASSET_B, amount: 10n ** 30n }], perps: [{ market: 2n, size: 5n, entryPrice: 7n, fundingIndex: 0n }], options: [] } }]
  for (let i = 0; i < 40; i++) out.push({ key: keccak256(toHex(`cli account ${i}`)).slice(0, 42), record: { collateral: [{ asset: ASSET_A, amount: BigInt(1000 + i) }], perps: [], options: [] } })
  return out
}

/** A copy of the fetched directory, to damage. */
async function copyDir(name: string): Promise<string> {
  const d = join(tmp, name)
  await cp(dir, d, { recursive: true })
  return d
}

function expectError(r: CliRun, exit: number, code: string, message?: RegExp): void {
  expect(r.code, r.stderr).toBe(exit)
  const e = errorOf(r)
  expect(e.code, e.message).toBe(code)
  if (message !== undefined) expect(e.message).toMatch(message)
  expect(r.stdout).toBe('')
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ark-recovery-cli-'))
  dir = join(tmp, 'snap')
  recs = records()
  const { snapshot, store } = await buildTestSnapshot(META, recs)
  cert = await certify(attestationBodyOf(snapshot), ops.slice(0, 3))
  await writeFetchedDir(dir, snapshot, store, cert, { source: 'http://127.0.0.1:8181/' })
  await writeFile(join(tmp, 'operators.json'), JSON.stringify({ operators: ops.map((o, i) => ({ address: o.address, weight: i + 1 })), threshold: 6 }))
})

afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('ark prove', () => {
  it('prints a claim bundle that OpenZeppelin verifies and that checks offline', async () => {
    const r = await runArk(['prove', '--snapshot', dir, '--account', ALICE])
    expect(r.code, r.stderr).toBe(0)
    const b = JSON.parse(r.stdout) as ClaimBundle
    expect(Object.keys(b)).toEqual(['format', 'account', 'chainId', 'adapter', 'blockNumber', 'blockHash', 'snapshot', 'certificateCid', 'stateRoot', 'leafEncoding', 'value', 'leaf', 'leafHash', 'proof', 'record', 'claim', 'certificate'])
    expect(b.format).toBe(CLAIM_BUNDLE_FORMAT)
    expect(b.account).toBe(ALICE.toLowerCase())
    expect(b.blockNumber).toBe('4242')
    expect(b.adapter).toEqual({ id: 'perp-reference', version: '1', configHash: META.adapter.configHash })
    expect(b.stateRoot).toBe(cert.body.stateRoot)
    expect(b.leaf).toEqual({ account: ALICE.toLowerCase(), recordHash: b.value[1], assets: [ASSET_A, ASSET_B], amounts: ['123456789', (10n ** 30n).toString()] })
    expect(StandardMerkleTree.verify(b.stateRoot, b.leafEncoding, b.value, b.proof)).toBe(true)
    expect(b.proof.length).toBeGreaterThanOrEqual(5)
    // the record is Alice's, and its canonical bytes hash to the leaf's recordHash
    const { key, record } = derivativesSchema.fromJSON(b.record)
    expect(bytesToHex(key)).toBe(ALICE.toLowerCase())
    expect(bytesToHex(keccakBytes(derivativesSchema.encode(record, 'record').bytes))).toBe(b.leaf.recordHash)
    expect(b.claim).toMatchObject({ function: 'claim(bytes32,address[],uint256[],bytes32[])', from: ALICE, to: null })
    expect(b.claim.data.slice(0, 10)).toBe(keccak256(toHex(b.claim.function)).slice(0, 10))
    expect(b.certificate).toEqual(JSON.parse(await readFile(join(dir, 'certificate.json'), 'utf8')))
    expect(verifyClaimBundle(b)).toBe(b)
  })

  it('--out writes the bundle atomically and prints a summary; --json prints one line', async () => {
    const out = join(tmp, 'out-a', 'bundle.json')
    const r = await runArk(['prove', '--snapshot', dir, '--account', ALICE.toLowerCase(), '--vault', `0x${'cc'.repeat(20)}`, '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout) as { out: string; balances: unknown; certificateVerified: boolean }
    expect(summary).toMatchObject({ out, account: ALICE.toLowerCase(), block: '4242', balances: [{ asset: ASSET_A, amount: '123456789' }, { asset: ASSET_B, amount: (10n ** 30n).toString() }], certificateVerified: false })
    const b = verifyClaimBundle(JSON.parse(await readFile(out, 'utf8')))
    expect(b.claim.to).toBe(getAddress(`0x${'cc'.repeat(20)}`))
    expect(await listDir(join(tmp, 'out-a'))).toEqual(['bundle.json'])
    const text = await runArk(['prove', '--snapshot', dir, '--account', ALICE, '--trust', join(tmp, 'operators.json'), '--out', join(tmp, 'out-a', 'b2.json')])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/signatures weight 6 of threshold 6/)
  })

  it('offline checks catch a tampered bundle', async () => {
    const b = JSON.parse((await runArk(['prove', '--snapshot', dir, '--account', ALICE, '--json'])).stdout) as ClaimBundle
    const clone = (): ClaimBundle => JSON.parse(JSON.stringify(b)) as ClaimBundle
    const more = clone()
    ;(more.value[3] as string[])[0] = '999999999'
    expect(() => verifyClaimBundle(more)).toThrow(/does not lead to stateRoot/)
    const data = clone()
    data.claim.data = `${b.claim.data.slice(0, -1)}0`
    expect(() => verifyClaimBundle(data)).toThrow(/claim\.data/)
    const sig = clone()
    const sigs = sig.certificate.signatures as { signature: string }[]
    sigs[0]!.signature = sigs[1]!.signature
    expect(() => verifyClaimBundle(sig)).toThrow(/altered/)
    const root = clone()
    root.stateRoot = keccak256(toHex('x'))
    expect(() => verifyClaimBundle(root)).toThrow(/stateRoot/)
    const record = clone()
    ;(record.record.collateral as { amount: string }[])[0]!.amount = '1'
    expect(() => verifyClaimBundle(record)).toThrow(/record was altered/)
    expect(bundleProof(b).format).toBe('ark.proof.v1')
    expect(() => verifyClaimBundle({ ...b, format: 'ark.claim.v0' })).toThrow(/produce it with "ark prove"/)
  })

  it('bad usage exits 2 without touching anything', async () => {
    const out = join(tmp, 'out-usage', 'x.json')
    for (const argv of [
      ['prove', '--account', ALICE, '--out', out, '--json'],
      ['prove', '--snapshot', dir, '--out', out, '--json'],
      ['prove', '--snapshot', dir, '--account', ALICE, '--vault', '0x1234', '--out', out, '--json'],
      ['prove', '--snapshot', dir, '--account', ALICE, '--rpc', 'http://127.0.0.1:1', '--out', out, '--json'],
      ['prove', '--snapshot', dir, '--account', ALICE, '--registry', `0x${'11'.repeat(20)}`, '--out', out, '--json'],
      ['prove', '--snapshot', dir, '--account', ALICE, '--bogus', '--json'],
    ]) expectError(await runArk(argv), 2, 'USAGE')
    await expect(listDir(join(tmp, 'out-usage'))).rejects.toThrow(/ENOENT/)
    expect((await runArk(['prove', '--help'])).code).toBe(0)
  })

  it('bad input exits 1 with a message that says what is wrong, and writes no file', async () => {
    const outDir = join(tmp, 'out-bad')
    const out = join(outDir, 'x.json')
    const run = (d: string, account: string = ALICE, extra: string[] = []): Promise<CliRun> => runArk(['prove', '--snapshot', d, '--account', account, '--out', out, '--json', ...extra])

    expectError(await run(dir, '0xnot-an-address'), 1, 'INVALID_INPUT', /--account/)
    expectError(await run(dir, `0x${'77'.repeat(20)}`), 1, 'KEY_NOT_FOUND', /not in snapshot/)
    expectError(await run(join(tmp, 'nope')), 1, 'IO', /ark fetch/)
    expectError(await run(join(dir, 'summary.json')), 1, 'IO', /not a directory/)

    const noCert = await copyDir('no-cert')
    await rm(join(noCert, 'certificate.json'))
    expectError(await run(noCert), 1, 'IO', /certificate\.json/)

    const garbled = await copyDir('garbled')
    await writeFile(join(garbled, 'certificate.json'), '{"certificate": ')
    expectError(await run(garbled), 1, 'INVALID_INPUT', /not valid JSON/)

    // the message edited (another stateRoot): the CID no longer matches
    const edited = await copyDir('edited')
    const cj = JSON.parse(await readFile(join(edited, 'certificate.json'), 'utf8')) as { message: { stateRoot: string } }
    cj.message.stateRoot = keccak256(toHex('forged'))
    await writeFile(join(edited, 'certificate.json'), JSON.stringify(cj))
    expectError(await run(edited), 1, 'INVALID_INPUT', /altered/)

    // a valid certificate for another snapshot next to this CAR
    const mixed = await copyDir('mixed')
    const other = await buildTestSnapshot({ ...META, block: { ...META.block, number: 4243n } }, recs.slice(1))
    await writeFetchedDir(join(tmp, 'other'), other.snapshot, other.store, await certify(attestationBodyOf(other.snapshot), ops.slice(0, 3)))
    await cp(join(tmp, 'other', 'certificate.json'), join(mixed, 'certificate.json'))
    expectError(await run(mixed), 1, 'INVALID_INPUT', /mixes two snapshots/)

    const truncated = await copyDir('truncated')
    const car = await readFile(join(truncated, 'snapshot.car'))
    await writeFile(join(truncated, 'snapshot.car'), car.subarray(0, car.length - 10))
    expectError(await run(truncated), 1, 'MALFORMED_CAR')

    // signatures checked against a set where they are below the threshold
    await writeFile(join(tmp, 'strict.json'), JSON.stringify({ operators: ops.map((o) => ({ address: o.address, weight: 1 })), threshold: 4 }))
    expectError(await run(dir, ALICE, ['--trust', join(tmp, 'strict.json')]), 1, 'INVALID_INPUT', /below the threshold 4/)
    expectError(await run(dir, ALICE, ['--trust', join(tmp, 'missing.json')]), 1, 'IO', /missing\.json/)

    await expect(listDir(outDir)).rejects.toThrow(/ENOENT/)
  })
})

describe('ark cite', () => {
  it('prints a Markdown block and writes the citation JSON with the anchoring calldata', async () => {
    const out = join(tmp, 'cite', 'citation.json')
    const registry = `0x${'ab'.repeat(20)}`
    const r = await runArk(['cite', dir, '--registry', registry, '--trust', join(tmp, 'operators.json'), '--gateway', 'https://gw.example/', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe(`wrote ${out}\n`)
    const c = JSON.parse(await readFile(out, 'utf8')) as Citation
    expect(Object.keys(c)).toEqual(['format', 'chainId', 'adapter', 'blockNumber', 'blockHash', 'snapshot', 'certificate', 'stateRoot', 'specVersion', 'kind', 'accounts', 'signers', 'signedWeight', 'threshold', 'totalWeight', 'trust', 'links', 'transaction', 'check'])
    expect(c).toMatchObject({ format: CITATION_FORMAT, chainId: '31337', blockNumber: '4242', blockHash: META.block.hash, snapshot: cert.body.snapshotCid.toString(), stateRoot: cert.body.stateRoot, accounts: 41, signedWeight: '6', threshold: '6', totalWeight: '10', kind: 0, specVersion: 1 })
    expect(c.signers).toEqual(cert.signatures.map((s) => ({ address: getAddress(s.signer), weight: String(ops.findIndex((o) => o.address.toLowerCase() === s.signer) + 1) })))
    expect(c.transaction).toEqual({ to: getAddress(registry), value: '0', function: 'submitCertificate((uint256,string,bytes32,uint64,bytes32,bytes,bytes32,uint32,uint8),address[],bytes[])', data: submitCertificateCalldata(cert), dataHash: keccak256(submitCertificateCalldata(cert)) })
    expect(c.check.expect).toBe(cert.body.stateRoot)
    expect(c.links).toEqual([
      { gateway: 'https://gw.example', certificate: `https://gw.example/ipfs/${c.certificate}`, snapshot: `https://gw.example/ipfs/${c.snapshot}?format=car` },
      { gateway: 'http://127.0.0.1:8181', certificate: `http://127.0.0.1:8181/ipfs/${c.certificate}`, snapshot: `http://127.0.0.1:8181/ipfs/${c.snapshot}?format=car` },
    ])
    for (const s of [c.blockHash, c.snapshot, c.certificate, c.stateRoot, c.transaction.dataHash, getAddress(registry), ...c.signers.map((x) => x.address), `https://gw.example/ipfs/${c.certificate}`]) expect(r.stdout).toContain(s)
    expect(r.stdout).toMatch(/^### Ark certified snapshot: `perp-reference` on chain 31337 at block 4242\n/)
    expect(r.stdout).toMatch(/\| Signed weight \| 6 of threshold 6 \(total 10\)/)
  })

  it('--json and --markdown; without a trust root the weights are marked unchecked', async () => {
    const md = join(tmp, 'cite2', 'c.md')
    const r = await runArk(['cite', dir, '--markdown', md, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout) as { out: null; markdownOut: string; citation: Citation; markdown: string }
    expect(j.out).toBeNull()
    expect(j.markdownOut).toBe(md)
    expect(await readFile(md, 'utf8')).toBe(j.markdown)
    expect(j.citation).toMatchObject({ signedWeight: null, threshold: null, trust: null, transaction: { to: null } })
    expect(j.citation.signers.every((s) => s.weight === null)).toBe(true)
    expect(j.markdown).toMatch(/not checked here/)
    expect(await listDir(join(tmp, 'cite2'))).toEqual(['c.md'])
  })

  it('bad usage exits 2, bad input 1; no file is written', async () => {
    const outDir = join(tmp, 'cite-bad')
    const out = join(outDir, 'c.json')
    const md = join(outDir, 'c.md')
    for (const argv of [
      ['cite', '--out', out, '--json'],
      ['cite', dir, dir, '--out', out, '--json'],
      ['cite', dir, '--registry', 'registry', '--out', out, '--json'],
      ['cite', dir, '--gateway', 'ftp://x', '--out', out, '--json'],
      ['cite', dir, '--gateway', 'https://desk:secret@gw.example/', '--out', out, '--json'],
      ['cite', dir, '--out', out, '--markdown', out, '--json'],
      ['cite', dir, '--rpc', 'http://127.0.0.1:1', '--out', out, '--json'],
    ]) expectError(await runArk(argv), 2, 'USAGE')
    expectError(await runArk(['cite', join(tmp, 'nope'), '--out', out, '--markdown', md, '--json']), 1, 'IO')
    await writeFile(join(tmp, 'strict2.json'), JSON.stringify({ operators: ops.map((o) => ({ address: o.address, weight: 1 })), threshold: 4 }))
    expectError(await runArk(['cite', dir, '--trust', join(tmp, 'strict2.json'), '--out', out, '--markdown', md, '--json']), 1, 'INVALID_INPUT', /below the threshold/)
    const edited = await copyDir('cite-edited')
    const cj = JSON.parse(await readFile(join(edited, 'certificate.json'), 'utf8')) as { signatures: { signer: string }[] }
    cj.signatures.pop()
    await writeFile(join(edited, 'certificate.json'), JSON.stringify(cj))
    expectError(await runArk(['cite', edited, '--out', out, '--markdown', md, '--json']), 1, 'INVALID_INPUT', /altered/)
    await expect(listDir(outDir)).rejects.toThrow(/ENOENT/)
  })
})

describe('certificate.json round trip', () => {
  it('the cited calldata is the certificate the operators signed (hex of signers/signatures survive JSON)', async () => {
    const { certificateFromJSON } = await import('../../protocol/certificate-json.ts')
    const { certificate, cid } = certificateFromJSON(JSON.parse(await readFile(join(dir, 'certificate.json'), 'utf8')))
    expect(submitCertificateCalldata(certificate)).toBe(submitCertificateCalldata(cert))
    expect(cid.toString()).toBe(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')).certificate)
    expect(certificate.signatures.map((s) => s.signer as Hex)).toEqual(cert.signatures.map((s) => s.signer))
  })
})
