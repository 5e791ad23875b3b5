import { abiEncode } from '../abi/encode.ts'
import { hexToBytes } from '../codec/hex.ts'
import { ArkError } from '../ark-error.ts'
import { InvalidInputError } from '../errors.ts'
import { processProof, standardLeafHash } from '../merkle/standard-tree.ts'
import { PROOF_FORMAT, type AccountProof } from './format.ts'
import { equalBytes } from '../codec/hex.ts'
import type { RecordSchema } from '../schema/types.ts'
import { keccak256 } from '../codec/keccak.ts'

export class ProofInvalidError extends ArkError {
  override readonly name = 'ProofInvalidError'
  constructor(message: string) {
    super('PROOF_INVALID', message)
  }
}

/**
 * Check a proof the way MerkleProof.sol / StandardMerkleTree.verify do, and,
 * when the proof carries the full record and the schema is known, that the
 * record hashes to the leaf's record hash. Throws ProofInvalidError.
 */
export function verifyAccountProof(p: AccountProof, options: { schema?: RecordSchema<unknown, unknown>; expectedRoot?: string } = {}): void {
  if (p?.format !== PROOF_FORMAT) throw new InvalidInputError(`proof format ${JSON.stringify(p?.format)} is not ${PROOF_FORMAT}; produce it with "ark snapshot prove"`)
  if (!Array.isArray(p.leafEncoding) || !Array.isArray(p.value) || !Array.isArray(p.proof)) throw new InvalidInputError('proof must have leafEncoding, value and proof arrays')
  const root = hexToBytes(p.stateRoot, 'stateRoot', 32)
  if (options.expectedRoot !== undefined && !equalBytes(root, hexToBytes(options.expectedRoot, 'expected root', 32))) {
    throw new ProofInvalidError(`proof is for stateRoot ${p.stateRoot}, not the expected ${options.expectedRoot}; it belongs to a different snapshot`)
  }
  const leaf = standardLeafHash(abiEncode(p.leafEncoding, p.value))
  const got = processProof(leaf, p.proof.map((h, i) => hexToBytes(h, `proof[${i}]`, 32)))
  if (!equalBytes(got, root)) throw new ProofInvalidError(`proof does not lead to stateRoot ${p.stateRoot}: the value, the proof or the root was altered, or the proof is for a different snapshot`)
  if (p.record !== undefined && options.schema !== undefined && p.leafEncoding[1] === 'bytes32') {
    const { key, record } = options.schema.fromJSON(p.record)
    const hash = keccak256(options.schema.encode(record, 'record').bytes)
    if (!equalBytes(hash, hexToBytes(String(p.value[1]), 'value[1]', 32)) || !equalBytes(key, hexToBytes(String(p.value[0]), 'value[0]', 20))) {
      throw new ProofInvalidError('the record attached to the proof does not hash to the record hash in the leaf; the record was altered')
    }
  }
}
