import { CID } from 'multiformats/cid'
import type { Hex } from 'viem'
import { hexToBytes, bytesToHex } from '../snapshot/codec/hex.ts'
import { checkAdapterId, uintField } from './attestation.ts'
import { encodeCertificate, type Certificate } from './certificate.ts'
import { ProtocolError } from './errors.ts'
import type { Address } from './operator-set.ts'

const U64 = (1n << 64n) - 1n

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ProtocolError('MALFORMED', `certificate JSON: ${what} must be a string`)
  return v
}

function uint(v: unknown, what: string, max: bigint): bigint {
  const x = typeof v === 'string' && /^[0-9]{1,20}$/.test(v) ? BigInt(v) : v
  return uintField(x, `certificate JSON: ${what}`, max)
}

function hex(v: unknown, len: number, what: string): Hex {
  try {
    return bytesToHex(hexToBytes(str(v, what), what, len))
  } catch (cause) {
    throw new ProtocolError('MALFORMED', `certificate JSON: ${what} must be ${len} bytes of 0x-hex`, { cause })
  }
}

/**
 * The certificate in a `certificate.json` (certificateJSON(), as `ark fetch` writes it). The
 * certificate is re-encoded and its CID must equal the file's `certificate` field, so any edit
 * to the message or the signatures (or a field the CID does not cover disagreeing) is refused.
 * Signatures are not checked here (verifyCertificate does that against an operator set).
 */
export function certificateFromJSON(json: unknown): { certificate: Certificate; cid: CID } {
  const j = json as { certificate?: unknown; snapshot?: unknown; message?: Record<string, unknown>; signatures?: unknown; domain?: Record<string, unknown> }
  if (j === null || typeof j !== 'object' || j.message === null || typeof j.message !== 'object' || !Array.isArray(j.signatures)) {
    throw new ProtocolError('MALFORMED', 'certificate JSON must have certificate, message and signatures (the certificate.json that "ark fetch" writes)')
  }
  const m = j.message
  const adapterId = m.adapterId
  checkAdapterId(adapterId)
  let snapshotCid: CID
  try {
    snapshotCid = CID.decode(hexToBytes(str(m.snapshotCid, 'message.snapshotCid'), 'message.snapshotCid'))
  } catch (cause) {
    throw new ProtocolError('MALFORMED', 'certificate JSON: message.snapshotCid must be the 0x-hex bytes of a CID', { cause })
  }
  const certificate: Certificate = {
    body: {
      chainId: uint(m.chainId, 'message.chainId', U64),
      adapterId,
      configHash: hex(m.configHash, 32, 'message.configHash'),
      blockNumber: uint(m.blockNumber, 'message.blockNumber', U64),
      blockHash: hex(m.blockHash, 32, 'message.blockHash'),
      snapshotCid,
      stateRoot: hex(m.stateRoot, 32, 'message.stateRoot'),
      specVersion: Number(uint(m.specVersion, 'message.specVersion', 0xffffffffn)),
      kind: Number(uint(m.kind, 'message.kind', 1n)),
    },
    signatures: (j.signatures as unknown[]).map((s, i) => {
      const e = s as { signer?: unknown; signature?: unknown }
      return { signer: hex(e?.signer, 20, `signatures[${i}].signer`) as Address, signature: hex(e?.signature, 65, `signatures[${i}].signature`) }
    }),
  }
  const cid = encodeCertificate(certificate).cid
  if (str(j.certificate, 'certificate') !== cid.toString()) {
    throw new ProtocolError('MISMATCH', `certificate JSON says certificate ${String(j.certificate)} but its message and signatures encode to ${cid.toString()}; the file was altered, fetch it again`)
  }
  if (j.snapshot !== undefined && j.snapshot !== snapshotCid.toString()) {
    throw new ProtocolError('MISMATCH', `certificate JSON says snapshot ${String(j.snapshot)} but the signed message names ${snapshotCid.toString()}; the file was altered, fetch it again`)
  }
  if (j.domain !== undefined && String(j.domain?.chainId) !== certificate.body.chainId.toString()) {
    throw new ProtocolError('MISMATCH', `certificate JSON domain chainId ${String(j.domain?.chainId)} differs from the message chainId ${certificate.body.chainId}; the file was altered`)
  }
  return { certificate, cid }
}
