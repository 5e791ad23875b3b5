/**
 * The serving side of the recovery benchmark, in its own process (as a real
 * node would be): a certified synthetic snapshot (deterministic from the
 * seed) held by an archive node's serving side on disk (libp2p + Helia +
 * HTTP API and gateway), the same HTTP API over an in-memory block store,
 * and a plain HTTP server of the same CAR bytes (the floor). Prints one JSON
 * line with the addresses, then serves until stdin closes.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { writeCar } from '../../snapshot/car/car.ts'
import { createHttpApi, type NodeView } from '../../node/http/server.ts'
import { applyChanges } from '../../snapshot/state/build.ts'
import { synthChanges, synthMarkets } from '../../snapshot/synth/synth.ts'
import { certifiedSnapshot, certifySnapshot, startServingNode } from '../support/recovery-server.ts'

const { values } = parseArgs({ options: { accounts: { type: 'string' }, seed: { type: 'string' }, disk: { type: 'string' } } })
const opts = { accounts: Number(values.accounts ?? 100000), seed: values.seed ?? 'bench-recovery' }
const c = await certifiedSnapshot(opts)
c.store.put(c.certificateBlock)
// the next checkpoint, 1% of the accounts changed (incremental fetch); served by the in-memory API only
const s = c.snapshot
const nextMeta = { block: { ...s.root.block, number: s.root.block.number + 300n }, adapter: s.root.adapter }
const next = await certifySnapshot((await applyChanges(s, synthChanges(opts, 0.01, 1) as never, { meta: nextMeta, markets: synthMarkets(opts) })).snapshot, c.store)
c.store.put(next.certificateBlock)
const chunks: Uint8Array[] = []
for await (const ch of writeCar([c.snapshot.cid], c.snapshot.blockCids(), c.store)) chunks.push(ch)
const car = Buffer.concat(chunks)
const plain = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': car.length }).end(car))
await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
const cps = [c.checkpoint, next.checkpoint]
const view: NodeView = { status: () => ({}), checkpoints: () => cps, checkpoint: (b) => (b === 'latest' ? next.checkpoint : cps.find((x) => BigInt(x.block) === b)), evidence: () => [], blocks: c.store, metrics: () => '', health: () => ({ ok: true, reasons: [] }) }
const memory = createHttpApi({ view, logger: pino({ level: 'silent' }), limits: { requestTimeoutMs: 600_000 } })
const { url: memoryUrl } = await memory.start()
const dir = await mkdtemp(join(tmpdir(), 'ark-bench-serve-'))
const t = performance.now()
const node = values.disk === 'no' ? undefined : await startServingNode(join(dir, 'node'), [c])
const diskSetupMs = Math.round(performance.now() - t)
process.stdout.write(`${JSON.stringify({ block: c.certificate.body.blockNumber.toString(), nextBlock: next.certificate.body.blockNumber.toString(), blocks: c.store.size - 1, carBytes: car.length, plainUrl: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/snapshot.car`, memoryUrl, nodeUrl: node?.url, multiaddr: node?.multiaddr, diskSetupMs })}\n`)
process.stdin.resume()
await new Promise<void>((r) => process.stdin.on('close', r))
await node?.stop()
await memory.stop()
plain.close()
await rm(dir, { recursive: true, force: true, maxRetries: 5 })
process.exit(0)
