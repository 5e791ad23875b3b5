import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { certificateFromJSON } from '../../../protocol/certificate-json.ts'
import { decodeCertificate, encodeCertificate, type Certificate } from '../../../protocol/certificate.ts'
import { ProtocolError } from '../../../protocol/errors.ts'
import { readCarFile } from '../open-car.ts'
import { decodeBlock } from '../../../snapshot/codec/block.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import type { Snapshot } from '../../../snapshot/state/snapshot.ts'
import type { MemoryBlockStore } from '../../../snapshot/store.ts'
import { verifyAgainst } from '../../recovery/trust.ts'
import { checkAccountsJsonl, checkMarketsJson, checkSummaryJson } from '../../recovery/verify-files.ts'
import { openCertifiedSnapshot } from '../../recovery/verify.ts'
import { UsageError, type Command } from '../command.ts'
import { TRUST_OPTIONS, trustRootFromOptions } from './trust-options.ts'

async function readBytes(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (cause) {
    throw new ArkError('IO', `cannot read ${what} ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check the path`, { cause })
  }
}

/** certificate.json (as `ark fetch` writes it) or a raw certificate block. */
async function readCertificate(path: string): Promise<{ certificate: Certificate; cid: CID }> {
  const bytes = await readBytes(path, 'certificate')
  const text = bytes.toString('utf8').trimStart()
  if (text.startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (cause) {
      throw new ProtocolError('MALFORMED', `${path} is not valid JSON; pass the certificate.json "ark fetch" wrote (or the raw certificate block)`, { cause })
    }
    return certificateFromJSON(json)
  }
  const certificate = decodeCertificate(bytes)
  return { certificate, cid: encodeCertificate(certificate).cid }
}

/** A CAR's blocks (all hash-checked) and, if its root is a certificate block, that certificate. */
async function loadCar(path: string): Promise<{ store: MemoryBlockStore; root: CID; certificate: { certificate: Certificate; cid: CID } | undefined }> {
  const { roots, store } = await readCarFile(path, 'CAR file')
  const root = roots[0]!
  const value = decodeBlock(root, store.get(root)) as { type?: unknown } | null
  if (value !== null && typeof value === 'object' && value.type === 'ark.certificate') return { store, root, certificate: { certificate: decodeCertificate(store.get(root)), cid: root } }
  return { store, root, certificate: undefined }
}

export interface VerifyReport {
  ok: true
  certificate: string
  snapshot: string
  chainId: string
  adapter: string
  block: string
  stateRoot: string
  accounts: number
  weight: string
  threshold: string
  signers: string[]
  trust: string
  checked: string[]
  /** blocks in the CAR that the snapshot does not reference (harmless, reported) */
  extraBlocks: number
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'Re-verify a fetched snapshot offline: certificate signatures and threshold against the trust root, every block hash, tree layout, account count and stateRoot, and the exported files against the CAR.',
  usage: 'ark verify DIR|snapshot.car (--trust operators.json | --registry ADDRESS --rpc URL) [--certificate certificate.json] [--json]',
  options: {
    ...TRUST_OPTIONS,
    certificate: { type: 'string', description: 'certificate for a plain snapshot CAR (certificate.json or the raw block); not needed for a DIR or a CAR rooted at its certificate' },
  },
  positionals: [1, 1],
  async run({ values, positionals, json, io, signal }) {
    const input = positionals[0]!
    const root = (await trustRootFromOptions(values, { required: true, usage: this.usage }))!
    let isDir: boolean
    try {
      isDir = (await stat(input)).isDirectory()
    } catch (cause) {
      throw new ArkError('IO', `cannot open ${input}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; pass a directory written by "ark fetch --out DIR" or a snapshot .car file`, { cause })
    }
    const checked: string[] = []
    let cert: { certificate: Certificate; cid: CID }
    let car: Awaited<ReturnType<typeof loadCar>>
    if (isDir) {
      if (values.certificate !== undefined) throw new UsageError('--certificate is for a plain CAR; a directory carries its certificate.json')
      cert = await readCertificate(join(input, 'certificate.json'))
      car = await loadCar(join(input, 'snapshot.car'))
    } else {
      car = await loadCar(input)
      if (values.certificate !== undefined) cert = await readCertificate(values.certificate as string)
      else if (car.certificate !== undefined) cert = car.certificate
      else throw new UsageError(`${input} is a snapshot CAR without its certificate; pass --certificate certificate.json (or verify the directory "ark fetch" wrote)`)
    }
    if (car.certificate !== undefined && !car.certificate.cid.equals(cert.cid)) throw new ProtocolError('MISMATCH', `the CAR is rooted at certificate ${car.certificate.cid} but the certificate given is ${cert.cid}`)
    const snapshotCid = cert.certificate.body.snapshotCid
    if (car.certificate === undefined && !car.root.equals(snapshotCid)) {
      throw new ProtocolError('MISMATCH', `${isDir ? 'snapshot.car' : input} holds snapshot ${car.root} but the certificate certifies ${snapshotCid}; ${isDir ? 'the directory mixes two snapshots or was altered, fetch it again' : 'pass the certificate of this snapshot'}`)
    }
    await root.prepare?.(signal)
    const { weight, set } = await verifyAgainst(root, cert.certificate, signal)
    checked.push('certificate')
    const snapshot: Snapshot<unknown, unknown> = await openCertifiedSnapshot(cert.certificate, car.store)
    checked.push('blocks', 'tree', 'accountCount', 'stateRoot')
    let reachable = 0
    for await (const _ of snapshot.blockCids()) reachable++
    const extraBlocks = car.store.blocks.size - reachable - (car.certificate === undefined ? 0 : 1)
    if (isDir) {
      await checkAccountsJsonl(input, snapshot)
      await checkMarketsJson(input, snapshot)
      await checkSummaryJson(input, snapshot, cert.certificate, cert.cid.toString())
      checked.push('accounts.jsonl', 'markets.json', 'summary.json')
    }
    const r = snapshot.root
    const report: VerifyReport = {
      ok: true,
      certificate: cert.cid.toString(),
      snapshot: snapshot.cid.toString(),
      chainId: r.block.chainId.toString(),
      adapter: r.adapter.id,
      block: r.block.number.toString(),
      stateRoot: r.stateRoot,
      accounts: r.accountCount,
      weight: weight.toString(),
      threshold: set.threshold.toString(),
      signers: cert.certificate.signatures.map((s) => s.signer),
      trust: root.describe(cert.certificate),
      checked,
      extraBlocks,
    }
    if (json) io.stdout(`${JSON.stringify(report)}\n`)
    else {
      io.stdout(`verified: snapshot of chain ${report.chainId} block ${report.block} (${report.adapter}), ${report.accounts} accounts\n  certificate ${report.certificate}: weight ${report.weight} of threshold ${report.threshold} (${report.signers.length} signers) against ${report.trust}\n  snapshot    ${report.snapshot}\n  stateRoot   ${report.stateRoot}\n  checked     ${checked.join(', ')}\n${extraBlocks > 0 ? `  note: the CAR also holds ${extraBlocks} block(s) the snapshot does not reference\n` : ''}`)
    }
  },
}
