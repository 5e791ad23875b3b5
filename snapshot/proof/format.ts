import { bytesToHex } from '../codec/hex.ts'

/** JSON form of ABI values, as OpenZeppelin's StandardMerkleTree takes them: hex for bytes, decimal strings for integers. */
export function abiValueToJSON(v: unknown): unknown {
  if (v instanceof Uint8Array) return bytesToHex(v)
  if (typeof v === 'bigint') return v.toString()
  if (Array.isArray(v)) return v.map(abiValueToJSON)
  return v
}

export const PROOF_FORMAT = 'ark.proof.v1'
export const CLAIMS_FORMAT = 'ark.claims.v1'

/** One account's proof: verifiable with StandardMerkleTree.verify(stateRoot, leafEncoding, value, proof). */
export interface AccountProof {
  format: typeof PROOF_FORMAT
  snapshot: string
  chainId: string
  blockNumber: string
  blockHash: string
  stateRoot: string
  leafEncoding: string[]
  value: unknown[]
  proof: string[]
  /** the full record (schema JSON form); its canonical hash is value[1] for the reference schema */
  record?: Record<string, unknown>
}
