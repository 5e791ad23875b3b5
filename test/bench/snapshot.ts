/**
 * Snapshot engine benchmark for one size. Baselines in the same process:
 * OpenZeppelin StandardMerkleTree.of over the same leaf values (skipped above
 * --oz-max accounts: it takes minutes), raw keccak over the same leaf
 * encodings, and raw sha256 over the same CAR bytes.
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { abiEncode } from '../../snapshot/abi/encode.ts'
import { readCar, writeCar } from '../../snapshot/car/car.ts'
import { doubleKeccak256Into, keccak256 } from '../../snapshot/codec/keccak.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { buildStandardTree, sortHashes, standardLeafHashes, standardTreeOf, treeRoot } from '../../snapshot/merkle/standard-tree.ts'
import { proveAccount, proveAll } from '../../snapshot/proof/prove.ts'
import { abiValueToJSON } from '../../snapshot/proof/format.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { diffSnapshots } from '../../snapshot/state/diff.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthChanges, synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCar } from '../../node/cli/open-car.ts'
import { breakdown } from './breakdown.ts'
import { pino } from 'pino'
import { ProofIndex } from '../../node/archive/proof-index.ts'
import { createHttpApi } from '../../node/http/server.ts'
import { FakeView } from '../http/support.ts'

const { values } = parseArgs({ options: { accounts: { type: 'string' }, 'oz-max': { type: 'string' }, seed: { type: 'string' } } })
const accounts = Number(values.accounts ?? 100000)
const ozMax = Number(values['oz-max'] ?? 100000)
const opts = { accounts, seed: values.seed ?? 'bench' }

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const ms = (t: number): number => Math.round(performance.now() - t)
const mb = (b: number): number => Math.round(b / 2 ** 20)

// Materialise the input first so generation is not timed as part of the build.
const records = [...synthRecords(opts)]
const meta = synthMeta(opts)
const markets = synthMarkets(opts)
gc()
const rssBefore = process.memoryUsage().rss

const bd = breakdown()
const store = new MemoryBlockStore()
let t = performance.now()
const { snapshot, stats } = await bd.timeAsync('build', () => buildSnapshot({ schema: derivativesSchema, meta, markets, records, store }))
const buildMs = ms(t)
const peakRss = process.resourceUsage().maxRSS * 1024

// incremental: 1% of accounts changed
const changes = synthChanges(opts, 0.01, 1)
const meta2 = { ...meta, block: { ...meta.block, number: meta.block.number + 100n } }
t = performance.now()
const inc = await bd.timeAsync('incremental1pct', () => applyChanges(snapshot, changes, { meta: meta2, markets }))
const incMs = ms(t)

t = performance.now()
let diffCount = 0
for await (const _ of diffSnapshots(snapshot, inc.snapshot)) diffCount++
const diffMs = ms(t)

// CAR export / verified import, and raw sha256 over the same bytes
t = performance.now()
const chunks: Uint8Array[] = []
await bd.timeAsync('io:carExport', async () => {
  for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
})
const car = Buffer.concat(chunks)
const exportMs = ms(t)
t = performance.now()
const imported = bd.time('io:carImportHashChecked', () => readCar(car))
const importMs = ms(t)
t = performance.now()
bd.time('hash:sha256OneShot', () => createHash('sha256').update(car).digest())
const shaOneShotMs = performance.now() - t
t = performance.now()
for (const b of imported.store.blocks.values()) createHash('sha256').update(b).digest()
const shaPerBlockMs = performance.now() - t

// one proof from a stored snapshot (fresh open: no caches), then every proof
t = performance.now()
const stored = await Snapshot.open(imported.store, snapshot.cid, derivativesSchema, { verifyBlocks: false })
const someKey = records[Math.floor(accounts / 2)]!.key as Uint8Array | string
const key = typeof someKey === 'string' ? Buffer.from(someKey.slice(2), 'hex') : someKey
await bd.timeAsync('proof:oneFromStored', () => proveAccount(stored, key))
const proofMs = ms(t)

// the CLI's path: one proof from a bare CAR file (ark prove on a fetched directory reads it the same way)
const carDir = await mkdtemp(join(tmpdir(), 'ark-bench-snapshot-'))
await writeFile(join(carDir, 'snapshot.car'), car)
gc()
t = performance.now()
const fromCar = await bd.timeAsync('proof:cliOpenCar', () => openCar(join(carDir, 'snapshot.car')))
await bd.timeAsync('proof:cliProve', () => proveAccount(fromCar, key))
const cliProofMs = ms(t)

// the node's proof index (node/archive/proof-index.ts): written once per kept snapshot, then each
// proof over HTTP (GET /v1/checkpoints/{block}/proof/{account}) for accounts not asked before
const pidx = new ProofIndex({ dir: join(carDir, 'proof-index'), log: pino({ level: 'silent' }) })
gc()
t = performance.now()
await bd.timeAsync('proofIndex:write', () => pidx.ensure(stored))
const indexWriteMs = ms(t)
const view = new FakeView(imported.store, [{ block: snapshot.root.block.number.toString(), kind: 'scheduled', certificateCid: 'bench', snapshotCid: snapshot.cid.toString(), stateRoot: snapshot.root.stateRoot, blockHash: snapshot.root.block.hash, signers: [], weight: '0', threshold: '0', certificate: {} }])
const api = createHttpApi({ view: Object.assign(view, { proofs: pidx }) })
const apiUrl = (await api.start()).url
const nodeProofMs: number[] = []
const askStep = Math.max(1, Math.floor(records.length / 101))
await bd.timeAsync('proof:nodeHttp', async () => {
  for (let i = 0; i < records.length && nodeProofMs.length < 100; i += askStep) {
    const k = records[i]!.key as Uint8Array | string
    const hex = typeof k === 'string' ? k : bytesToHex(k)
    const t0 = performance.now()
    const res = await fetch(`${apiUrl}/v1/checkpoints/${snapshot.root.block.number}/proof/${hex}`)
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`proof endpoint answered ${res.status}`)
    nodeProofMs.push(performance.now() - t0)
  }
})
await api.stop()
await pidx.close()
const sortedNode = [...nodeProofMs].sort((x, y) => x - y)
const nodeProof = { indexWriteMs, indexBytes: 64 + (2 * accounts - 1) * 32, firstMs: +nodeProofMs[0]!.toFixed(1), p50Ms: +sortedNode[Math.floor(sortedNode.length / 2)]!.toFixed(1), p99Ms: +sortedNode[Math.floor(sortedNode.length * 0.99)]!.toFixed(1), maxMs: +sortedNode[sortedNode.length - 1]!.toFixed(1), asked: nodeProofMs.length }
await rm(carDir, { recursive: true, force: true })
t = performance.now()
let proofBytes = 0
await bd.timeAsync('proof:all', async () => {
  for await (const p of proveAll(stored)) proofBytes += JSON.stringify(p).length
})
const allProofsMs = ms(t)

// stateRoot baselines over the same leaves
const leafValues: unknown[][] = []
for await (const e of snapshot.rawEntries()) {
  const rec = derivativesSchema.decode(e.value, 'r')
  leafValues.push(derivativesSchema.leaf(e.key, rec, keccak256(e.value)))
}
gc()
const encoded = bd.time('encode:leafValuesAbi', () => leafValues.map((v) => abiEncode(derivativesSchema.leafEncoding, v)))
// the raw floor of a stateRoot: every leaf double-keccak'd plus the n-1 pair hashes (into flat buffers, as the engine does)
const rawLeaves = new Uint8Array(encoded.length * 32)
t = performance.now()
bd.time('hash:rawLeafDoubleKeccak', () => encoded.forEach((e, i) => doubleKeccak256Into(e, rawLeaves, i * 32)))
const rawLeafKeccakMs = ms(t)
const sortedRaw = bd.time('sort:leafHashes', () => sortHashes(rawLeaves))
t = performance.now()
bd.time('hash:rawPairs', () => buildStandardTree(sortedRaw))
const rawPairsMs = ms(t)
const rawFloorMs = rawLeafKeccakMs + rawPairsMs
gc()
// Ark's whole stateRoot path from the same values: ABI-encode, hash leaves, sort, tree.
// the same pieces standardTreeOf runs, timed apart
t = performance.now()
const hashes = bd.time('stateRoot:encodeAndHashLeaves', () => standardLeafHashes(derivativesSchema.leafEncoding, leafValues))
const arkRoot = bd.time('stateRoot:sortAndTree', () => bytesToHex(treeRoot(buildStandardTree(sortHashes(hashes)))))
const arkStateRootMs = ms(t)
gc()
// the one-call form (what a caller uses), as the headline figure's check
t = performance.now()
const oneCallRoot = standardTreeOf(derivativesSchema.leafEncoding, leafValues).root
const arkOneCallMs = ms(t)
let ozMs: number | null = null
let ozEqual: boolean | null = null
if (accounts <= ozMax) {
  const ozValues = leafValues.map((v) => v.map(abiValueToJSON))
  t = performance.now()
  const oz = bd.time('openZeppelinOf', () => StandardMerkleTree.of(ozValues, [...derivativesSchema.leafEncoding]))
  ozMs = ms(t)
  ozEqual = oz.root === snapshot.root.stateRoot && arkRoot === oz.root
}

const out = {
  bench: 'snapshot',
  accounts,
  build: { ms: buildMs, peakRssMiB: mb(peakRss), rssBeforeMiB: mb(rssBefore), blocks: stats.newBlocks, bytes: stats.newBytes, avgBlockBytes: Math.round(stats.newBytes / stats.newBlocks) },
  incremental1pct: { changes: changes.length, ms: incMs, ratioToBuild: +(incMs / buildMs).toFixed(3), newBlocks: inc.stats.newBlocks, newBytes: inc.stats.newBytes, newBytesRatio: +(inc.stats.newBytes / stats.newBytes).toFixed(4), equalsRebuild: 'see test/snapshot/determinism.test.ts' },
  diff: { ms: diffMs, accounts: diffCount },
  proof: { oneFromStoredMs: proofMs, cliFromBareCarMs: cliProofMs, cliTargetUnder2s: cliProofMs <= 2000, node: { ...nodeProof, targetUnder50ms: nodeProof.p99Ms <= 50 }, allMs: allProofsMs, allJsonBytes: proofBytes },
  car: { bytes: car.length, exportMs, verifiedImportMs: importMs, sha256OneShotMs: +shaOneShotMs.toFixed(1), sha256PerBlockMs: +shaPerBlockMs.toFixed(1), importVsSha256PerBlock: +(shaPerBlockMs / importMs).toFixed(3) },
  stateRoot: { arkFromValuesMs: arkStateRootMs, arkOneCallMs, oneCallEqual: oneCallRoot === arkRoot, rawLeafDoubleKeccakMs: rawLeafKeccakMs, rawPairHashesMs: rawPairsMs, rawFloorMs, ratioToRawFloor: +(arkStateRootMs / rawFloorMs).toFixed(2), targetWithin2x: arkStateRootMs <= 2 * rawFloorMs, openZeppelinOfMs: ozMs, openZeppelinRootEqual: ozEqual, speedupVsOpenZeppelin: ozMs === null ? null : +(ozMs / arkStateRootMs).toFixed(1), arkRootEqualsSnapshot: arkRoot === snapshot.root.stateRoot },
  peakRssMiB: mb(process.resourceUsage().maxRSS * 1024),
  // phases timed one after another in this process (ms wall, gcMs: GC pauses inside the phase); io:carImportHashChecked includes sha256 of every block
  breakdown: bd.finish(),
}
process.stdout.write(`${JSON.stringify(out)}\n`)
