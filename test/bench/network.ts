/**
 * Network benchmark: N archive nodes (in one process, real TCP on loopback,
 * real anvil) certify checkpoints. For each checkpoint: time from the block
 * becoming final (mined with 0 confirmations) to the certificate on every
 * node, split into derivation, attestation spread (first signature to the
 * last node signing) and aggregation (last signature to the certificate on
 * every node). Also gossip validation throughput of one node (attestations
 * per second), against the floor of raw secp256k1 recovery of the same
 * signatures.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { recoverAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { attestationDigest, encodeAttestation, normalizeV, type AttestationBody } from '../../protocol/attestation.ts'
import { validateAttestation } from '../../protocol/gossip/validate.ts'
import { makeOperatorSet } from '../../protocol/operator-set.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { ArchiveNode } from '../../node/archive/node.ts'
import { runWorkload } from '../../node/devnet/workload.ts'
import { operatorKey, until, writeClusterConfigs } from '../support/archive-cluster.ts'
import { blockNumber, startChain } from '../support/chain.ts'

const { values } = parseArgs({ options: { nodes: { type: 'string' }, checkpoints: { type: 'string' }, traders: { type: 'string' } } })
const N = Number(values.nodes ?? 7)
const CHECKPOINTS = Number(values.checkpoints ?? 5)
const f = await startChain()
const dir = await mkdtemp(join(tmpdir(), 'ark-bench-net-'))
const nodes: ArchiveNode[] = []
try {
  await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 1, traders: Number(values.traders ?? 200), steps: 1000 })
  await f.rpc('evm_setAutomine', [false])
  const interval = 10
  const start = await blockNumber(f)
  const configs = await writeClusterConfigs(dir, f, N, { firstBlock: start, interval, quorumTimeoutMs: 60_000 })
  const events = new Map<string, { type: string; node: number; at: number; ms?: number }[]>()
  for (let i = 0; i < N; i++) {
    configs[i]!.checkpoint.pollMs = 20
    if (i > 0) configs[i]!.p2p.bootstrap = nodes[0]!.network.multiaddrs().map(String)
    const node = new ArchiveNode({
      config: configs[i]!,
      devKey: true,
      logger: pino({ level: 'silent' }),
      onEvent: (e) => {
        const k = e.block.toString()
        const list = events.get(k) ?? []
        list.push({ type: e.type, node: i, at: e.at, ...(e.ms === undefined ? {} : { ms: e.ms }) })
        events.set(k, list)
      },
    })
    await node.start()
    nodes.push(node)
  }
  await until('every node connected to the bootstrap node', () => nodes[0]!.network.libp2p.getPeers().length >= N - 1, 30_000)
  const results: Record<string, number>[] = []
  // skip the doppelganger quiet period: mine past it with a small workload between checkpoints
  for (let c = 0; c < CHECKPOINTS + 2; c++) {
    const head = await blockNumber(f)
    const target = (head / BigInt(interval) + 1n) * BigInt(interval)
    await f.rpc('anvil_mine', [`0x${(target - head - 1n).toString(16)}`])
    await runWorkload({ rpcUrl: f.anvil.rpcUrl, deployment: f.deployment, seed: 50 + c, traders: 20, steps: 10 }).catch(() => {})
    const before = await blockNumber(f)
    if (before < target) await f.rpc('anvil_mine', [`0x${(target - before).toString(16)}`])
    const final = performance.now()
    const k = target.toString()
    const done = await until(`certificate for ${k} on every node`, () => {
      const ev = events.get(k) ?? []
      const certified = new Set(ev.filter((e) => e.type === 'certified').map((e) => e.node))
      return certified.size === N ? ev : undefined
    }, 60_000).catch(() => undefined)
    if (done === undefined || c < 2) continue
    const derived = done.filter((e) => e.type === 'derived')
    const signed = done.filter((e) => e.type === 'signed')
    const certified = done.filter((e) => e.type === 'certified')
    const firstCert = new Map<number, number>()
    for (const e of certified) if (!firstCert.has(e.node)) firstCert.set(e.node, e.at)
    const lastSigned = Math.max(...signed.map((e) => e.at))
    const allCertified = Math.max(...firstCert.values())
    results.push({
      block: Number(target),
      finalToAllCertifiedMs: Math.round(allCertified - final),
      derivationMaxMs: Math.round(Math.max(...derived.map((e) => e.ms ?? 0))),
      attestationSpreadMs: Math.round(lastSigned - Math.min(...signed.map((e) => e.at))),
      lastSignatureToAllCertifiedMs: Math.round(allCertified - lastSigned),
      firstSignatureToAllCertifiedMs: Math.round(allCertified - Math.min(...signed.map((e) => e.at))),
    })
  }
  // validation throughput on one node's validator, and the floor: bare signature recovery
  const ops = Array.from({ length: N }, (_, i) => privateKeyToAccount(operatorKey(i)))
  const set = makeOperatorSet(new Map(ops.map((a) => [a.address.toLowerCase() as `0x${string}`, 1n])))
  const msgs: Uint8Array[] = []
  const sigs: { digest: `0x${string}`; sig: `0x${string}` }[] = []
  for (let i = 0; i < 400; i++) {
    const body: AttestationBody = { chainId: 31337n, adapterId: 'perp-reference', configHash: `0x${'11'.repeat(32)}`, blockNumber: BigInt(1000 + i), blockHash: `0x${'22'.repeat(32)}`, snapshotCid: encodeBlock({ i }).cid, stateRoot: `0x${'33'.repeat(32)}`, specVersion: 1, kind: 0 }
    const a = ops[i % N]!
    const sig = normalizeV(await a.sign({ hash: attestationDigest(body) }))
    msgs.push(encodeAttestation({ body, signer: a.address.toLowerCase() as `0x${string}`, signature: sig }))
    sigs.push({ digest: attestationDigest(body), sig })
  }
  const ctx = { chainId: 31337n, adapterId: 'perp-reference', configHash: `0x${'11'.repeat(32)}`, operators: set, finalizedHead: 100000n, maxAheadBlocks: 1000n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } }
  let t = performance.now()
  let accepted = 0
  for (const m of msgs) if ((await validateAttestation(m, ctx)).action === 'accept') accepted++
  const validateMs = performance.now() - t
  t = performance.now()
  for (const s of sigs) await recoverAddress({ hash: s.digest, signature: s.sig })
  const recoverMs = performance.now() - t
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const out = {
    bench: 'network',
    nodes: N,
    checkpoints: results,
    medianFinalToAllCertifiedMs: median(results.map((r) => r.finalToAllCertifiedMs!)),
    medianFirstSignatureToAllCertifiedMs: median(results.map((r) => r.firstSignatureToAllCertifiedMs!)),
    validation: { attestations: msgs.length, accepted, perSecond: Math.round(msgs.length / (validateMs / 1000)), rawRecoverPerSecond: Math.round(sigs.length / (recoverMs / 1000)), ratioToRawRecover: +(recoverMs / validateMs).toFixed(3) },
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
} finally {
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  await f.stop()
  await rm(dir, { recursive: true, force: true, maxRetries: 5 })
}
