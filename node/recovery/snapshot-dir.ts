import { createWriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { CID } from 'multiformats/cid'
import { certificateFromJSON } from '../../protocol/certificate-json.ts'
import { certificateJSON, type Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { bigintReplacer } from '../../snapshot/codec/json.ts'
import { exportJsonl } from '../../snapshot/export/records.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { openCar } from '../cli/open-car.ts'
import type { Fetched } from './fetch.ts'

/** A directory as `ark fetch` writes it, opened and cross-checked. */
export interface SnapshotDir {
  dir: string
  certificate: Certificate
  certificateCid: CID
  /** certificate.json as read (the self-describing EIP-712 form) */
  certificateJson: Record<string, unknown>
  snapshot: Snapshot<unknown, unknown>
  /** summary.json if present (untrusted hints such as the gateway it came from) */
  summary: Record<string, unknown> | undefined
}

async function readJson(path: string, what: string, optional: boolean): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (optional && code === 'ENOENT') return undefined
    throw new ArkError('IO', `cannot read ${path}: ${code ?? (cause as Error).message}; pass a directory written by "ark fetch" (it holds ${what})`, { cause })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw new InvalidInputError(`${path} is not valid JSON; fetch the snapshot again with "ark fetch"`, { cause })
  }
}

/**
 * Opens DIR (certificate.json, snapshot.car, optional summary.json) and checks that the certificate
 * is intact (its re-encoding has the CID the file states) and certifies exactly the snapshot in the
 * CAR: root CID, chain, block, adapter, configHash and stateRoot. Signatures are checked separately
 * (node/recovery/trust.ts) when a trust root is given.
 */
export async function openSnapshotDir(dir: string): Promise<SnapshotDir> {
  let st
  try {
    st = await stat(dir)
  } catch (cause) {
    throw new ArkError('IO', `cannot open ${dir}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; pass the directory "ark fetch --out DIR" wrote`, { cause })
  }
  if (!st.isDirectory()) throw new ArkError('IO', `${dir} is not a directory; pass the directory "ark fetch --out DIR" wrote (certificate.json, snapshot.car, …)`)
  const certificateJson = (await readJson(join(dir, 'certificate.json'), 'certificate.json', false)) as Record<string, unknown>
  const { certificate, cid } = certificateFromJSON(certificateJson)
  const snapshot = await openCar(join(dir, 'snapshot.car'))
  const summary = (await readJson(join(dir, 'summary.json'), 'summary.json', true)) as Record<string, unknown> | undefined
  const b = certificate.body
  const r = snapshot.root
  const mismatch = (what: string, cert: unknown, car: unknown): never => {
    throw new ProtocolError('MISMATCH', `certificate.json certifies ${what} ${String(cert)} but snapshot.car has ${String(car)}; ${dir} mixes two snapshots or was altered, fetch it again`)
  }
  if (!b.snapshotCid.equals(snapshot.cid)) mismatch('snapshot', b.snapshotCid, snapshot.cid)
  if (b.stateRoot.toLowerCase() !== r.stateRoot.toLowerCase()) mismatch('stateRoot', b.stateRoot, r.stateRoot)
  if (b.chainId !== r.block.chainId) mismatch('chain', b.chainId, r.block.chainId)
  if (b.blockNumber !== r.block.number) mismatch('block', b.blockNumber, r.block.number)
  if (b.blockHash.toLowerCase() !== r.block.hash.toLowerCase()) mismatch('block hash', b.blockHash, r.block.hash)
  if (b.adapterId !== r.adapter.id) mismatch('adapter', b.adapterId, r.adapter.id)
  if (b.configHash.toLowerCase() !== r.adapter.configHash.toLowerCase()) mismatch('configHash', b.configHash, r.adapter.configHash)
  return { dir, certificate, certificateCid: cid, certificateJson, snapshot, summary }
}

/** summary.json of a directory `ark fetch` (or `ark mirror`) wrote. */
export interface FetchedSummary {
  block: string
  blockHash: string
  chainId: string
  adapter: unknown
  snapshot: string
  certificate: string
  stateRoot: string
  accounts: number
  signers: string[]
  weight: string
  trust: string
  source: string
  certificateSource: string
}

/**
 * The sorted proof-leaf hashes of the snapshot (32 bytes each: the
 * OpenZeppelin tree's leaf layer), a cache for the next incremental fetch
 * (`--from`, `ark mirror`): checked against the certified stateRoot before
 * it is used, recomputed from the records when absent or wrong.
 */
export const LEAF_LAYER_FILE = 'merkle-leaves.bin'

/**
 * Write a fetched, verified snapshot as DIR (certificate.json, snapshot.car,
 * accounts.jsonl, markets.json, merkle-leaves.bin, summary.json): everything goes to a sibling
 * temp dir renamed to `out` at the end, so `out` is complete or absent.
 * `trust` describes the trust root that checked the certificate.
 */
export async function writeSnapshotDir(out: string, r: Fetched, trust: string): Promise<FetchedSummary> {
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`)
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  try {
    const s = r.snapshot
    await writeFile(join(tmp, 'certificate.json'), `${JSON.stringify(certificateJSON(r.certificate), bigintReplacer, 2)}\n`)
    await pipeline(Readable.from(writeCar([s.cid], s.blockCids(), r.store)), createWriteStream(join(tmp, 'snapshot.car')))
    await pipeline(Readable.from(exportJsonl(s)), createWriteStream(join(tmp, 'accounts.jsonl')))
    await writeFile(join(tmp, 'markets.json'), `${JSON.stringify(s.schema.markets.toJSON(await s.markets()), null, 2)}\n`)
    await writeFile(join(tmp, LEAF_LAYER_FILE), (await s.merkle())?.sortedLeaves ?? new Uint8Array(0))
    const summary: FetchedSummary = { block: s.root.block.number.toString(), blockHash: s.root.block.hash, chainId: s.root.block.chainId.toString(), adapter: s.root.adapter, snapshot: s.cid.toString(), certificate: r.certificateCid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, signers: r.certificate.signatures.map((x) => x.signer), weight: r.weight.toString(), trust, source: r.source, certificateSource: r.certificateSource }
    await writeFile(join(tmp, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
    await rename(tmp, out)
    return summary
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}
