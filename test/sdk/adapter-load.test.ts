/** Adapter modules (issue 12): resolution by built-in id, path, package name; clear errors for what is not an adapter. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadAdapter, loadAdapterModule, schemaFor } from '../../node/adapters/load.ts'
import { erc20BalancesAdapter } from '../../snapshot/adapters/erc20-balances/adapter.ts'
import { erc20Schema } from '../../snapshot/schema/erc20.ts'

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
})
