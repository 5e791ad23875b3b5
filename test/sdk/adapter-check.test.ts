/**
 * `ark adapter check` (issue 12): the conformance kit passes for Ark's built-in adapters and for the
 * outside fixture adapter on a real chain, and fails — naming account and field — for a fixture
 * adapter with a planted bug.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runWorkload } from '../../node/devnet/workload.ts'
import type { ConformanceReport } from '../../node/adapters/conformance.ts'
import { blockNumber, startChain, type ChainFixture } from '../support/chain.ts'
import { runArk } from '../support/recovery.ts'
import { linkSdk } from '../support/sdk-link.ts'

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))
let f: ChainFixture
let dir: string
let range: string[]

beforeAll(async () => {
  await linkSdk(join(FIXTURES, 'token-ledger-adapter'))
  dir = await mkdtemp(join(tmpdir(), 'ark-adapter-check-'))
  f = await startChain()
  const deployed = await blockNumber(f) // every contract exists from here
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 31, traders: 8, steps: 40 })
  range = ['--rpc', f.anvil.rpcUrl, '--from', deployed.toString(), '--to', (await blockNumber(f)).toString(), '--checkpoints', '3', '--json']
  const token = f.deployment.assets[0]!.token.toLowerCase()
  await writeFile(join(dir, 'perp.json'), JSON.stringify({ exchange: f.deployment.exchange, options: f.deployment.options, startBlock: Number(f.deployment.deployBlock) }))
  await writeFile(join(dir, 'token.json'), JSON.stringify({ token, startBlock: Number(f.deployment.deployBlock) }))
}, 180_000)

afterAll(async () => {
  await f?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const check = async (module: string, config: string): Promise<{ code: number; report: ConformanceReport; stderr: string }> => {
  const r = await runArk(['adapter', 'check', '--module', module, '--config', join(dir, config), ...range])
  return { code: r.code, report: JSON.parse(r.stdout) as ConformanceReport, stderr: r.stderr }
}

describe('ark adapter check', () => {
  it('passes for the built-in adapters and the outside fixture adapter', { timeout: 120_000 }, async () => {
    for (const [module, config] of [['perp-reference', 'perp.json'], ['erc20-balances', 'token.json'], [join(FIXTURES, 'token-ledger-adapter'), 'token.json']] as const) {
      const { code, report, stderr } = await check(module, config)
      expect(report.failures, `${module}: ${stderr}`).toEqual([])
      expect(code).toBe(0)
      expect(report.checkpoints).toHaveLength(3)
      expect(report.checkpoints[2]!.accounts).toBeGreaterThan(0)
    }
  })

  it('fails for the planted bug, naming the account and the field', { timeout: 120_000 }, async () => {
    const { code, report } = await check(join(FIXTURES, 'token-ledger-buggy-adapter'), 'token.json')
    expect(code).toBe(1)
    expect(report.ok).toBe(false)
    const f0 = report.failures[0]!
    expect(f0).toMatchObject({ check: 'round-trip', field: 'transfers' })
    expect(f0.account).toMatch(/^0x[0-9a-f]{40}$/)
    expect(f0.message).toContain(`account ${f0.account} field transfers`)
  })
})
