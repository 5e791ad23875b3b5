import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readCar } from '../../snapshot/car/car.ts'
import { derivativesSchemaV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))

describe('ark devnet start', () => {
  it('deploys, runs the workload, derives consecutive checkpoints that verify, and stops its chain', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-devnet-'))
    try {
      const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['node/cli/bin.js', 'devnet', 'start', '--nodes', '0', '--checkpoints', '3', '--interval', '4', '--traders', '20', '--dir', dir, '--json'], { cwd: repo })
        let out = ''
        let err = ''
        p.stdout.on('data', (d: Buffer) => (out += d.toString()))
        p.stderr.on('data', (d: Buffer) => (err += d.toString()))
        p.on('exit', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err }))
      })
      expect(code, stderr).toBe(0)
      const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; block?: string; root?: string; car?: string; rpc?: string })
      const cps = events.filter((e) => e.event === 'checkpoint')
      expect(cps).toHaveLength(3)
      expect(BigInt(cps[1]!.block!) - BigInt(cps[0]!.block!)).toBe(4n)
      for (const cp of cps) {
        const car = readCar(await readFile(cp.car!))
        expect(car.roots[0]!.toString()).toBe(cp.root)
        const s = await Snapshot.open(car.store, car.roots[0]!, derivativesSchemaV3)
        await s.verify()
        expect(s.root.block.number).toBe(BigInt(cp.block!))
      }
      expect(events.at(-1)!.event).toBe('stopped')
      // the chain is gone: nothing answers on its port any more
      const rpc = events.find((e) => e.event === 'ready')!.rpc!
      await expect(fetch(rpc, { method: 'POST', body: '{}' })).rejects.toThrow()
      expect((await readdir(dir)).sort()).toEqual(['adapter.json', ...cps.map((c) => `checkpoint-${c.block}.car`), 'deployment.json'].sort())
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('ark devnet start with archive node processes', () => {
  it('four node processes reach 3-of-4 quorum on consecutive checkpoints; SIGTERM stops nodes and chain', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-devnet-c-'))
    try {
      const p = spawn(process.execPath, ['node/cli/bin.js', 'devnet', 'start', '--nodes', '4', '--interval', '4', '--traders', '12', '--dir', dir, '--json'], { cwd: repo })
      let out = ''
      let err = ''
      p.stderr.on('data', (d: Buffer) => (err += d.toString()))
      const certifiedTwice = new Promise<void>((resolve) => {
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if ((out.match(/"event":"certified"/g) ?? []).length >= 2) resolve()
        })
      })
      const exited = new Promise<number>((resolve) => p.on('exit', (c) => resolve(c ?? 1)))
      await Promise.race([certifiedTwice, exited.then((c) => Promise.reject(new Error(`devnet exited early (${c}): ${err}`)))])
      // the printed recovery command works as printed (registry trust root, a node's gateway)
      const printed = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'certified' && Array.isArray(e.fetch))
      expect(printed.length).toBeGreaterThanOrEqual(1)
      const fetchArgs = printed[0]!.fetch as string[]
      expect(fetchArgs).toContain('--registry')
      const recovered = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const f = spawn(process.execPath, ['node/cli/bin.js', ...fetchArgs, '--json'], { cwd: repo })
        let fo = ''
        let fe = ''
        f.stdout.on('data', (d: Buffer) => (fo += d.toString()))
        f.stderr.on('data', (d: Buffer) => (fe += d.toString()))
        f.on('exit', (c) => resolve({ code: c ?? 1, stdout: fo, stderr: fe }))
      })
      expect(recovered.code, recovered.stderr).toBe(0)
      const summary = JSON.parse(recovered.stdout.trim().split('\n').at(-1)!) as { block: string; snapshot: string }
      expect(summary.block).toBe(printed[0]!.block)
      expect(summary.snapshot).toBe(printed[0]!.snapshot)
      p.kill('SIGTERM')
      expect(await exited).toBe(0)
      const events = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      const nodes = events.filter((e) => e.event === 'node')
      expect(nodes).toHaveLength(4)
      const certs = events.filter((e) => e.event === 'certified')
      expect(certs.length).toBeGreaterThanOrEqual(2)
      for (const c of certs) expect(Number(c.signers)).toBeGreaterThanOrEqual(3)
      expect(events.at(-1)!.event).toBe('stopped')
      const rpc = events.find((e) => e.event === 'ready')!.rpc as string
      await expect(fetch(rpc, { method: 'POST', body: '{}' })).rejects.toThrow()
    } finally {
      await rm(dir, { recursive: true, force: true, maxRetries: 5 })
    }
  })
})
