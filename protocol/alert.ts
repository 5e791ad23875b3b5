import * as dagCbor from '@ipld/dag-cbor'
import { hashTypedData, type Hex, type TypedDataDefinition } from 'viem'
import { bytesToHex, hexToBytes } from '../snapshot/codec/hex.ts'
import { intFromIpld, intToIpld } from '../snapshot/codec/int.ts'
import { bytesField, checkAdapterId, checkSignature, normalizeV, U64, uintField } from './attestation.ts'
import { ALERT_TYPES, arkDomain } from './eip712.ts'
import { ProtocolError } from './errors.ts'
import type { Address } from './operator-set.ts'
import { checkShape, decodeWire, type WireShape } from './wire/envelope.ts'

/**
 * Watchdog alerts (PROTOCOL.md §12): an operator's signed statement that a
 * condition holds on the chain (an oracle went stale, the chain stalled, …).
 * Alerts from different operators about the same condition share one
 * **condition key**; when signers holding a quorum of weight agree on a key,
 * every node takes an emergency checkpoint at `emergencyBlock(key)`.
 */
export const ALERT_WIRE_VERSION = 1
/** Checked on the raw bytes before decoding anything. */
export const MAX_ALERT_BYTES = 1024
/** At most this many observed values per alert. */
export const MAX_ALERT_VALUES = 8

/**
 * Alert kinds, by wire code (the index). Bounded: used as metrics labels.
 * `emergency` kinds are signed, gossiped and can trigger an emergency
 * checkpoint: their `sinceBlock` is a deterministic function of the chain,
 * so every honest node computes the same condition key. The others are
 * local (logs, metrics, webhooks, HTTP) and never leave the node.
 */
export const ALERT_KINDS = [
  { name: 'chain-stall', emergency: true },
  { name: 'rpc-disagreement', emergency: false },
  { name: 'head-lag', emergency: false },
  { name: 'oracle-stale', emergency: true },
  { name: 'oracle-deviation', emergency: true },
  { name: 'oracle-disagreement', emergency: true },
  { name: 'oracle-nonpositive', emergency: true },
  { name: 'liquidation-backlog', emergency: true },
  { name: 'funding-stale', emergency: true },
  { name: 'protocol-paused', emergency: false },
  { name: 'ark-no-quorum', emergency: false },
  { name: 'ark-divergence', emergency: false },
] as const

export type AlertKind = (typeof ALERT_KINDS)[number]['name']
export const alertKindNames: readonly AlertKind[] = ALERT_KINDS.map((k) => k.name)

export function alertKindCode(kind: AlertKind): number {
  const i = alertKindNames.indexOf(kind)
  if (i < 0) throw new ProtocolError('MALFORMED', `unknown alert kind ${JSON.stringify(kind)}`)
  return i
}

export function alertKindName(code: number): AlertKind {
  const k = ALERT_KINDS[code]
  if (k === undefined) throw new ProtocolError('MALFORMED', `unknown alert kind code ${code}`)
  return k.name
}

export function isEmergencyKind(kind: AlertKind): boolean {
  return ALERT_KINDS[alertKindCode(kind)]!.emergency
}

/** What an operator signs about one condition. */
export interface AlertBody {
  chainId: bigint
  adapterId: string
  configHash: Hex
  /** keccak256 of the watchdog's consensus thresholds: nodes with other thresholds never aggregate with us */
  paramsHash: Hex
  kind: AlertKind
  /** the feed, market contract, account or 0x0 the condition is about */
  subject: Address
  /** first block at which the condition holds (deterministic rule per kind, PROTOCOL.md §12.2) */
  sinceBlock: bigint
  /** block at which this operator observed it */
  block: bigint
  /** observed values, integers only (kind-specific, PROTOCOL.md §12.2) */
  values: bigint[]
}

export interface SignedAlert {
  body: AlertBody
  signer: Address
  signature: Hex
}


const I256_MIN = -(1n << 255n)
const I256_MAX = (1n << 255n) - 1n

export function alertTypedData(b: AlertBody): TypedDataDefinition {
  return {
    domain: arkDomain(b.chainId),
    types: ALERT_TYPES,
    primaryType: 'Alert',
    message: { chainId: b.chainId, adapterId: b.adapterId, configHash: b.configHash, paramsHash: b.paramsHash, kind: alertKindCode(b.kind), subject: b.subject, sinceBlock: b.sinceBlock, block: b.block, values: b.values },
  } as TypedDataDefinition
}

export function alertDigest(b: AlertBody): Hex {
  return hashTypedData(alertTypedData(b))
}

/**
 * Identity of the condition: chain, adapter, configuration, thresholds, kind,
 * subject and the block it began. Observed values and the observation block
 * are not part of it, so operators polling at different moments agree.
 */
export function conditionKey(b: AlertBody): string {
  return `${b.chainId}/${b.adapterId}/${b.configHash.toLowerCase()}/${b.paramsHash.toLowerCase()}/${b.kind}/${b.subject.toLowerCase()}/${b.sinceBlock}`
}

/** The documented rule (PROTOCOL.md §12.3): the emergency checkpoint is the last block before the condition began. */
export function emergencyBlock(b: Pick<AlertBody, 'sinceBlock'>): bigint {
  return b.sinceBlock - 1n
}

