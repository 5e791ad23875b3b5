/**
 * A node process killed with SIGKILL in the middle of a checkpoint (right
 * after it derived the snapshot, while it signs and publishes) and restarted
 * from the same data dir: nothing it had is lost, it never signs a second
 * content for a checkpoint, it signs again after its quiet period, and it
 * ends with every certificate the others formed while it was down.
 *
 * Kept fast on purpose: a small workload at a steady pace (one round, three
 * blocks, every ~0.7 s), checkpoints every 3 blocks at one confirmation,
 * the other nodes started together, and every wait tied to what the nodes
 * write (certificates, sign log) with generous bounded deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeCertificate } from '../../protocol/certificate.ts'
import { startCluster, type Cluster } from '../../node/devnet/cluster.ts'
import { blockNumber, type ChainFixture } from '../support/chain.ts'
import { archiveFixture, until, type ArchiveFixture } from '../support/archive-cluster.ts'

const INTERVAL = 3
const VICTIM = 1
let fx: ArchiveFixture
let f: ChainFixture
let dir: string

interface Held {
  signers: string[]
  signatures: Map<string, string>
  snapshot: string
}

async function certs(node: number): Promise<Map<bigint, Held>> {
  const d = join(dir, `node${node}`, 'certificates')
  const out = new Map<bigint, Held>()
  for (const name of await readdir(d).catch(() => [] as string[])) {
    if (!name.endsWith('.cert')) continue
    // a certificate with more signatures may replace this file between readdir and readFile
    const bytes = await readFile(join(d, name)).catch(() => undefined)
    if (bytes === undefined) continue
    const c = decodeCertificate(bytes)
    out.set(c.body.blockNumber, { signers: c.signatures.map((s) => s.signer), signatures: new Map(c.signatures.map((s) => [s.signer, s.signature])), snapshot: c.body.snapshotCid.toString() })
  }
  return out
}

interface SignLogEntry {
  checkpoint: string
  content: string
  signature: string
}

async function signLog(node: number): Promise<SignLogEntry[]> {
  const text = await readFile(join(dir, `node${node}`, 'signlog.jsonl'), 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as SignLogEntry)
}

/** The block of a sign-log checkpoint key (…/block/kind). */
function blockOf(e: SignLogEntry): bigint {
  return BigInt(e.checkpoint.split('/').at(-2)!)
}

beforeAll(async () => {
  fx = await archiveFixture({ name: 'restart', seed: 300, traders: 6, steps: 20 })
  ;({ chain: f, dir } = fx)
}, 120_000)

afterAll(async () => {
  await fx?.stop()
})

