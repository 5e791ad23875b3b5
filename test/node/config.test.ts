/**
 * The node config (node/archive/config.ts): defaults, one error per bad input
 * that names the offending key, environment overrides, and path resolution
 * against the config file's directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadNodeConfig, NODE_DEFAULTS, parseNodeConfig } from '../../node/archive/config.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'

const BASE = '/srv/ark'

function minimal(): Record<string, unknown> {
  return {
    dataDir: 'data',
    chain: { chainId: 31337, rpc: ['http://127.0.0.1:8545'] },
    adapter: { id: 'perp-reference', config: { market: '0xabc' } },
    checkpoint: { interval: 100 },
    operators: { file: 'operators.json' },
    key: { keystore: 'keystore.json' },
  }
}

/** A copy of the minimal config with `path` (dot-separated) set to `value` (undefined deletes). */
function withValue(path: string, value: unknown): Record<string, unknown> {
  const cfg = structuredClone(minimal())
  const parts = path.split('.')
  let o = cfg
  for (const p of parts.slice(0, -1)) {
    if (typeof o[p] !== 'object' || o[p] === null) o[p] = {}
    o = o[p] as Record<string, unknown>
  }
  if (value === undefined) delete o[parts.at(-1)!]
  else o[parts.at(-1)!] = value
  return cfg
}

