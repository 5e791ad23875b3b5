/**
 * Acceptance (issue 12): an adapter written outside Ark's source tree — test/fixtures/token-ledger-adapter,
 * plain JavaScript importing only the public SDK (`ark/adapter`, resolved through package.json `exports`
 * via a node_modules link this test makes) — is loaded from the node config's `adapter.module`,
 * certified by a 4-node network, and fetched, verified and proven with the `ark` CLI. No Ark code
 * knows this adapter.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseNodeConfig } from '../../node/archive/config.ts'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { REPO_ROOT } from '../../node/contracts/compile.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'
import { blockNumber } from '../support/chain.ts'
import { errorOf, runArk } from '../support/recovery.ts'
import { linkSdk } from '../support/sdk-link.ts'

const FIXTURE = fileURLToPath(new URL('../fixtures/token-ledger-adapter', import.meta.url))
let fx: ArchiveFixture
let savedAdapters: string | undefined

beforeAll(async () => {
  // what `npm install ark` would give the adapter's project: the package, resolved through its exports map
  await linkSdk(FIXTURE)
  savedAdapters = process.env.ARK_ADAPTERS
  delete process.env.ARK_ADAPTERS
  fx = await archiveFixture({ name: 'outside-adapter', seed: 12, traders: 8, steps: 30 })
}, 180_000)

afterAll(async () => {
  if (savedAdapters === undefined) delete process.env.ARK_ADAPTERS
  else process.env.ARK_ADAPTERS = savedAdapters
  await fx?.stop()
})

describe('a third-party adapter module', () => {
  it('is loaded from adapter.module, certified by 4 nodes, and fetched, verified and proven by the CLI', { timeout: 300_000 }, async () => {
    const token = fx.chain.deployment.assets[0]!.token.toLowerCase()
    const adapterConfig = { token, startBlock: Number(fx.chain.deployment.deployBlock) }
    // the config file form: a module path relative to the config file
    const parsed = parseNodeConfig(
      { dataDir: 'd', chain: { chainId: 31337, rpc: [fx.chain.anvil.rpcUrl] }, adapter: { id: 'token-ledger', module: '../fixtures/token-ledger-adapter', config: adapterConfig }, checkpoint: { interval: 4 }, operators: { file: 'o.json' }, key: { devPrivateKeyFile: 'k' } },
      join(REPO_ROOT, 'test', 'sdk'),
    )
    expect(parsed.adapter.module).toBe(FIXTURE)

    const configs = await writeClusterConfigs(fx.dir, fx.chain, 4, { firstBlock: await blockNumber(fx.chain), interval: 4 })
    const nodes: ArchiveNode[] = []
    for (const c of configs) {
      c.adapter = parsed.adapter
      nodes.push(await fx.start(c))
    }
    fx.mine({ seed: 700, traders: 8, steps: 20 })
    const cert = await until(
      'a certificate identical on all 4 nodes',
      () => {
        for (const s of nodes[0]!.certificates.list()) {
          if (nodes.every((n) => n.certificates.get(s.certificate.body.blockNumber)?.cid.toString() === s.cid.toString()) && s.certificate.body.adapterId === 'token-ledger') return s
        }
        return undefined
      },
      180_000,
    )
    for (const n of nodes) {
      expect(n.fatal).toBeUndefined()
      expect(n.divergences).toEqual([])
    }
    // a node lists a certificate a moment before its gateway serves the certificate block (seen as a 404 under load)
    await until('the gateway serving the certificate', async () => (await fetch(`${nodes[1]!.httpUrl!}/ipfs/${cert.cid.toString()}?format=raw`)).ok, 60_000)
    const block = cert.certificate.body.blockNumber.toString()
    const trust = join(fx.dir, 'operators.json')
    const fetchArgs = (out: string): string[] => ['fetch', '--chain', '31337', '--adapter', 'token-ledger', '--block', block, '--trust', trust, '--gateway', nodes[1]!.httpUrl!, '--out', out, '--json']

    // without the module installed, the schema is unknown: the error says which adapter wrote it and how to install it
    const missing = await runArk(fetchArgs(join(fx.dir, 'missing')))
    expect(missing.code).not.toBe(0)
    expect(errorOf(missing).code, missing.stderr).toBe('UNSUPPORTED_VERSION') // not blamed on the signers: the fix is ours
    expect(errorOf(missing).message).toMatch(/record schema "fixture\.token-ledger\.holder" version 1 is not known.*written by adapter "token-ledger" version 1\.0\.0.*Install the adapter module.*ARK_ADAPTERS/)

    process.env.ARK_ADAPTERS = FIXTURE
    const out = join(fx.dir, 'fetched')
    const fetched = await runArk(fetchArgs(out))
    expect(fetched.code, fetched.stderr).toBe(0)
    expect((JSON.parse(fetched.stdout) as { snapshot: string }).snapshot).toBe(cert.certificate.body.snapshotCid.toString())

    const verified = await runArk(['verify', out, '--trust', trust, '--json'])
    expect(verified.code, verified.stderr).toBe(0)

    // a holder's proof: the leaf is (holder, uint128 balance, uint32 transfers) as the module's schema declares
    const records = (await readFile(join(out, 'accounts.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { holder: string; balance: string; transfers: number })
    expect(records.length).toBeGreaterThan(0)
    const holder = records[0]!
    const proved = await runArk(['snapshot', 'prove', join(out, 'snapshot.car'), '--account', holder.holder])
    expect(proved.code, proved.stderr).toBe(0)
    const proof = JSON.parse(proved.stdout) as Parameters<typeof verifyAccountProof>[0]
    expect(proof.value).toEqual([holder.holder, holder.balance, String(holder.transfers)])
    verifyAccountProof(proof, { expectedRoot: cert.certificate.body.stateRoot })
    // export and diff open it through the same schema resolution
    const csv = await runArk(['snapshot', 'export', join(out, 'snapshot.car'), '--format', 'csv'])
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout.split(/\r?\n/)[0]).toBe('holder,balance,transfers')
    const diff = await runArk(['diff', out, out, '--json'])
    expect(diff.code, diff.stderr).toBe(0)

    await writeFile(join(fx.dir, 'proof.json'), proved.stdout)
    const checked = await runArk(['snapshot', 'verify-proof', join(fx.dir, 'proof.json'), '--root', cert.certificate.body.stateRoot])
    expect(checked.code, checked.stderr).toBe(0)
  })
})
