/**
 * `ark node check-config FILE` against a real anvil: a good config passes
 * every check (exit 0); a bad one fails each broken check with the problem
 * and its fix (exit 1), never showing the credentials in an RPC URL, and
 * changes nothing (no sign log, no port held).
 */
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../node/cli/main.ts'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'

const KEY = `0x${'5a'.repeat(32)}` as const
const ADDRESS = privateKeyToAccount(KEY).address
const SECRET = 'pw-9c2e1b'

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), pipe: async () => {}, tty: false })
  return { code, out, err }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

describe('ark node check-config', () => {
  let anvil: AnvilInstance | undefined
  let dir = ''
  let busy: Server | undefined
  beforeAll(async () => {
    anvil = await startAnvil({})
    dir = await mkdtemp(join(tmpdir(), 'ark-check-config-'))
    await writeFile(join(dir, 'dev.key'), KEY, { mode: 0o600 })
    await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: [{ address: ADDRESS, weight: 1 }, { address: `0x${'77'.repeat(20)}`, weight: 1 }] }))
    await writeFile(join(dir, 'others.json'), JSON.stringify({ operators: [{ address: `0x${'77'.repeat(20)}`, weight: 1 }] }))
  }, 60_000)
  afterAll(async () => {
    await new Promise<void>((r) => (busy === undefined ? r() : busy.close(() => r())))
    await anvil?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const config = (over: Record<string, unknown>): Record<string, unknown> => ({
    dataDir: 'data',
    chain: { chainId: 31337, rpc: [anvil!.rpcUrl], finality: { confirmations: 0 } },
    adapter: { id: 'perp-reference', config: { exchange: `0x${'01'.repeat(20)}`, options: `0x${'02'.repeat(20)}`, startBlock: 0 } },
    checkpoint: { interval: 10 },
    operators: { file: 'operators.json' },
    key: { devPrivateKeyFile: 'dev.key' },
    ...over,
  })

  it('passes a good config: every check ok, exit 0, nothing started', async () => {
    const http = await freePort()
    const p2p = await freePort()
    await writeFile(join(dir, 'good.json'), JSON.stringify(config({ http: { port: http }, p2p: { listen: [`/ip4/127.0.0.1/tcp/${p2p}`] } })))
    const r = await run(['node', 'check-config', join(dir, 'good.json'), '--json'])
    const report = JSON.parse(r.out) as { ok: boolean; checks: { check: string; ok: boolean; message: string }[] }
    expect(report.checks.filter((c) => !c.ok)).toEqual([])
    expect(report.checks.map((c) => c.check)).toEqual(['config', 'adapter', 'key files', 'key', 'rpc', 'operator set', 'data directory', 'ports'])
    expect(report.checks.find((c) => c.check === 'operator set')!.message).toContain(`${ADDRESS.toLowerCase()} has weight 1 of 2`)
    expect(r.code).toBe(0)
    expect(await readdir(join(dir, 'data'))).toEqual([])
  })

  it('fails each broken check with its fix (exit 1): key file mode, wrong chain behind a URL with credentials, not an operator, port taken', async () => {
    await writeFile(join(dir, 'open.key'), KEY)
    await chmod(join(dir, 'open.key'), 0o644)
    const port = await freePort()
    busy = createServer().listen(port, '127.0.0.1')
    const withCreds = anvil!.rpcUrl.replace('http://', `http://ops:${SECRET}@`)
    await writeFile(join(dir, 'bad.json'), JSON.stringify(config({ chain: { chainId: 1, rpc: [withCreds] }, key: { devPrivateKeyFile: 'open.key' }, http: { port } })))
    const r = await run(['node', 'check-config', join(dir, 'bad.json')])
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/FAIL key files .*has mode 644.*chmod 600/)
    expect(r.out).toMatch(/FAIL rpc .*serves chain 31337, but chain 1 is configured; fix the RPC URL or the chain id/)
    expect(r.out).toMatch(/FAIL ports .*127\.0\.0\.1:\d+ cannot be bound \(EADDRINUSE\); stop what listens there/)
    expect(r.err).toMatch(/check\(s\) failed: key files, rpc, ports/)
    expect(r.out + r.err).not.toContain(SECRET)

    await writeFile(join(dir, 'stranger.json'), JSON.stringify(config({ operators: { file: 'others.json' } })))
    const s = await run(['node', 'check-config', join(dir, 'stranger.json')])
    expect(s.code).toBe(1)
    expect(s.out).toMatch(new RegExp(`FAIL operator set +${ADDRESS.toLowerCase()} is not in the operator set .*register the key`))
  })

  it('an invalid file stops at the config check, naming the key', async () => {
    await writeFile(join(dir, 'typo.json'), JSON.stringify(config({ retention: { keeplast: 3 } })))
    const r = await run(['node', 'check-config', join(dir, 'typo.json')])
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/^FAIL config +config "retention" has unknown key "keeplast"; allowed: keepLast, keepEvery\n$/)
    expect((await run(['node', 'check-config'])).code).toBe(2)
  })
})