function parseError(json: unknown, env: NodeJS.ProcessEnv = {}): InvalidInputError {
  try {
    parseNodeConfig(json, BASE, env)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError)
    return err as InvalidInputError
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`)
}

describe('parseNodeConfig', () => {
  it('parses a minimal config and fills in the defaults', () => {
    const cfg = parseNodeConfig(minimal(), BASE)
    expect(cfg).toEqual({
      dataDir: '/srv/ark/data',
      chain: { chainId: 31337n, rpc: ['http://127.0.0.1:8545'], finality: { kind: 'finalized' } },
      adapter: { id: 'perp-reference', config: { market: '0xabc' } },
      checkpoint: { interval: 100n, quorumTimeoutMs: NODE_DEFAULTS.quorumTimeoutMs, pollMs: NODE_DEFAULTS.pollMs },
      operators: { file: '/srv/ark/operators.json' },
      key: { keystore: '/srv/ark/keystore.json' },
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] },
      http: { host: '127.0.0.1', port: 9545, admin: false },
      retention: { keepLast: 64, keepEvery: 1000 },
    })
    // the default listen list is a copy, not the frozen default itself
    cfg.p2p.listen.push('/ip4/0.0.0.0/tcp/4001')
    expect(NODE_DEFAULTS.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
  })

  it('parses a full config', () => {
    const cfg = parseNodeConfig(
      {
        dataDir: '/var/lib/ark',
        chain: { chainId: 1, rpc: ['https://a.example/rpc', 'http://b.example:8545'], finality: { confirmations: 12 } },
        adapter: { id: 'perp-reference', config: null },
        checkpoint: { interval: 50, quorumTimeoutMs: 5000, pollMs: 250, firstBlock: 19_000_000 },
        operators: { registry: '0xAbCdEf0123456789aBcDeF0123456789AbCdEf01' },
        key: { keystore: 'keys/op.json', passwordFile: '../secrets/pw' },
        p2p: { listen: ['/ip4/0.0.0.0/tcp/4001'], bootstrap: ['/dns4/boot.example/tcp/4001/p2p/12D3KooW'], announce: ['/dns4/ark.example/tcp/4001'] },
        http: { host: '0.0.0.0', port: 8080, admin: true },
        retention: { keepLast: 10, keepEvery: 100 },
      },
      BASE,
    )
    expect(cfg.dataDir).toBe('/var/lib/ark')
    expect(cfg.chain).toEqual({ chainId: 1n, rpc: ['https://a.example/rpc', 'http://b.example:8545'], finality: { kind: 'confirmations', confirmations: 12 } })
    expect(cfg.checkpoint).toEqual({ interval: 50n, quorumTimeoutMs: 5000, pollMs: 250, firstBlock: 19_000_000n })
    expect(cfg.operators).toEqual({ registry: '0xabcdef0123456789abcdef0123456789abcdef01' })
    expect(cfg.key).toEqual({ keystore: '/srv/ark/keys/op.json', passwordFile: '/srv/secrets/pw' })
    expect(cfg.p2p).toEqual({ listen: ['/ip4/0.0.0.0/tcp/4001'], bootstrap: ['/dns4/boot.example/tcp/4001/p2p/12D3KooW'], announce: ['/dns4/ark.example/tcp/4001'] })
    expect(cfg.http).toEqual({ host: '0.0.0.0', port: 8080, admin: true })
    expect(cfg.retention).toEqual({ keepLast: 10, keepEvery: 100 })
  })

  it('adapter.module is carried (a path resolved against the base directory, a package specifier as it is)', () => {
    const json = withValue('adapter.module', './adapters/mine.js')
    delete (json.adapter as Record<string, unknown>).id
    expect(parseNodeConfig(json, BASE).adapter).toEqual({ module: '/srv/ark/adapters/mine.js', config: { market: '0xabc' } })
    expect(parseNodeConfig(withValue('adapter.module', '@acme/ark-adapter'), BASE).adapter).toEqual({ id: 'perp-reference', module: '@acme/ark-adapter', config: { market: '0xabc' } })
  })

  it('a remote signer: URL kept as given (credentials included, for the signer client only), address lower-cased', () => {
    const key = parseNodeConfig(withValue('key', { remote: { url: 'https://user:pw@signer.example/rpc', address: '0xAbCdEf0123456789aBcDeF0123456789AbCdEf01' } }), BASE).key
    expect(key).toEqual({ remote: { url: 'https://user:pw@signer.example/rpc', address: '0xabcdef0123456789abcdef0123456789abcdef01' } })
  })

  it('a devPrivateKeyFile key resolves against the base directory', () => {
    expect(parseNodeConfig(withValue('key', { devPrivateKeyFile: 'dev.key' }), BASE).key).toEqual({ devPrivateKeyFile: '/srv/ark/dev.key' })
  })

  const bad: [string, unknown, RegExp][] = [
    ['root not an object', [], /"\(root\)" must be an object/],
    ['unknown root key', { ...minimal(), datadir: 'x' }, /"\(root\)" has unknown key "datadir"/],
    ['unknown key in chain', withValue('chain.rpcs', ['http://x']), /"chain" has unknown key "rpcs"/],
    ['unknown key in http', withValue('http.adress', '0.0.0.0'), /"http" has unknown key "adress"/],
    ['unknown key in checkpoint', withValue('checkpoint.intervall', 5), /"checkpoint" has unknown key "intervall"/],
    ['unknown key in p2p', withValue('p2p.peers', []), /"p2p" has unknown key "peers"/],
    ['unknown key in retention', withValue('retention.keep', 1), /"retention" has unknown key "keep"/],
    ['unknown key in adapter', withValue('adapter.version', 1), /"adapter" has unknown key "version"/],
    ['missing chain', withValue('chain', undefined), /"chain" must be an object/],
    ['missing chain.rpc', withValue('chain.rpc', undefined), /"chain\.rpc"/],
    ['empty chain.rpc', withValue('chain.rpc', []), /"chain\.rpc"/],
    ['chain.rpc a string', withValue('chain.rpc', 'http://127.0.0.1:8545'), /"chain\.rpc"/],
    ['bad rpc URL', withValue('chain.rpc', ['127.0.0.1:8545']), /"chain\.rpc" must be a non-empty list of http\(s\) URLs/],
    ['ws rpc URL', withValue('chain.rpc', ['ws://127.0.0.1:8546']), /"chain\.rpc"/],
    ['missing chainId', withValue('chain.chainId', undefined), /"chain\.chainId"/],
    ['chainId 0', withValue('chain.chainId', 0), /"chain\.chainId" must be an integer >= 1/],
    ['chainId as string', withValue('chain.chainId', '1'), /"chain\.chainId"/],
    ['finality neither "finalized" nor an object', withValue('chain.finality', 'safe'), /"chain\.finality"/],
    ['negative confirmations', withValue('chain.finality', { confirmations: -1 }), /"chain\.finality\.confirmations"/],
    ['missing adapter', withValue('adapter', undefined), /"adapter" must be an object/],
    ['missing adapter.id (and no adapter.module)', withValue('adapter.id', undefined), /"adapter" must be \{"id"/],
    ['empty adapter.module', withValue('adapter.module', ''), /"adapter\.module" must be a non-empty string/],
    ['remote signer without address', withValue('key', { remote: { url: 'https://signer.example' } }), /"key\.remote" must be an object|"key\.remote\.address"/],
    ['remote signer with a ws URL', withValue('key', { remote: { url: 'ws://signer.example', address: '0x' + '11'.repeat(20) } }), /"key\.remote\.url" must be an http\(s\) URL/],
    ['keystore and remote both', withValue('key', { keystore: 'k.json', remote: { url: 'https://s.example', address: '0x' + '11'.repeat(20) } }), /"key" must be \{"keystore"/],
    ['missing checkpoint.interval', withValue('checkpoint.interval', undefined), /"checkpoint\.interval"/],
    ['interval 0', withValue('checkpoint.interval', 0), /"checkpoint\.interval" must be an integer >= 1, got 0/],
    ['fractional interval', withValue('checkpoint.interval', 1.5), /"checkpoint\.interval"/],
    ['quorumTimeoutMs too small', withValue('checkpoint.quorumTimeoutMs', 10), /"checkpoint\.quorumTimeoutMs" must be an integer >= 100/],
    ['pollMs too small', withValue('checkpoint.pollMs', 1), /"checkpoint\.pollMs"/],
    ['negative firstBlock', withValue('checkpoint.firstBlock', -1), /"checkpoint\.firstBlock"/],
    ['operators neither file nor registry', withValue('operators', {}), /"operators" must be \{"file"/],
    ['operators registry not an address', withValue('operators', { registry: '0x1234' }), /"operators\.registry" must be a 0x-prefixed 20-byte address/],
    ['missing operators', withValue('operators', undefined), /"operators" must be an object/],
    ['key neither keystore nor devPrivateKeyFile', withValue('key', { passwordFile: 'pw' }), /"key" must be \{"keystore"/],
    ['missing key', withValue('key', undefined), /"key" must be an object/],
    ['p2p.listen not a list', withValue('p2p.listen', '/ip4/0.0.0.0/tcp/4001'), /"p2p\.listen" must be a list/],
    ['p2p.bootstrap with a number', withValue('p2p.bootstrap', [1]), /"p2p\.bootstrap" must be a list/],
    ['empty http.host', withValue('http.host', ''), /"http\.host"/],
    ['negative http.port', withValue('http.port', -1), /"http\.port"/],
    ['retention.keepLast 0', withValue('retention.keepLast', 0), /"retention\.keepLast" must be an integer >= 1/],
    ['missing dataDir', withValue('dataDir', undefined), /"dataDir" must be a non-empty string/],
    ['empty dataDir', withValue('dataDir', ''), /"dataDir"/],
  ]
  it.each(bad)('rejects %s, naming the key', (_what, json, message) => {
    const err = parseError(json)
    expect(err.code).toBe('INVALID_INPUT')
    expect(err.message).toMatch(message)
  })

  // BUG (config.ts, the "operators" and "key" branches): unlike every other section these objects are
  // not passed through only(), so a typo such as "pasword_file" or "registy" is silently ignored
  // (the node then fails later with "no keystore password", or uses the file instead of the registry).
  // Fix: only(ops, 'operators', ['file', 'registry']) and only(key, 'key', ['keystore', 'passwordFile', 'devPrivateKeyFile']).
  it('rejects unknown keys inside "key" and "operators"', () => {
    expect(parseError(withValue('key', { keystore: 'k.json', pasword_file: 'pw' })).message).toMatch(/"key" has unknown key "pasword_file"/)
    expect(parseError(withValue('operators', { file: 'ops.json', registy: '0x' + '11'.repeat(20) })).message).toMatch(/"operators" has unknown key "registy"/)
  })

  // BUG (config.ts int() for ports): no upper bound, so http.port 70000 (and ARK_HTTP_PORT=70000)
  // passes and the node only fails later at listen() with ERR_SOCKET_BAD_PORT. Fix: int(..., 0) && <= 65535.
  it('relayer: key and delay parsed, registry from operators.registry or its own; with a file set and no registry, an error says what to set', () => {
    const withRegistry = { ...minimal(), operators: { registry: '0xAbCdEf0123456789aBcDeF0123456789AbCdEf01' }, relayer: { keystore: 'relayer.json', delayMs: 60000 } }
    expect(parseNodeConfig(withRegistry, BASE).relayer).toEqual({ key: { keystore: resolve(BASE, 'relayer.json') }, delayMs: 60000, registry: '0xabcdef0123456789abcdef0123456789abcdef01' })
    const own = parseNodeConfig(withValue('relayer', { devPrivateKeyFile: 'r.key', registry: '0x00000000000000000000000000000000000000aa' }), BASE).relayer
    expect(own).toEqual({ key: { devPrivateKeyFile: resolve(BASE, 'r.key') }, delayMs: 0, registry: '0x00000000000000000000000000000000000000aa' })
    expect(parseError(withValue('relayer', { keystore: 'relayer.json' })).message).toMatch(/relayer\.registry/)
    expect(parseError(withValue('relayer', { delayMs: 5 })).message).toMatch(/relayer/)
  })

  it('rejects a port above 65535', () => {
    expect(parseError(withValue('http.port', 70000)).message).toMatch(/"http\.port"/)
  })

  describe('environment overrides', () => {
    it('ARK_DATA_DIR, ARK_RPC_URLS and ARK_HTTP_PORT replace the file values', () => {
      const cfg = parseNodeConfig(minimal(), BASE, { ARK_DATA_DIR: '/mnt/ark-data', ARK_RPC_URLS: 'https://one.example,http://two.example:8545', ARK_HTTP_PORT: '7001' })
      expect(cfg.dataDir).toBe('/mnt/ark-data')
      expect(cfg.chain.rpc).toEqual(['https://one.example', 'http://two.example:8545'])
      expect(cfg.http.port).toBe(7001)
    })

    it('ARK_RPC_URLS and ARK_DATA_DIR stand in for missing file values', () => {
      const json = withValue('chain.rpc', undefined)
      delete json.dataDir
      const cfg = parseNodeConfig(json, BASE, { ARK_DATA_DIR: '/mnt/ark-data', ARK_RPC_URLS: 'http://x.example' })
      expect(cfg.dataDir).toBe('/mnt/ark-data')
      expect(cfg.chain.rpc).toEqual(['http://x.example'])
    })

    it('an empty ARK_RPC_URLS means unset', () => {
      expect(parseNodeConfig(minimal(), BASE, { ARK_RPC_URLS: '' }).chain.rpc).toEqual(['http://127.0.0.1:8545'])
    })

    it('bad override values are rejected with the variable name', () => {
      expect(parseError(minimal(), { ARK_RPC_URLS: 'not-a-url' }).message).toMatch(/ARK_RPC_URLS/)
      expect(parseError(minimal(), { ARK_HTTP_PORT: 'eighty' }).message).toMatch(/ARK_HTTP_PORT/)
      expect(parseError(minimal(), { ARK_HTTP_PORT: '80.5' }).message).toMatch(/ARK_HTTP_PORT/)
    })

    // BUG (config.ts http.port): ARK_HTTP_PORT='' (e.g. "ARK_HTTP_PORT=" in an env file) is
    // Number('') = 0, so the node silently listens on a random port, while an empty ARK_RPC_URLS
    // is treated as unset. Fix: treat '' as unset (or reject it).
    it('an empty ARK_HTTP_PORT does not silently become port 0', () => {
      let port: number | undefined
      try {
        port = parseNodeConfig(withValue('http.port', 8080), BASE, { ARK_HTTP_PORT: '' }).http.port
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError)
        return
      }
      expect(port).toBe(8080)
    })
  })
})

describe('loadNodeConfig', () => {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })

  it('resolves relative paths against the config file directory, not the cwd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-config-'))
    dirs.push(dir)
    const file = join(dir, 'node.json')
    await writeFile(file, JSON.stringify({ ...minimal(), key: { keystore: 'keys/op.json', passwordFile: '../pw.txt' } }))
    const cfg = await loadNodeConfig(file, {})
    expect(cfg.dataDir).toBe(join(dir, 'data'))
    expect(cfg.operators).toEqual({ file: join(dir, 'operators.json') })
    expect(cfg.key).toEqual({ keystore: join(dir, 'keys', 'op.json'), passwordFile: resolve(dir, '..', 'pw.txt') })
    expect(cfg.dataDir.startsWith(process.cwd())).toBe(false)
  })

  it('applies environment overrides from the given env', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-config-'))
    dirs.push(dir)
    const file = join(dir, 'node.json')
    await writeFile(file, JSON.stringify(minimal()))
    const cfg = await loadNodeConfig(file, { ARK_DATA_DIR: '/mnt/ark', ARK_HTTP_PORT: '9000', ARK_RPC_URLS: 'https://rpc.example' })
    expect(cfg.dataDir).toBe('/mnt/ark')
    expect(cfg.http.port).toBe(9000)
    expect(cfg.chain.rpc).toEqual(['https://rpc.example'])
  })

  it('a missing or malformed file is an InvalidInputError naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-config-'))
    dirs.push(dir)
    const missing = join(dir, 'absent.json')
    await expect(loadNodeConfig(missing, {})).rejects.toThrow(new RegExp(`cannot read node config ${missing}`))
    const broken = join(dir, 'broken.json')
    await writeFile(broken, '{"dataDir": ')
    const err = await loadNodeConfig(broken, {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect((err as Error).message).toContain(broken)
  })
})
