/**
 * Issue 10 item 12: one process per data directory. `ark node start` and every command that writes
 * there hold an exclusive lock; a second one exits 1 naming the holder's pid; a stale lock (its
 * holder is dead) is taken over.
 *
 * Fails on the code before this change: there was no lock (node/fs/data-dir-lock.ts did not
 * exist), so a second `ark node start` on the same directory ran beside the first and both could
 * sign two contents for one checkpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE } from '../../node/fs/data-dir-lock.ts'

const repoRoot = resolve(import.meta.dirname, '../..')
const dirs: string[] = []
const children: ChildProcess[] = []
const servers: Server[] = []
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ark-lock-'))
  dirs.push(d)
  return d
}

function ark(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string; stdout: string }> } {
  const env = { ...process.env }
  delete env.ARK_DATA_DIR
  const child = spawn(process.execPath, ['node/cli/bin.js', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const done = new Promise<{ code: number | null; stderr: string; stdout: string }>((r) => child.once('close', (code) => r({ code, stderr, stdout })))
  return { child, done }
}

describe('data directory lock', () => {
  it('is exclusive (also within one process), names the holder, and is released', async () => {
    const dir = await tempDir()
    const lock = await acquireDataDirLock(dir)
    const err = await acquireDataDirLock(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DataDirLockedError)
    expect((err as Error).message).toContain(`pid ${process.pid}`)
    await lock.release()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    const again = await acquireDataDirLock(dir)
    await again.release()
  })

  it('a stale lock (dead holder) is taken over', async () => {
    const dir = await tempDir()
    // a pid that is not running: a child that has exited
    const dead = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => dead.once('exit', r))
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: dead.pid, host: 'x', since: 'then' }))
    const lock = await acquireDataDirLock(dir)
    const err = await acquireDataDirLock(dir).catch((e: unknown) => e)
    expect((err as Error).message).toContain(`pid ${process.pid}`)
    await lock.release()
  })

  it('a second `ark node start` on the same directory exits 1 naming the first; `ark signlog import` is refused too', async () => {
    const dir = await tempDir()
    // an RPC that accepts and never answers: the first node holds its lock while it waits for the chain
    const rpc = createServer(() => {})
    servers.push(rpc)
    await new Promise<void>((r) => rpc.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(rpc.address() as AddressInfo).port}`
    const keyFile = join(dir, 'dev.key')
    writeFileSync(keyFile, `0x${'42'.repeat(32)}\n`, { mode: 0o600 })
    const config = join(dir, 'node.json')
    writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'data'), chain: { chainId: 31337, rpc: [url] }, adapter: { id: 'perp-reference', config: {} }, checkpoint: { interval: 10 }, operators: { file: 'ops.json' }, key: { devPrivateKeyFile: 'dev.key' }, http: { port: 0 } }))

    const first = ark(['node', 'start', '--config', config, '--dev-key'])
    const lockFile = join(dir, 'data', LOCK_FILE)
    for (let i = 0; i < 600 && !existsSync(lockFile) && first.child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50))
    if (!existsSync(lockFile)) {
      first.child.kill('SIGKILL')
      throw new Error(`the first node did not take the lock: ${(await first.done).stderr}`)
    }

    const second = await ark(['node', 'start', '--config', config, '--dev-key']).done
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`pid ${first.child.pid}`)
    expect(second.stderr).toContain('in use by another Ark process')

    const history = join(dir, 'history.json')
    writeFileSync(history, JSON.stringify({ version: 1, entries: [] }))
    const imp = await ark(['signlog', 'import', '--data-dir', join(dir, 'data'), '--in', history]).done
    expect(imp.code).toBe(1)
    expect(imp.stderr).toContain(`pid ${first.child.pid}`)
    expect(first.child.exitCode).toBeNull()
  }, 60_000)
})
