/**
 * deploy/node.schema.json is generated from NODE_CONFIG_SCHEMA, the schema the
 * config parser checks every file against: the committed file must equal a
 * fresh generation byte for byte, and an independent validator (ajv) must
 * accept exactly the configs the parser accepts (fixed cases plus random
 * mutations of the example config).
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import Ajv from 'ajv'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseNodeConfig } from '../../node/archive/config.ts'
import { NODE_SCHEMA_FILE, nodeSchemaText } from '../../node/archive/config-schema.ts'

const example = JSON.parse(await readFile(fileURLToPath(new URL('../../deploy/node.example.json', import.meta.url)), 'utf8')) as Record<string, unknown>
const remoteExample = JSON.parse(await readFile(fileURLToPath(new URL('../../deploy/node.remote-signer.example.json', import.meta.url)), 'utf8')) as unknown
const schema = JSON.parse(await readFile(NODE_SCHEMA_FILE, 'utf8')) as object
const validate = new Ajv({ allErrors: false }).compile(schema)

/**
 * The schema leaves dataDir and chain.rpc optional because ARK_DATA_DIR and ARK_RPC_URLS may supply
 * them (the parser rejects a file without them and without the variables: test/node/config.test.ts);
 * with both variables set, file values are still checked and the two must agree exactly.
 */
const ENV = { ARK_DATA_DIR: '/var/lib/ark', ARK_RPC_URLS: 'http://127.0.0.1:8545' }

function parses(json: unknown): boolean {
  try {
    parseNodeConfig(json, '/srv/ark', ENV)
    return true
  } catch (err) {
    expect((err as Error).name).toBe('InvalidInputError')
    return false
  }
}

function set(json: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(json) as Record<string, unknown>
  let o = copy
  for (const p of path.slice(0, -1)) {
    if (o[p] === null || typeof o[p] !== 'object') o[p] = {}
    o = o[p] as Record<string, unknown>
  }
  if (value === undefined) delete o[path.at(-1)!]
  else o[path.at(-1)!] = value
  return copy
}

/** every path in the example (objects and leaves), plus a few keys it does not use */
function paths(o: unknown, prefix: string[] = []): string[][] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [prefix]
  return [prefix, ...Object.entries(o).flatMap(([k, v]) => paths(v, [...prefix, k]))].filter((p) => p.length > 0)
}
const PATHS = [...paths(example), ['adapter', 'module'], ['key', 'remote'], ['key', 'remote', 'url'], ['key', 'remote', 'address'], ['operators', 'file'], ['chain', 'finality', 'confirmations'], ['key', 'devPrivateKeyFile'], ['p2p', 'announce'], ['typo']]
const ADDR = `0x${'ab'.repeat(20)}`
const VALUES = [undefined, null, true, 0, -1, 1, 1.5, 70000, '', 'x', 'finalized', 'https://a.example', 'ws://a', ADDR, [], ['x'], ['https://a.example'], [ADDR, ADDR], {}, { confirmations: 3 }, { url: 'https://s.example', address: ADDR }]

describe('deploy/node.schema.json', () => {
  it('is exactly what node/archive/config-schema.ts generates (regenerate: node node/archive/config-schema.ts)', async () => {
    expect(await readFile(NODE_SCHEMA_FILE, 'utf8')).toBe(nodeSchemaText())
  })

  const minimal = { dataDir: 'd', chain: { chainId: 1, rpc: ['http://127.0.0.1:8545'] }, adapter: { id: 'perp-reference' }, checkpoint: { interval: 10 }, operators: { file: 'o.json' }, key: { keystore: 'k.json' } }
  const cases: [string, unknown, boolean][] = [
    ['the example config', example, true],
    ['the remote-signer, adapter-module example', remoteExample, true],
    ['a minimal config', minimal, true],
    ['an adapter module instead of an id', set(minimal, ['adapter'], { module: './a.js', config: {} }), true],
    ['a remote signer', set(minimal, ['key'], { remote: { url: 'https://u:p@signer.example', address: ADDR } }), true],
    ['confirmations finality', set(minimal, ['chain', 'finality'], { confirmations: 12 }), true],
    ['no adapter id nor module', set(minimal, ['adapter'], { config: {} }), false],
    ['two key sources', set(minimal, ['key', 'devPrivateKeyFile'], 'dev.key'), false],
    ['both operator sources', set(minimal, ['operators', 'registry'], ADDR), false],
    ['port above 65535', set(minimal, ['http'], { port: 65536 }), false],
    ['unknown root key', set(minimal, ['datadir'], 'x'), false],
    ['finality "safe"', set(minimal, ['chain', 'finality'], 'safe'), false],
    ['a webhook without a secret', set(example, ['watchdog', 'webhooks'], [{ url: 'https://h.example' }]), false],
    ['a heartbeat keyed by a non-address', set(example, ['watchdog', 'oracle', 'heartbeats'], { feed: 60 }), false],
  ]
  it.each(cases)('%s: parser and schema agree (valid=%s)', (_what, json, valid) => {
    expect(validate(json)).toBe(valid)
    expect(parses(json)).toBe(valid)
  })

  it('random mutations of the example: the parser accepts exactly what the schema accepts', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...VALUES)), { minLength: 1, maxLength: 3 }), (edits) => {
        const json = edits.reduce<unknown>((j, [p, v]) => set(j, p, v), example)
        const bySchema = validate(json) === true
        expect(parses(json), `${JSON.stringify(edits)}: schema says ${bySchema}; ${JSON.stringify(validate.errors)}`).toBe(bySchema)
      }),
      { numRuns: 3000 },
    )
  })
})
