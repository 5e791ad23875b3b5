/**
 * Computes the alert-v1 golden vectors from their inputs. The stored file
 * test/vectors/alert-v1.json was generated once with this code and is never
 * edited; alert.test.ts recomputes every output and compares.
 */
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { alertDigest, conditionKey, emergencyBlock, encodeAlert, signAlert, type AlertBody, type AlertKind } from '../../protocol/alert.ts'
import { emergencyFrom, encodeEmergency } from '../../protocol/emergency.ts'
import type { Address } from '../../protocol/operator-set.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'

export interface AlertBodyJSON {
  chainId: string
  adapterId: string
  configHash: Hex
  paramsHash: Hex
  kind: AlertKind
  subject: Address
  sinceBlock: string
  block: string
  values: string[]
}

export interface AlertVectorInputs {
  keys: { seed: string; privateKey: Hex; address: string }[]
  body: AlertBodyJSON
  alertSigner: number
  /** indices into keys (weight 1 each, default threshold 3 of 4) */
  quorumSigners: number[]
  /** what the record's certificate link is: encodeBlock of this value (a stand-in CID) */
  certificateSeed: string
}

export interface AlertVectorOutputs {
  typehash: Hex
  digest: Hex
  signature: Hex
  alert: Hex
  conditionKey: string
  emergencyBlock: string
  emergency: { cid: string; block: Hex }
}

export function alertBodyFromJSON(j: AlertBodyJSON): AlertBody {
  return { ...j, chainId: BigInt(j.chainId), sinceBlock: BigInt(j.sinceBlock), block: BigInt(j.block), values: j.values.map(BigInt) }
}

async function signWith(privateKey: Hex, body: AlertBody) {
  const account = privateKeyToAccount(privateKey)
  return signAlert(body, account.address.toLowerCase() as Address, (digest) => account.sign({ hash: digest }))
}

export async function computeAlertVectors(inp: AlertVectorInputs): Promise<AlertVectorOutputs> {
  const body = alertBodyFromJSON(inp.body)
  const a = await signWith(inp.keys[inp.alertSigner]!.privateKey, body)
  const record = encodeEmergency(emergencyFrom(await Promise.all(inp.quorumSigners.map((i) => signWith(inp.keys[i]!.privateKey, body))), encodeBlock({ ark: inp.certificateSeed }).cid))
  return {
    typehash: bytesToHex(keccak256(Buffer.from('Alert(uint256 chainId,string adapterId,bytes32 configHash,bytes32 paramsHash,uint8 kind,address subject,uint64 sinceBlock,uint64 block,int256[] values)'))),
    digest: alertDigest(body),
    signature: a.signature,
    alert: bytesToHex(encodeAlert(a)),
    conditionKey: conditionKey(body),
    emergencyBlock: emergencyBlock(body).toString(),
    emergency: { cid: record.cid.toString(), block: bytesToHex(record.bytes) },
  }
}
