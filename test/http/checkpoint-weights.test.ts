/**
 * Issue 16: /v1/checkpoints shows weight and threshold from the operator set at each checkpoint's
 * block, read through the node's narrow read-only state (view.ts no longer sees the node).
 *
 * Fails on the code before this change: checkpointView() weighed every certificate with the
 * node's latest set (node.operatorSet), so after a registry change historic weights were wrong.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { CertificateStore } from '../../node/archive/certificate-store.ts'
import { EvidenceStore } from '../../node/archive/evidence-store.ts'
import { nodeView, type NodeReadState } from '../../node/archive/view.ts'
import { createNodeMetrics } from '../../node/archive/node-metrics.ts'
import { pino } from 'pino'
import { createHttpApi, type HttpApi } from '../../node/http/server.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { certify, testOperators } from '../support/recovery.ts'
import { testBody } from '../node/fixtures/signlog-body.ts'

const { ops } = testOperators()
const addr = (i: number): `0x${string}` => ops[i]!.address.toLowerCase() as `0x${string}`
// before block 1500: four operators of weight 1, threshold 3; from 1500 on: operator 0 weighs 5, threshold 7
const OLD: OperatorSet = { weights: new Map([0, 1, 2, 3].map((i) => [addr(i), 1n])), threshold: 3n, totalWeight: 4n }
const NEW: OperatorSet = { weights: new Map([[addr(0), 5n], [addr(1), 1n], [addr(2), 1n], [addr(3), 1n]]), threshold: 7n, totalWeight: 8n }

let dir: string
let api: HttpApi
let url: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-weights-'))
  const certificates = new CertificateStore(dir)
  await certificates.open()
  await certificates.put(await certify(testBody(1000n), ops.slice(0, 3)))
  await certificates.put(await certify(testBody(2000n), ops.slice(0, 3)))
  const state: NodeReadState = {
    status: () => ({}),
    counters: {},
    certificates,
    evidence: new EvidenceStore(dir),
    operatorsAt: async (b) => (b < 1500n ? OLD : NEW),
    finalizedHead: () => 3000n,
    peers: () => 0,
    gossipCounts: () => [],
    blocks: new MemoryBlockStore(),
    fatal: () => undefined,
    expectsPeers: false,
    bootstrapPeers: 0,
    checkpointInterval: 1000n,
    caughtUp: () => true,
    nextCheckpoint: () => 3000n,
    watchdog: undefined,
    snapshotNow: async () => ({}),
  }
  const metrics = createNodeMetrics({ dataDir: dir, interval: 1000n, bootstrapPeers: 0, log: pino({ level: 'silent' }) })
  metrics.attach(state)
  api = createHttpApi({ view: nodeView(state, metrics.registry), metrics: metrics.registry })
  url = (await api.start()).url
})
afterAll(async () => {
  await api.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('/v1/checkpoints weights', () => {
  it('each checkpoint is weighed with the operator set at its block', async () => {
    const { checkpoints } = (await (await fetch(`${url}/v1/checkpoints`)).json()) as { checkpoints: { block: string; weight: string; threshold: string; signers: { signer: string; weight: string }[] }[] }
    expect(checkpoints.map((c) => [c.block, c.weight, c.threshold])).toEqual([
      ['1000', '3', '3'],
      ['2000', '7', '7'],
    ])
    const one = (await (await fetch(`${url}/v1/checkpoints/1000`)).json()) as { weight: string; threshold: string }
    expect([one.weight, one.threshold]).toEqual(['3', '3'])
    const latest = (await (await fetch(`${url}/v1/checkpoints/latest`)).json()) as { block: string; weight: string }
    expect([latest.block, latest.weight]).toEqual(['2000', '7'])
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toContain('ark_certificates 2')
  })
})
