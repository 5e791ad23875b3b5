/** Adapter modules (issue 12): resolution by built-in id, path, package name; clear errors for what is not an adapter. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadAdapter, loadAdapterModule, schemaFor } from '../../node/adapters/load.ts'
import { erc20BalancesAdapter } from '../../snapshot/adapters/erc20-balances/adapter.ts'
import { erc20Schema } from '../../snapshot/schema/erc20.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { verifyAccountProof } from '../../snapshot/proof/verify.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { runArk } from '../support/recovery.ts'

let dir: string
const ERC20 = new URL('../../snapshot/adapters/erc20-balances/adapter.ts', import.meta.url).pathname
const SCHEMA = new URL('../../snapshot/schema/erc20.ts', import.meta.url).pathname

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-adapter-load-'))
  // a package that re-exports a valid adapter under a new id and schema id, installed in node_modules
  const pkg = join(dir, 'project/node_modules/@acme/ark-vault')
  await mkdir(pkg, { recursive: true })
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/ark-vault', type: 'module', ark: { adapter: './entry.ts' } }))
  await writeFile(
    join(pkg, 'entry.ts'),
    `import { erc20BalancesAdapter } from ${JSON.stringify(ERC20)}\nimport { erc20Schema } from ${JSON.stringify(SCHEMA)}\nexport const schema = { ...erc20Schema, id: 'acme.vault.share', version: 2 }\nexport const adapter = { ...erc20BalancesAdapter, id: 'acme-vault', schema }\nexport const schemas = [{ ...schema, version: 1 }]\n`,
  )
  // a schema whose keys are 32 bytes (a position id, not an address)
  await writeFile(
    join(dir, 'wide-keys.ts'),
    `import { erc20BalancesAdapter } from ${JSON.stringify(ERC20)}\nimport { erc20Schema } from ${JSON.stringify(SCHEMA)}\nexport const schema = { ...erc20Schema, id: 'acme.position', version: 1, keyLength: 32, leafEncoding: ['bytes32', 'uint256'] }\nexport const adapter = { ...erc20BalancesAdapter, id: 'acme-positions', schema }\n`,
  )
  await writeFile(join(dir, 'not-adapter.js'), 'export const adapter = { id: "x", version: "1" }\n')
  await writeFile(join(dir, 'nothing.js'), 'export const hello = 1\n')
  await writeFile(join(dir, 'builtin-id.ts'), `import { erc20BalancesAdapter } from ${JSON.stringify(ERC20)}\nexport default erc20BalancesAdapter\n`)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('adapter modules', () => {
  it('built-in ids are modules shipped with Ark', async () => {
    expect(await loadAdapter('erc20-balances')).toBe(erc20BalancesAdapter)
  })

  it('a package name resolves from node_modules of the working directory (package.json "ark.adapter"); a path resolves too', async () => {
    const cwd = join(dir, 'project')
    const m = await loadAdapterModule('@acme/ark-vault', { cwd })
    expect(m.adapter.id).toBe('acme-vault')
    expect(m.schemas.map((s) => `${s.id}@${s.version}`)).toEqual(['acme.vault.share@2', 'acme.vault.share@1'])
    expect((await loadAdapter('./node_modules/@acme/ark-vault', { cwd })).id).toBe('acme-vault')
  })

  it('a snapshot schema is found among installed modules (every version a module declares); an unknown one names the adapter that wrote it', async () => {
    const cwd = join(dir, 'project')
    expect(await schemaFor(erc20Schema.id, 1, { cwd })).toBe(erc20Schema)
    expect((await schemaFor('acme.vault.share', 1, { cwd, env: {} })).version).toBe(1)
    await expect(schemaFor('acme.vault.share', 3, { cwd, env: {}, writtenBy: { id: 'acme-vault', version: '3.0.0' } })).rejects.toThrow(/version 3 is not known.*\(.*ark-vault\).*written by adapter "acme-vault" version 3\.0\.0.*Install the adapter module/)
    await expect(schemaFor('acme.vault.share', 2, { cwd: dir, env: {} })).rejects.toThrow(/none installed/)
    expect((await schemaFor('acme.vault.share', 2, { cwd: dir, env: { ARK_ADAPTERS: join(dir, 'project/node_modules/@acme/ark-vault') } })).id).toBe('acme.vault.share')
  })

  it('what is not an adapter is refused with what is missing', async () => {
    await expect(loadAdapter(join(dir, 'not-adapter.js'))).rejects.toThrow(/exports an adapter missing description \(string\), parseConfig\(\), configJSON\(\), startBlock\(\), contracts\(\), createState\(\)/)
    await expect(loadAdapter(join(dir, 'nothing.js'))).rejects.toThrow(/exports no adapter: export const adapter/)
    await expect(loadAdapter(join(dir, 'builtin-id.ts'))).rejects.toThrow(/uses the id "erc20-balances" of a built-in adapter/)
    await expect(loadAdapter('ark-adapter-nope', { cwd: dir })).rejects.toThrow(/not installed .*npm install ark-adapter-nope/)
    await expect(loadAdapter('./missing.js', { cwd: dir })).rejects.toThrow(/not found/)
  })

  it('ark snapshot prove --account takes a key of the schema\'s declared length (32 bytes here), the schema coming from a module', async () => {
    const m = await loadAdapterModule(join(dir, 'wide-keys.ts'))
    const key = new Uint8Array(32).fill(0x5a)
    const store = new MemoryBlockStore()
    const meta = { block: { chainId: 1n, number: 5n, hash: `0x${'05'.repeat(32)}` as const, timestamp: 1n }, adapter: { id: 'acme-positions', version: '1.0.0', configHash: `0x${'00'.repeat(32)}` as const } }
    const { snapshot } = await buildSnapshot({ schema: m.adapter.schema, meta, markets: { token: `0x${'11'.repeat(20)}`, totalSupply: 7n }, records: [{ key, record: { balance: 7n } }, { key: new Uint8Array(32).fill(1), record: { balance: 1n } }], store })
    const chunks: Uint8Array[] = []
    for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
    const car = join(dir, 'wide.car')
    await writeFile(car, Buffer.concat(chunks))
    const saved = process.env.ARK_ADAPTERS
    process.env.ARK_ADAPTERS = join(dir, 'wide-keys.ts')
    try {
      const r = await runArk(['snapshot', 'prove', car, '--account', bytesToHex(key)])
      expect(r.code, r.stderr).toBe(0)
      verifyAccountProof(JSON.parse(r.stdout) as Parameters<typeof verifyAccountProof>[0], { expectedRoot: snapshot.root.stateRoot })
      const short = await runArk(['snapshot', 'prove', car, '--account', `0x${'5a'.repeat(20)}`, '--json'])
      expect(short.code).toBe(1)
      expect(short.stderr).toMatch(/--account must be 32 bytes, got 20 bytes/)
    } finally {
      if (saved === undefined) delete process.env.ARK_ADAPTERS
      else process.env.ARK_ADAPTERS = saved
    }
  })
})
