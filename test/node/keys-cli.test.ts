/**
 * `ark keys new` (node/cli/node/keys.ts) as a child process: prints only the
 * address, writes a 0600 keystore that decrypts to it, and refuses weak
 * passwords, public password files and (should refuse) existing keystores.
 * Each successful run costs one default-strength scrypt (n=2^18, r=8), so
 * there are only two of them.
 */
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'vitest'
import { decryptKeystore, KEYSTORE_DEFAULTS } from '../../node/keys/keystore.ts'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const PASSWORD = 'a long enough password'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** The child env: no password or other ARK_ settings inherited from the test runner. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARK_')) env[k] = v
  return { ...env, ...extra }
}

function arkKeysNew(args: string[], env = childEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node/cli/bin.js', 'keys', 'new', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A temporary directory removed when this test (the tests run concurrently) finishes. */
async function dir(onTestFinished: (fn: () => Promise<void>) => void): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ark-keys-cli-'))
  onTestFinished(() => rm(d, { recursive: true, force: true }))
  return d
}

async function passwordFile(d: string, password: string, mode = 0o600): Promise<string> {
  const p = join(d, 'pw')
  await writeFile(p, `${password}\n`)
  await chmod(p, mode)
  return p
}

const HEX64 = /[0-9a-fA-F]{64}/

describe.concurrent('ark keys new', () => {
  it('writes a 0600 keystore that decrypts to the printed address, and prints no secret', async ({ expect, onTestFinished }) => {
    const d = await dir(onTestFinished)
    const out = join(d, 'ks.json')
    const r = await arkKeysNew(['--out', out, '--password-file', await passwordFile(d, PASSWORD)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toMatch(HEX64)
    expect(r.stderr).not.toMatch(HEX64)
    expect(r.stdout).not.toContain(PASSWORD)
    const m = /operator address (0x[0-9a-fA-F]{40})\n/.exec(r.stdout)
    expect(m, r.stdout).not.toBeNull()
    const address = m![1]!

    expect((await stat(out)).mode & 0o777).toBe(0o600)
    expect(await readdir(d)).toEqual(['ks.json', 'pw'])
    const ks = JSON.parse(await readFile(out, 'utf8')) as { address: string; crypto: { kdfparams: { n: number; r: number; p: number } } }
    expect(ks.address).toBe(address.slice(2).toLowerCase())
    expect(ks.crypto.kdfparams).toMatchObject({ n: KEYSTORE_DEFAULTS.n, r: KEYSTORE_DEFAULTS.r, p: KEYSTORE_DEFAULTS.p })
    const account = await decryptKeystore(ks, PASSWORD)
    expect(account.address).toBe(address)
  })

  it('refuses a password shorter than 8 characters: exit 1, no keystore', async ({ expect, onTestFinished }) => {
    const d = await dir(onTestFinished)
    const out = join(d, 'ks.json')
    const r = await arkKeysNew(['--out', out, '--password-file', await passwordFile(d, 'short12')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/at least 8 characters/)
    expect(r.stderr).not.toContain('short12')
    expect(await readdir(d)).toEqual(['pw'])
  })

  it('refuses a password file readable by others: exit 1, no keystore', async ({ expect, onTestFinished }) => {
    const d = await dir(onTestFinished)
    const out = join(d, 'ks.json')
    const r = await arkKeysNew(['--out', out, '--password-file', await passwordFile(d, PASSWORD, 0o644)])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('chmod 600')
    expect(r.stderr).not.toContain(PASSWORD)
    expect(await readdir(d)).toEqual(['pw'])
  })

  // BUG (node/cli/node/keys.ts run(): no existence check before writeFileAtomic, which renames over
  // the target): the usage says "--out keystore.json (must not exist)", but an existing file (an
  // operator's only key!) is silently replaced by a new key: exit 0, old key gone. Fix: refuse when
  // `out` exists (e.g. stat → ENOENT required, plus link(tmp, out) / 'wx' so a race cannot overwrite).
  it('refuses to overwrite an existing --out file', async ({ expect, onTestFinished }) => {
    const d = await dir(onTestFinished)
    const out = join(d, 'ks.json')
    const precious = '{"version":3,"note":"the only copy of an operator key"}\n'
    await writeFile(out, precious, { mode: 0o600 })
    const r = await arkKeysNew(['--out', out, '--password-file', await passwordFile(d, PASSWORD)])
    expect(await readFile(out, 'utf8')).toBe(precious)
    expect(r.code).toBe(1)
  })
})
