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
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { buildStandardTree, sortHashes, standardLeafHash, treeRoot } from '../../snapshot/merkle/standard-tree.ts'
import { proveAccount, proveAll } from '../../snapshot/proof/prove.ts'
import { abiValueToJSON } from '../../snapshot/proof/format.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, buildSnapshot } from '../../snapshot/state/build.ts'
import { diffSnapshots } from '../../snapshot/state/diff.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { synthChanges, synthMarkets, synthMeta, synthRecords } from '../../snapshot/synth/synth.ts'

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

const store = new MemoryBlockStore()
let t = performance.now()
const { snapshot, stats } = await buildSnapshot({ schema: derivativesSchema, meta, markets, records, store })
const buildMs = ms(t)
const peakRss = process.resourceUsage().maxRSS * 1024

// incremental: 1% of accounts changed
const changes = synthChanges(opts, 0.01, 1)
const meta2 = { ...meta, block: { ...meta.block, number: meta.block.number + 100n } }
t = performance.now()
const inc = await applyChanges(snapshot, changes, { meta: meta2, markets })
const incMs = ms(t)

t = performance.now()
let diffCount = 0
for await (const _ of diffSnapshots(snapshot, inc.snapshot)) diffCount++
const diffMs = ms(t)

// CAR export / verified import, and raw sha256 over the same bytes
t = performance.now()
const chunks: Uint8Array[] = []
for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
const car = Buffer.concat(chunks)
const exportMs = ms(t)
t = performance.now()
const imported = readCar(car)
const importMs = ms(t)
t = performance.now()
createHash('sha256').update(car).digest()
const shaOneShotMs = performance.now() - t
t = performance.now()
for (const b of imported.store.blocks.values()) createHash('sha256').update(b).digest()
const shaPerBlockMs = performance.now() - t

// one proof from a stored snapshot (fresh open: no caches), then every proof
t = performance.now()
const stored = await Snapshot.open(imported.store, snapshot.cid, derivativesSchema, { verifyBlocks: false })
const someKey = records[Math.floor(accounts / 2)]!.key as Uint8Array | string
const key = typeof someKey === 'string' ? Buffer.from(someKey.slice(2), 'hex') : someKey
await proveAccount(stored, key)
const proofMs = ms(t)
t = performance.now()
let proofBytes = 0
for await (const p of proveAll(stored)) proofBytes += JSON.stringify(p).length
const allProofsMs = ms(t)

// stateRoot baselines over the same leaves
const leafValues: unknown[][] = []
for await (const e of snapshot.rawEntries()) {
  const rec = derivativesSchema.decode(e.value, 'r')
  leafValues.push(derivativesSchema.leaf(e.key, rec, keccak256(e.value)))
}
const encoded = leafValues.map((v) => abiEncode(derivativesSchema.leafEncoding, v))
t = performance.now()
for (const e of encoded) keccak256(keccak256(e))
const rawLeafKeccakMs = ms(t)
// Ark's whole stateRoot path from the same values: ABI-encode, hash leaves, sort, tree.
t = performance.now()
const hashes = new Uint8Array(leafValues.length * 32)
leafValues.forEach((v, i) => hashes.set(standardLeafHash(abiEncode(derivativesSchema.leafEncoding, v)), i * 32))
const arkRoot = bytesToHex(treeRoot(buildStandardTree(sortHashes(hashes))))
const arkStateRootMs = ms(t)
let ozMs: number | null = null
let ozEqual: boolean | null = null
if (accounts <= ozMax) {
  const ozValues = leafValues.map((v) => v.map(abiValueToJSON))
  t = performance.now()
  const oz = StandardMerkleTree.of(ozValues, [...derivativesSchema.leafEncoding])
  ozMs = ms(t)
  ozEqual = oz.root === snapshot.root.stateRoot && arkRoot === oz.root
}

const out = {
  bench: 'snapshot',
  accounts,
  build: { ms: buildMs, peakRssMiB: mb(peakRss), rssBeforeMiB: mb(rssBefore), blocks: stats.newBlocks, bytes: stats.newBytes, avgBlockBytes: Math.round(stats.newBytes / stats.newBlocks) },
  incremental1pct: { changes: changes.length, ms: incMs, ratioToBuild: +(incMs / buildMs).toFixed(3), newBlocks: inc.stats.newBlocks, newBytes: inc.stats.newBytes, newBytesRatio: +(inc.stats.newBytes / stats.newBytes).toFixed(4), equalsRebuild: 'see test/snapshot/determinism.test.ts' },
  diff: { ms: diffMs, accounts: diffCount },
  proof: { oneFromStoredMs: proofMs, allMs: allProofsMs, allJsonBytes: proofBytes },
  car: { bytes: car.length, exportMs, verifiedImportMs: importMs, sha256OneShotMs: +shaOneShotMs.toFixed(1), sha256PerBlockMs: +shaPerBlockMs.toFixed(1), importVsSha256PerBlock: +(shaPerBlockMs / importMs).toFixed(3) },
  stateRoot: { arkFromValuesMs: arkStateRootMs, rawLeafDoubleKeccakMs: rawLeafKeccakMs, openZeppelinOfMs: ozMs, openZeppelinRootEqual: ozEqual, speedupVsOpenZeppelin: ozMs === null ? null : +(ozMs / arkStateRootMs).toFixed(1), arkRootEqualsSnapshot: arkRoot === snapshot.root.stateRoot },
  peakRssMiB: mb(process.resourceUsage().maxRSS * 1024),
}
process.stdout.write(`${JSON.stringify(out)}\n`)