export async function signAlert(body: AlertBody, signer: Address, sign: (digest: Hex) => Promise<Hex>): Promise<SignedAlert> {
  checkBody(body)
  return { body, signer: signer.toLowerCase() as Address, signature: normalizeV(await sign(alertDigest(body))) }
}

export async function verifyAlert(a: SignedAlert): Promise<void> {
  await checkSignature(alertDigest(a.body), a.signature, a.signer)
}

function checkBody(b: AlertBody): void {
  if (!isEmergencyKind(b.kind)) throw new ProtocolError('MALFORMED', `alert kind ${b.kind} is local to a node and never signed`)
  if (b.sinceBlock < 1n || b.sinceBlock > U64 || b.block > U64 || b.block < 0n) throw new ProtocolError('MALFORMED', 'sinceBlock must be in [1, 2^64-1] and block in [0, 2^64-1]')
  if (b.values.length > MAX_ALERT_VALUES) throw new ProtocolError('MALFORMED', `an alert carries at most ${MAX_ALERT_VALUES} values`)
  for (const v of b.values) if (typeof v !== 'bigint' || v < I256_MIN || v > I256_MAX) throw new ProtocolError('MALFORMED', 'alert values must be int256')
}

/** The alert as an IPLD map (also used inline in emergency records). */
export function alertValue(a: SignedAlert): Record<string, unknown> {
  const b = a.body
  return {
    type: 'ark.alert',
    v: ALERT_WIRE_VERSION,
    chainId: b.chainId,
    adapterId: b.adapterId,
    configHash: hexToBytes(b.configHash, 'configHash', 32),
    paramsHash: hexToBytes(b.paramsHash, 'paramsHash', 32),
    kind: alertKindCode(b.kind),
    subject: hexToBytes(b.subject, 'subject', 20),
    sinceBlock: b.sinceBlock,
    block: b.block,
    values: b.values.map((x) => intToIpld(x)),
    signer: hexToBytes(a.signer, 'signer', 20),
    signature: hexToBytes(a.signature, 'signature', 65),
  }
}

export function encodeAlert(a: SignedAlert): Uint8Array {
  checkBody(a.body)
  return dagCbor.encode(alertValue(a))
}

export const ALERT_WIRE: WireShape = {
  name: 'alert',
  maxBytes: MAX_ALERT_BYTES,
  fields: ['adapterId', 'block', 'chainId', 'configHash', 'kind', 'paramsHash', 'signature', 'signer', 'sinceBlock', 'subject', 'type', 'v', 'values'],
  type: 'ark.alert',
  version: ALERT_WIRE_VERSION,
}

/** Decode a wire alert through the strict envelope (wire/envelope.ts); kind and values are bounded in step 7. */
export function decodeAlert(bytes: Uint8Array): SignedAlert {
  return decodeWire(bytes, ALERT_WIRE, alertFromValue, encodeAlert)
}

/** An alert map (on its own or inline in an emergency record): envelope steps 3–7. */
export function alertFromValue(v: unknown): SignedAlert {
  checkShape(v, ALERT_WIRE)
  checkAdapterId(v.adapterId)
  if (!Array.isArray(v.values) || v.values.length > MAX_ALERT_VALUES) throw new ProtocolError('MALFORMED', `values must be a list of at most ${MAX_ALERT_VALUES} integers`)
  const values = v.values.map((x: unknown, i: number) => {
    try {
      return intFromIpld(x as number | bigint | Uint8Array, { signed: true, bits: 256 }, `values[${i}]`)
    } catch (cause) {
      throw new ProtocolError('MALFORMED', `values[${i}] is not an int256 under the integer rule`, { cause })
    }
  })
  const a: SignedAlert = {
    body: {
      chainId: uintField(v.chainId, 'chainId', U64),
      adapterId: v.adapterId,
      configHash: bytesField(v.configHash, 32, 'configHash'),
      paramsHash: bytesField(v.paramsHash, 32, 'paramsHash'),
      kind: alertKindName(Number(uintField(v.kind, 'kind', 255n))),
      subject: bytesField(v.subject, 20, 'subject') as Address,
      sinceBlock: uintField(v.sinceBlock, 'sinceBlock', U64),
      block: uintField(v.block, 'block', U64),
      values,
    },
    signer: bytesField(v.signer, 20, 'signer') as Address,
    signature: bytesField(v.signature, 65, 'signature'),
  }
  checkBody(a.body)
  return a
}

/** JSON form for the HTTP API and webhooks (integers as decimal strings, bytes as 0x-hex). */
export function alertJSON(a: SignedAlert): Record<string, unknown> {
  const b = a.body
  return {
    conditionKey: conditionKey(b),
    kind: b.kind,
    chainId: b.chainId.toString(),
    adapterId: b.adapterId,
    configHash: b.configHash,
    paramsHash: b.paramsHash,
    subject: b.subject,
    sinceBlock: b.sinceBlock.toString(),
    block: b.block.toString(),
    values: b.values.map(String),
    signer: a.signer,
    signature: a.signature,
    bytes: bytesToHex(encodeAlert(a)),
  }
}
