import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { SignLogEntry } from '../../node/signlog/signlog.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))
type Event = Record<string, unknown> & { event: string }

/** One `ark` CLI run to its end. */
function ark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['node/cli/bin.js', ...args], { cwd: repo })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('exit', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err }))
  })
}

/** A running `ark devnet start --json`: its events as they arrive, and waits on them that fail at once if the devnet exits. */
function devnet(dir: string): { p: ChildProcess; events: Event[]; exited: Promise<number>; waitFor: (what: string, pred: (e: Event, all: Event[]) => boolean, from?: number, timeoutMs?: number) => Promise<Event> } {
  const p = spawn(process.execPath, ['node/cli/bin.js', 'devnet', 'start', '--nodes', '4', '--interval', '8', '--traders', '8', '--dir', dir, '--json'], { cwd: repo })
  const events: Event[] = []
  let err = ''
  p.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const t0 = Date.now()
  // each event stamped with the seconds since start (t), so a slow phase shows in a failure's event list
  createInterface({ input: p.stdout }).on('line', (l) => events.push({ ...(JSON.parse(l) as Event), t: Math.round((Date.now() - t0) / 100) / 10 }))
  const exited = new Promise<number>((resolve) => p.on('exit', (c) => resolve(c ?? 1)))
  const waitFor = async (what: string, pred: (e: Event, all: Event[]) => boolean, from = 0, timeoutMs = 90_000): Promise<Event> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = events.slice(from).find((e) => pred(e, events))
      if (hit !== undefined) return hit
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`the devnet exited while waiting for ${what}: ${err}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events:\n${events.map((e) => JSON.stringify(e)).join('\n')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return { p, events, exited, waitFor }
}

const signedBy = (e: Event): number[] => e.signedBy as number[]

describe('ark devnet node: see it survive', () => {
  const cleanup: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  it('answers "no devnet is running" when none runs in --dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-dn-none-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const r = await ark(['devnet', 'node', 'kill', '1', '--dir', dir])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no devnet is running in .*start one with "ark devnet start --dir/)
  })

  it('kill node 0 (the former hub), then crash node 2: the other three keep certifying, the restarted node catches up and signs again without equivocating', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-dn-'))
    const dn = devnet(dir)
    cleanup.push(async () => {
      // SIGTERM stops nodes and chain; if that hangs, kill every process the devnet reported
      if (dn.p.exitCode === null && dn.p.signalCode === null) dn.p.kill('SIGTERM')
      const t = setTimeout(() => {
        dn.p.kill('SIGKILL')
        for (const e of dn.events) if (typeof e.pid === 'number') try { process.kill(e.pid, 'SIGKILL') } catch { /* gone */ }
      }, 30_000)
      await dn.exited
      clearTimeout(t)
      await rm(dir, { recursive: true, force: true, maxRetries: 5 })
    })
    await dn.waitFor('the first certificate', (e) => e.event === 'certified', 0, 120_000)
    const signedAgainAfter = new Map<number, bigint>()

    for (const victim of [0, 2]) {
      const killedAt = dn.events.length
      // node 0 through the control socket; node 2 "crashes" (SIGKILL from outside): reported, the rest run on
      const crash = victim === 2
      if (crash) process.kill(dn.events.find((e) => e.event === 'node' && e.index === victim)!.pid as number, 'SIGKILL')
      else {
        const kill = await ark(['devnet', 'node', 'kill', String(victim), '--dir', dir, '--json'])
        expect(kill.code, kill.stderr).toBe(0)
        expect(JSON.parse(kill.stdout)).toMatchObject({ node: victim, state: 'exited', live: 3, quorumReachable: true })
      }
      expect(await dn.waitFor(`node ${victim}'s exit`, (e) => e.event === 'node-exit' && e.node === victim, killedAt)).toMatchObject({ signal: 'SIGKILL', requested: !crash, live: 3, quorumReachable: true })
      // the other three certify without it (two checkpoints it did not sign)
      const down = (e: Event): boolean => e.event === 'certified' && !signedBy(e).includes(victim)
      await dn.waitFor(`two certificates while node ${victim} is down`, (e, all) => down(e) && all.slice(killedAt).filter(down).length >= 2, killedAt)
      const restartedAt = dn.events.length
      const whileDown = dn.events.slice(killedAt, restartedAt).filter(down)
      for (const c of whileDown) expect(Number(c.signers)).toBeGreaterThanOrEqual(3)

      const restart = await ark(['devnet', 'node', 'restart', String(victim), '--dir', dir, '--json'])
      expect(restart.code, restart.stderr).toBe(0)
      expect(JSON.parse(restart.stdout)).toMatchObject({ node: victim, state: 'running', live: 4 })
      // it catches up every certificate formed while it was down, and signs again
      // The first of them may have reached the victim by gossip just before it died: it then holds it and has
      // nothing to catch up, so the devnet reports no catch-up for it. What must hold is that the restarted
      // node holds every one of them (asked through its own API), and that the devnet reports it catching up.
      const blocks = whileDown.map((c) => c.block as string)
      await waitHolds(dir, victim, blocks)
      await dn.waitFor(`node ${victim} reported catching up`, (e) => e.event === 'caught-up' && e.node === victim, restartedAt)
      // it attests again (its /v1/status counter; when it lags, its late signature may miss the certificates)
      await dn.waitFor(`node ${victim} signing again`, (e) => e.event === 'signing-again' && e.node === victim, restartedAt)
      signedAgainAfter.set(victim, whileDown.map((c) => BigInt(c.block as string)).reduce((a, b) => (a > b ? a : b)))
    }

    if (process.env.ARK_TEST_LOG !== undefined) console.log(dn.events.map((e) => `${String(e.t)} ${e.event} ${String(e.node ?? e.block ?? '')} ${e.event === 'certified' ? signedBy(e).join(',') : ''}`).join('\n'))
    dn.p.kill('SIGTERM')
    expect(await dn.exited).toBe(0)
    expect(dn.events.at(-1)!.event).toBe('stopped')
    // no node ever signed two contents for one checkpoint (sign log: one JSON entry per line)
    for (let n = 0; n < 4; n++) {
      const entries = (await readFile(join(dir, `node${n}`, 'signlog.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as SignLogEntry)
      expect(entries.length).toBeGreaterThan(0)
      const contents = new Map<string, Set<string>>()
      for (const e of entries) contents.set(e.checkpoint, (contents.get(e.checkpoint) ?? new Set()).add(e.content))
      for (const [checkpoint, c] of contents) expect(c.size, `node ${n} checkpoint ${checkpoint}`).toBe(1)
      // a victim's log holds signatures made after its restart (checkpoint key: chain/adapter/config/block/kind)
      const after = signedAgainAfter.get(n)
      if (after !== undefined) expect(entries.some((e) => BigInt(e.checkpoint.split('/')[3]!) > after), `node ${n} signed after its restart`).toBe(true)
    }
  }, 400_000)
})

/** Wait until node `index` of the devnet in `dir` lists a certificate for every one of `blocks` (its own HTTP API). */
async function waitHolds(dir: string, index: number, blocks: string[], timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const want = blocks.map(BigInt)
  const from = want.reduce((a, b) => (a < b ? a : b))
  const to = want.reduce((a, b) => (a > b ? a : b))
  let held = new Set<string>()
  while (Date.now() < deadline) {
    const st = await ark(['devnet', 'node', 'status', '--dir', dir, '--json'])
    const http = st.code === 0 ? (JSON.parse(st.stdout) as { nodes: { index: number; http: string | null }[] }).nodes.find((n) => n.index === index)?.http : undefined
    if (typeof http === 'string') {
      const res = await fetch(`${http}/v1/checkpoints?from=${from}&to=${to}&limit=1000`).catch(() => undefined)
      if (res?.ok === true) held = new Set(((await res.json()) as { checkpoints: { block: string }[] }).checkpoints.map((c) => c.block))
      if (blocks.every((b) => held.has(b))) return
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`node ${index} does not hold certificates ${blocks.filter((b) => !held.has(b)).join(', ')} (holds ${[...held].join(', ')})`)
}
