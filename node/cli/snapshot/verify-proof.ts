import { readFile } from 'node:fs/promises'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { verifyAccountProof } from '../../../snapshot/proof/verify.ts'
import type { AccountProof } from '../../../snapshot/proof/format.ts'
import { derivativesSchema } from '../../../snapshot/schema/derivatives.ts'
import type { RecordSchema } from '../../../snapshot/schema/types.ts'
import type { Command } from '../command.ts'

export const verifyProofCommand: Command = {
  name: 'verify-proof',
  summary: 'Check an account proof offline (exit 0 only if it leads to its stateRoot, and --root when given).',
  usage: 'ark snapshot verify-proof proof.json [--root 0x...] [--json]',
  options: { root: { type: 'string', description: 'the stateRoot you trust (e.g. from a certificate); the proof must match it' } },
  positionals: [1, 1],
  async run({ values, positionals, json, io }) {
    let proof: AccountProof
    try {
      proof = JSON.parse(await readFile(positionals[0]!, 'utf8')) as AccountProof
    } catch (cause) {
      throw new InvalidInputError(`cannot read proof ${positionals[0]}: ${(cause as Error).message}; pass a file written by "ark snapshot prove"`, { cause })
    }
    const root = values.root as string | undefined
    verifyAccountProof(proof, { schema: derivativesSchema as RecordSchema<unknown, unknown>, ...(root === undefined ? {} : { expectedRoot: root }) })
    if (!Array.isArray(proof.value)) throw new ArkError('PROOF_INVALID', 'proof has no value')
    const result = { valid: true, account: proof.value[0], stateRoot: proof.stateRoot, snapshot: proof.snapshot, block: proof.blockNumber }
    io.stdout(json ? `${JSON.stringify(result)}\n` : `valid: account ${String(result.account)} is in snapshot ${result.snapshot} (block ${result.block}, stateRoot ${result.stateRoot})\n`)
  },
}
