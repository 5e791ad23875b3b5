import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const running = new Set<ChildProcess>()

/** `ark devnet start` with one node until its first certificate, as `npm start` runs it (JSON events). */
function devnet(dir: string): Promise<{ code: number; events: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['node/cli/bin.js', 'devnet', 'start', '--nodes', '1', '--checkpoints', '1', '--interval', '4', '--traders', '6', '--dir', dir, '--json'], { cwd: repo })
    running.add(p)
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('exit', (c) => {
      running.delete(p)
      resolve({ code: c ?? 1, events: out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>), stderr: err })
    })
  })
}

afterAll(() => {
  // a failed or timed-out test leaves no devnet behind (SIGTERM stops its nodes and anvil)
  for (const p of running) p.kill('SIGTERM')
})

describe('a second `npm start` in the same directory', () => {
  // issue 14: the second run showed the first chain's certificates and `ark fetch` lines that failed
  it('starts fresh, says so, and certifies the new chain only', { timeout: 150_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-devnet-twice-'))
    try {
      const first = await devnet(dir)
      expect(first.code, first.stderr).toBe(0)
      expect(first.events[0]).toEqual({ event: 'fresh-start', dir, removed: [] })
      const before = first.events.filter((e) => e.event === 'certified').map((e) => e.certificate)
      expect(before.length).toBeGreaterThan(0)
      expect(await readdir(dir)).toContain('node0')

      const second = await devnet(dir)
      expect(second.code, second.stderr).toBe(0)
      expect(second.events[0]).toEqual({ event: 'fresh-start', dir, removed: ['adapter.json', 'deployment.json', 'node0', 'operators.json'] })
      const certified = second.events.filter((e) => e.event === 'certified')
      expect(certified.length).toBeGreaterThan(0)
      for (const c of certified) {
        // a certificate of the new chain, signed by this run's node
        expect(before).not.toContain(c.certificate)
        expect(c.signedBy).toEqual([0])
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
