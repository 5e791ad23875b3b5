/**
 * Support for the recovery tests (`ark prove`, `ark cite`, RecoveryVault): build a small derivatives
 * snapshot, certify it with test operator keys, and write it out as `ark fetch` does
 * (certificate.json, snapshot.car, accounts.jsonl, markets.json, summary.json); run the CLI
 * in-process and capture its output.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Hex } from 'viem'
import { keccak256, toHex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { signAttestation, type AttestationBody } from '../../protocol/attestation.ts'
import { certificateFrom, certificateJSON, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { exportJsonl } from '../../snapshot/export/records.ts'
import { derivativesSchema, type AccountRecord, type DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot, type RecordInput } from '../../snapshot/state/build.ts'
import type { SnapshotMeta } from '../../snapshot/state/root.ts'
import { SPEC_VERSION } from '../../snapshot/state/root.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { main } from '../../node/cli/main.ts'

/** Four operators sorted by address, from fixed seeds, and an outsider. */
export function testOperators(tag = 'ark recovery test operator'): { ops: PrivateKeyAccount[]; outsider: PrivateKeyAccount } {
  const accounts = Array.from({ length: 5 }, (_, i) => privateKeyToAccount(keccak256(toHex(`${tag} ${i}`))))
  const ops = accounts.slice(0, 4).sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
  return { ops, outsider: accounts[4]! }
}

export async function buildTestSnapshot(meta: SnapshotMeta, records: RecordInput<AccountRecord>[], markets: DerivativesMarkets = { assets: [], markets: [] }): Promise<{ snapshot: Snapshot<AccountRecord, DerivativesMarkets>; store: MemoryBlockStore }> {
  const store = new MemoryBlockStore()
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta, markets, records, store })
  return { snapshot, store }
}

export function attestationBodyOf(s: Snapshot<unknown, unknown>): AttestationBody {
  const r = s.root
  return { chainId: r.block.chainId, adapterId: r.adapter.id, configHash: r.adapter.configHash as Hex, blockNumber: r.block.number, blockHash: r.block.hash as Hex, snapshotCid: s.cid, stateRoot: r.stateRoot as Hex, specVersion: SPEC_VERSION, kind: 0 }
}

export async function certify(body: AttestationBody, signers: readonly PrivateKeyAccount[]): Promise<Certificate> {
  return certificateFrom(await Promise.all(signers.map((s) => signAttestation(body, s.address, (digest) => s.sign({ hash: digest })))))
}

const bigintJSON = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

/** Writes DIR as `ark fetch --out DIR` does. */
export async function writeFetchedDir(dir: string, s: Snapshot<unknown, unknown>, store: MemoryBlockStore, certificate: Certificate, extra: { weight?: bigint; source?: string } = {}): Promise<{ certificateCid: CID }> {
  await mkdir(dir, { recursive: true })
  const certificateCid = encodeCertificate(certificate).cid
  await writeFile(join(dir, 'certificate.json'), `${JSON.stringify(certificateJSON(certificate), bigintJSON, 2)}\n`)
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([s.cid], s.blockCids(), store)) chunks.push(c)
  await writeFile(join(dir, 'snapshot.car'), Buffer.concat(chunks))
  let lines = ''
  for await (const l of exportJsonl(s)) lines += l
  await writeFile(join(dir, 'accounts.jsonl'), lines)
  await writeFile(join(dir, 'markets.json'), `${JSON.stringify(s.schema.markets.toJSON(await s.markets()), null, 2)}\n`)
  const summary = { block: s.root.block.number.toString(), blockHash: s.root.block.hash, chainId: s.root.block.chainId.toString(), adapter: s.root.adapter, snapshot: s.cid.toString(), certificate: certificateCid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, signers: certificate.signatures.map((x) => x.signer), weight: (extra.weight ?? BigInt(certificate.signatures.length)).toString(), source: extra.source ?? 'http://127.0.0.1:9545' }
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
  return { certificateCid }
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `ark ...argv` in this process (the function bin.js calls) and captures its output (`tty`: as if stdout were a terminal). */
export async function runArk(argv: string[], options: { tty?: boolean } = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
    pipe: async (chunks) => {
      for await (const c of chunks) stdout += c
    },
    tty: options.tty ?? false,
  })
  return { code, stdout, stderr }
}

/** The `--json` error object of a failed run. */
export function errorOf(r: CliRun): { name: string; code: string; message: string } {
  const lines = r.stderr.trim().split('\n')
  return (JSON.parse(lines[lines.length - 1]!) as { error: { name: string; code: string; message: string } }).error
}
