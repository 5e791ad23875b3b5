/**
 * Computes the recovery-v1 golden vectors (claim bundle ark.claim.v1, citation ark.citation.v1)
 * from their inputs. test/vectors/recovery-v1.json was generated once with this code and is never
 * edited; vectors.test.ts recomputes every output and compares.
 *
 * Regenerate (only for a NEW file, never over recovery-v1.json):
 *   node test/recovery/vectors.ts > test/vectors/recovery-vN.json
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { keccak256, toBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { verifyCertificate } from '../../protocol/certificate.ts'
import { parseOperatorSet } from '../../protocol/operator-set.ts'
import { buildClaimBundle, type ClaimBundle } from '../../node/recovery/claim-bundle.ts'
import { buildCitation, type Citation } from '../../node/recovery/citation.ts'
import { openSnapshotDir } from '../../node/recovery/snapshot-dir.ts'
import { addressToBytes } from '../../snapshot/codec/hex.ts'
import { derivativesSchema, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { attestationBodyOf, buildTestSnapshot, certify, writeFetchedDir } from '../support/recovery.ts'

export interface RecoveryVectorInputs {
  keys: { seed: string; privateKey: Hex; address: string }[]
  /** indices into keys (operators: all keys, weight 1, default threshold) */
  certificateSigners: number[]
  meta: { chainId: string; number: string; hash: Hex; timestamp: string; adapter: { id: string; version: string; configHash: Hex } }
  /** account records in the schema's JSON form */
  records: Record<string, unknown>[]
  prove: { account: string; vault: Hex }
  cite: { registry: Hex; gateways: string[]; trustSource: string }
}

export interface RecoveryVectorOutputs {
  snapshot: string
  stateRoot: string
  certificate: string
  bundle: ClaimBundle
  citation: Citation
}

export function keysFromSeeds(seeds: readonly string[]): RecoveryVectorInputs['keys'] {
  return seeds.map((seed) => {
    const privateKey = keccak256(toBytes(seed))
    return { seed, privateKey, address: privateKeyToAccount(privateKey).address.toLowerCase() }
  })
}

export async function computeRecoveryVectors(inp: RecoveryVectorInputs): Promise<RecoveryVectorOutputs> {
  const m = inp.meta
  const meta = { block: { chainId: BigInt(m.chainId), number: BigInt(m.number), hash: m.hash, timestamp: BigInt(m.timestamp) }, adapter: m.adapter }
  const records = inp.records.map((j) => {
    const { key, record } = derivativesSchema.fromJSON(j)
    return { key, record: record as AccountRecord }
  })
  const { snapshot, store } = await buildTestSnapshot(meta, records)
  const cert = await certify(attestationBodyOf(snapshot), inp.certificateSigners.map((i) => privateKeyToAccount(inp.keys[i]!.privateKey)))
  const tmp = await mkdtemp(join(tmpdir(), 'ark-recovery-vectors-'))
  try {
    await writeFetchedDir(join(tmp, 'd'), snapshot, store, cert, { source: 'not a URL' })
    const d = await openSnapshotDir(join(tmp, 'd'))
    const set = parseOperatorSet({ operators: inp.keys.map((k) => ({ address: k.address, weight: 1 })) })
    const { weight } = await verifyCertificate(d.certificate, set)
    return {
      snapshot: snapshot.cid.toString(),
      stateRoot: snapshot.root.stateRoot,
      certificate: d.certificateCid.toString(),
      bundle: await buildClaimBundle(d, addressToBytes(inp.prove.account, 'account'), { vault: inp.prove.vault }),
      citation: buildCitation(d, { registry: inp.cite.registry, gateways: inp.cite.gateways, trust: { set, source: inp.cite.trustSource, weight } }),
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

export const RECOVERY_V1_INPUTS: RecoveryVectorInputs = {
  keys: keysFromSeeds(['ark recovery-v1 operator 0', 'ark recovery-v1 operator 1', 'ark recovery-v1 operator 2', 'ark recovery-v1 operator 3']),
  certificateSigners: [0, 2, 3],
  meta: {
    chainId: '31337',
    number: '1000',
    hash: keccak256(toBytes('ark recovery-v1 block 1000')),
    timestamp: '1700000000',
    adapter: { id: 'perp-reference', version: '1', configHash: keccak256(toBytes('ark recovery-v1 config')) },
  },
  records: [
    { account: `0x${'11'.repeat(20)}`, collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: '1000000000' }, { asset: `0x${'bb'.repeat(20)}`, amount: '2500000000000000000' }], perps: [{ market: '1', size: '-3000000000000000000', entryPrice: '200000000000', fundingIndex: '-5' }], options: [] },
    { account: `0x${'22'.repeat(20)}`, collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: '7' }], perps: [], options: [{ market: '2', isCall: true, strike: '3000', expiry: '1700086400', size: '4' }] },
    { account: `0x${'33'.repeat(20)}`, collateral: [{ asset: `0x${'bb'.repeat(20)}`, amount: '1' }], perps: [], options: [] },
    { account: `0x${'44'.repeat(20)}`, collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: '115792089237316195423570985008687907853269984665640564039457584007913129639935' }], perps: [], options: [] },
  ],
  prove: { account: `0x${'11'.repeat(20)}`, vault: `0x${'cc'.repeat(20)}` },
  cite: { registry: `0x${'dd'.repeat(20)}`, gateways: ['https://gateway.example'], trustSource: 'recovery-v1 operator set' },
}

if (import.meta.main) {
  const outputs = await computeRecoveryVectors(RECOVERY_V1_INPUTS)
  const file = {
    _note: 'Golden vectors for the recovery formats ark.claim.v1 (ark prove) and ark.citation.v1 (ark cite), including the RecoveryVault claim calldata and the ArkRegistry submitCertificate calldata. This file is NEVER EDITED: a format change gets a new file (recovery-v2.json) and readers keep reproducing this one.',
    inputs: RECOVERY_V1_INPUTS,
    outputs,
  }
  process.stdout.write(`${JSON.stringify(file, null, 2)}\n`)
}
