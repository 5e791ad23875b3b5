/**
 * One ark mirror per directory (issue 18): the lock file names the running
 * mirror (pid, host, start time); a second mirror on the same directory is
 * refused with that name; a lock left by a process that no longer runs is
 * taken over with a notice; a released lock is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { lockMirror, MIRROR_LOCK_FILE } from '../../node/recovery/mirror-lock.ts'
import { runMirror } from '../../node/recovery/mirror.ts'
import { fileTrust } from '../../node/recovery/trust.ts'
import { addr, OP } from '../protocol/support.ts'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-mirror-lock-'))
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ operators: OP.map((o) => ({ address: addr(o), weight: 1 })) }))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => child.on('exit', resolve))
  return child.pid!
}

describe('mirror lock', () => {
  it('refuses a second mirror on the directory, naming the first; a released lock is gone', async () => {
    const d = join(dir, 'a')
    await mkdir(d)
    const first = await lockMirror(d)
    const body = JSON.parse(await readFile(join(d, MIRROR_LOCK_FILE), 'utf8')) as { pid: number; host: string; startedAt: string }
    expect(body.pid).toBe(process.pid)
    expect(body.host).toBe(hostname())
    await expect(lockMirror(d)).rejects.toThrow(new RegExp(`another ark mirror runs on .*pid ${process.pid}.*started ${body.startedAt}`))
    // runMirror takes the lock before anything else
    const trust = await fileTrust(join(dir, 'operators.json'))
    await expect(runMirror({ sources: () => [], chainId: 31337n, adapterId: 'synth', trust, dir: d, signal: new AbortController().signal, once: true })).rejects.toThrow(/another ark mirror runs/)
    await first.release()
    await expect(stat(join(d, MIRROR_LOCK_FILE))).rejects.toThrow()
    const again = await lockMirror(d)
    await again.release()
  })

  it('takes over the lock of a process that no longer runs, with a notice', async () => {
    const d = join(dir, 'b')
    await mkdir(d)
    const pid = await deadPid()
    await writeFile(join(d, MIRROR_LOCK_FILE), JSON.stringify({ pid, host: hostname(), startedAt: '2026-12-05T00:00:00.000Z' }))
    const notices: string[] = []
    const lock = await lockMirror(d, (m) => notices.push(m))
    expect(notices).toHaveLength(1)
    expect(notices[0]).toMatch(new RegExp(`stale lock .*pid ${pid} .*no longer runs`))
    expect((JSON.parse(await readFile(join(d, MIRROR_LOCK_FILE), 'utf8')) as { pid: number }).pid).toBe(process.pid)
    await lock.release()
  })

  it('a mirror run releases its lock when it ends', async () => {
    const d = join(dir, 'c')
    const trust = await fileTrust(join(dir, 'operators.json'))
    const stop = new AbortController()
    stop.abort()
    await runMirror({ sources: () => [], chainId: 31337n, adapterId: 'synth', trust, dir: d, signal: stop.signal })
    await expect(stat(join(d, MIRROR_LOCK_FILE))).rejects.toThrow()
  })
})
