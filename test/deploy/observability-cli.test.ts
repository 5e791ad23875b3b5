import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseNodeConfig, type NodeConfig } from '../../node/archive/config.ts'
import { logLevel } from '../../node/cli/log-level.ts'
import { runArk } from '../support/recovery.ts'

describe('ark --version, --log-level, ARK_LOG_LEVEL, ARK_HTTP_HOST', () => {
  it('ark --version prints package.json\'s version (and the commit when known)', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    const r = await runArk(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^ark ${pkg.version.replace(/\./g, '\\.')}( \\([0-9a-f]{7,40}\\))?\\n$`))
    const j = await runArk(['--version', '--json'])
    expect((JSON.parse(j.stdout) as { version: string }).version).toBe(pkg.version)
  })

  // before the fix a bad level reached pino, which threw: "internal error … this is a bug in ark", exit 1
  it('a bad --log-level is a usage error (exit 2) naming the levels, before the config is read', async () => {
    const r = await runArk(['node', 'start', '--config', '/nonexistent/node.json', '--log-level', 'loud'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error [USAGE]: --log-level "loud" is not a log level; use one of trace, debug, info, warn, error, fatal, silent\n')
  })

  it('ARK_LOG_LEVEL is the default level; the flag wins; a bad value is named', () => {
    expect(logLevel(undefined, {})).toBe('info')
    expect(logLevel(undefined, { ARK_LOG_LEVEL: 'debug' })).toBe('debug')
    expect(logLevel('warn', { ARK_LOG_LEVEL: 'debug' })).toBe('warn')
    expect(() => logLevel(undefined, { ARK_LOG_LEVEL: 'verbose' })).toThrow(/^ARK_LOG_LEVEL "verbose" is not a log level/)
  })

  it('ARK_HTTP_HOST overrides http.host (parsed with the config, so check-config and the devnet see it too); a value that is no host is refused', () => {
    const file = { dataDir: '/d', chain: { chainId: 1, rpc: ['http://127.0.0.1:8545'] }, adapter: { id: 'perp-reference', config: {} }, checkpoint: { interval: 10 }, operators: { file: 'o.json' }, key: { keystore: 'k.json' }, http: { host: '127.0.0.1', port: 9545 } }
    const host = (env: NodeJS.ProcessEnv): NodeConfig['http'] => parseNodeConfig(file, '/', env).http
    expect(host({}).host).toBe('127.0.0.1')
    expect(host({ ARK_HTTP_HOST: '0.0.0.0' })).toEqual({ host: '0.0.0.0', port: 9545, admin: false })
    expect(host({ ARK_HTTP_HOST: '::' }).host).toBe('::')
    expect(host({ ARK_HTTP_HOST: 'ark-node-0.internal' }).host).toBe('ark-node-0.internal')
    expect(() => host({ ARK_HTTP_HOST: 'http://0.0.0.0:80/' })).toThrow(/ARK_HTTP_HOST .* is not an IP address or host name/)
  })
})