describe('SIGKILL and restart', () => {
  it('loses nothing, never signs twice, and ends with complete certificates', { timeout: 400_000 }, async () => {
    const t0 = Date.now()
    const phases: string[] = []
    const phase = (what: string): void => void phases.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)}s`)
    // the kill: armed, it fires on the victim's next "checkpoint derived" line, i.e. while it signs and publishes
    let armed: ((block: bigint) => void) | undefined
    // filled once the cluster runs; the log handler (called from the start on) reads it when armed
    const live: { cluster?: Cluster } = {}
    // a node that stops on an error fails the test at once instead of at a deadline
    const failed: string[] = []
    const healthy = (): true => {
      if (failed.length > 0) throw new Error(`a node stopped: ${failed.join('; ')}`)
      return true
    }
    const onLog = (i: number, l: Record<string, unknown>): void => {
      if (process.env.ARK_TEST_LOG !== undefined && (l.level as number) >= 30) console.log(((Date.now() - t0) / 1000).toFixed(1), i, l.msg, l.block ?? '', l.err ?? '')
      if (l.msg === 'archive node stopped on an error') failed.push(`node ${i}: ${JSON.stringify(l.err)}`)
      if (armed !== undefined && i === VICTIM && l.msg === 'checkpoint derived' && typeof l.block === 'string') {
        live.cluster!.nodes[VICTIM]!.process.kill('SIGKILL')
        armed(BigInt(l.block))
        armed = undefined
      }
    }
    const cluster = await startCluster({ dir, rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, nodes: 4, interval: INTERVAL, firstBlock: (await blockNumber(f)) + 1n, confirmations: 1, quorumTimeoutMs: 15_000, onLog, signal: AbortSignal.timeout(400_000) })
    live.cluster = cluster
    phase('cluster up')
    // the chain moves once every node runs (node 0 does not derive checkpoints alone meanwhile); the same
    // few traders keep trading: every round (three blocks) changes state, the account count stays small
    fx.mine({ seed: 300, traders: 4, steps: 3, sameTraders: true, pauseMs: 500 })
    const victim = cluster.nodes[VICTIM]!
    const op = victim.operator.toLowerCase()
    try {
      await until('two certificates signed by the victim', async () => healthy() && [...(await certs(0)).values()].filter((c) => c.signers.includes(op)).length >= 2, 180_000)
      phase('two certificates with its signature')

      const killedAt = await new Promise<bigint>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the victim derived no checkpoint within 60 s')), 60_000)
        armed = (b) => (clearTimeout(t), resolve(b))
      })
      await victim.exited
      phase(`SIGKILL at checkpoint ${killedAt}`)
      const logBefore = await signLog(VICTIM)
      const certsBefore = await certs(VICTIM)
      expect(certsBefore.size).toBeGreaterThanOrEqual(2)

      await cluster.restart(VICTIM)
      phase('restarted')
      // it signs again (after its quiet period) and that attestation makes it into certificates
      const signedAgain = async (): Promise<bigint | undefined> => {
        healthy()
        const c0 = await certs(0)
        const fresh = (await signLog(VICTIM)).slice(logBefore.length).map(blockOf).filter((b) => c0.get(b)?.signers.includes(op) === true)
        return fresh.length > 0 ? fresh.reduce((a, b) => (a > b ? a : b)) : undefined
      }
      const back = await until('a certificate signed by the restarted node', signedAgain, 180_000)
      phase(`signing again from checkpoint ${back}`)
      // complete: every node holds every certificate node 0 formed up to there, the downtime's included
      const first = [...(await certs(0)).keys()].reduce((a, b) => (a < b ? a : b))
      const missing = async (): Promise<string[]> => {
        const c0 = await certs(0)
        const gaps: string[] = []
        for (let n = 0; n < 4; n++) {
          const held = await certs(n)
          for (const b of c0.keys()) if (b <= back && !held.has(b)) gaps.push(`node ${n} block ${b}`)
        }
        return gaps
      }
      await until('complete certificates on every node', async () => healthy() && (await missing()).length === 0, 120_000).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}; missing: ${(await missing()).join(', ')}`)
      })
      phase('complete')
      expect([...(await certs(0)).keys()].filter((b) => b >= first && b <= back && b > killedAt).length).toBeGreaterThan(0)

      // never a second content for a checkpoint; the history before the kill is intact
      const log = await signLog(VICTIM)
      expect(log.slice(0, logBefore.length)).toEqual(logBefore)
      const byCheckpoint = new Map<string, Set<string>>()
      for (const e of log) byCheckpoint.set(e.checkpoint, (byCheckpoint.get(e.checkpoint) ?? new Set()).add(e.content))
      for (const [checkpoint, contents] of byCheckpoint) expect(contents.size, checkpoint).toBe(1)
      // what certificates carry as its signature is what its sign log holds (the checkpoint it was killed in included)
      const c0 = await certs(0)
      for (const e of log) {
        const sig = c0.get(blockOf(e))?.signatures.get(op)
        if (sig !== undefined) expect(sig.toLowerCase()).toBe(e.signature.toLowerCase())
      }
      // nothing it held before the kill is gone
      const after = await certs(VICTIM)
      for (const [b, c] of certsBefore) expect(after.get(b)?.snapshot, `block ${b}`).toBe(c.snapshot)
      // one snapshot per checkpoint across the cluster, and no node saw it equivocate
      for (let n = 0; n < 4; n++) for (const [b, c] of await certs(n)) if (c0.has(b)) expect(c.snapshot, `node ${n} block ${b}`).toBe(c0.get(b)!.snapshot)
      for (const n of cluster.nodes) {
        const status = (await (await fetch(`${n.httpUrl!}/v1/status`)).json()) as { evidence: number; divergences: number; fatal: string | null }
        expect(status, `node ${n.index}`).toMatchObject({ evidence: 0, divergences: 0, fatal: null })
      }
    } finally {
      await cluster.stop()
      phase('stopped')
      if (process.env.ARK_TEST_LOG !== undefined) console.log(phases.join('\n'))
    }
  })
})
