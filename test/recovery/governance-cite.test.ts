/**
 * `ark cite --governor/--safe` as a user runs it: the proposal files are written atomically and
 * equal the --json output; bad or incomplete options fail with a usage error naming the fix, a
 * non-zero exit and no file written.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keccak256, toHex, type Hex } from 'viem'
import { safeBatchChecksum, type SafeBatch } from '../../node/recovery/proposal-safe.ts'
import type { GovernorProposal } from '../../node/recovery/proposal-governor.ts'
import { attestationBodyOf, buildTestSnapshot, certify, errorOf, runArk, testOperators, writeFetchedDir } from '../support/recovery.ts'

let tmp: string
let dir: string
const { ops } = testOperators('ark governance cite operator')
const A = (n: number): Hex => `0x${n.toString(16).padStart(2, '0').repeat(20)}`
const base = (): string[] => ['cite', dir, '--registry', A(0xdd), '--distributor', A(0x33), '--distributor-root', keccak256(toHex('root')), '--deadline', '1800000000', '--token', A(0xaa), '--amount', '5000']

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ark-governance-cite-'))
  const meta = { block: { chainId: 31337n, number: 77n, hash: keccak256(toHex('block 77')), timestamp: 1_700_000_000n }, adapter: { id: 'perp-reference', version: '1', configHash: keccak256(toHex('cfg')) } }
  const { snapshot, store } = await buildTestSnapshot(meta, [{ key: A(0x11), record: { collateral: [{ asset: A(0xaa), amount: 5n }], perps: [], options: [] } }])
  dir = join(tmp, 'snap')
  await writeFetchedDir(dir, snapshot, store, await certify(attestationBodyOf(snapshot), ops.slice(0, 3)))
})

afterAll(async () => {
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('ark cite --governor / --safe', () => {
  it('writes the Governor proposal and the Safe batch; the files equal the --json output', async () => {
    const gOut = join(tmp, 'proposal.json')
    const sOut = join(tmp, 'batch.json')
    const args = [...base(), '--governor', A(0x01), '--governor-out', gOut, '--safe', A(0x02), '--safe-out', sOut, '--created-at', '1700000000000', '--unpause', A(0x44)]
    const text = await runArk([...args, '--markdown', join(tmp, 'c.md')])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stderr).toContain(`wrote ${gOut}`)
    const g = JSON.parse(await readFile(gOut, 'utf8')) as GovernorProposal
    const s = JSON.parse(await readFile(sOut, 'utf8')) as SafeBatch
    const j = await runArk([...args, '--json'])
    expect(j.code, j.stderr).toBe(0)
    const out = JSON.parse(j.stdout) as { governor: GovernorProposal; safe: SafeBatch }
    expect(out.governor).toEqual(g)
    expect(out.safe).toEqual(s)
    expect(g.targets).toHaveLength(5)
    expect(g.description).toContain('certified block 77')
    expect(s.meta.checksum).toBe(safeBatchChecksum(s))
    expect(s.transactions.map((t) => t.contractMethod.name)).toEqual(['submitCertificate', 'setRoot', 'approve', 'fund', 'unpause'])
  })

  it('refuses incomplete or bad options with a usage error, a non-zero exit and no file', async () => {
    const out = join(tmp, 'bad')
    const cases: [string[], RegExp][] = [
      [['cite', dir, '--governor', A(1), '--json'], /--registry/],
      [['cite', dir, '--registry', A(0xdd), '--distributor', A(0x33), '--json'], /--governor ADDRESS or --safe ADDRESS/],
      [['cite', dir, '--registry', A(0xdd), '--governor', A(1), '--distributor', A(0x33), '--json'], /--deadline/],
      [['cite', dir, '--registry', A(0xdd), '--governor', A(1), '--token', A(0xaa), '--json'], /--token and --amount go together/],
      [['cite', dir, '--registry', A(0xdd), '--governor', A(1), '--distributor', A(0x33), '--deadline', '9', '--token', A(0xaa), '--amount', '1.5', '--json'], /--amount must be a decimal integer/],
      [[...base(), '--governor', A(1), '--distributor-root', '0x12', '--json'], /--distributor-root must be/],
      [[...base(), '--governor', A(1), '--unpause', 'nope', '--json'], /--unpause must be/],
      [[...base(), '--governor', A(1)], /--governor needs --governor-out FILE/],
      [[...base(), '--governor', A(1), '--governor-out', join(out, 'x.json'), '--safe', A(2), '--safe-out', join(out, 'x.json'), '--json'], /different files/],
    ]
    for (const [argv, message] of cases) {
      const r = await runArk(argv)
      expect(r.code, argv.join(' ')).not.toBe(0)
      expect(argv.includes('--json') ? errorOf(r).message : r.stderr, argv.join(' ')).toMatch(message)
    }
    // a snapshot certificate (kind 0) cannot open a registry-mode distributor without --distributor-root
    const kind0 = await runArk(['cite', dir, '--registry', A(0xdd), '--governor', A(1), '--distributor', A(0x33), '--deadline', '9', '--json'])
    expect(kind0.code).not.toBe(0)
    expect(errorOf(kind0).message).toMatch(/restitution certificate \(kind 2\)/)
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
