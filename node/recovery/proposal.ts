import { encodeFunctionData, getAddress, parseAbi, toFunctionSignature, type AbiFunction, type Hex } from 'viem'
import type { Certificate } from '../../protocol/certificate.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { DISTRIBUTOR_ABI } from '../chain/distributor.ts'
import { ARK_REGISTRY_ABI, attestationTuple } from '../chain/registry.ts'

/** The restitution attestation kind (PROTOCOL: 0 scheduled, 1 emergency, 2 restitution). */
export const RESTITUTION_KIND = 2

/** `unpause()` (OpenZeppelin Pausable, the reference venue's PerpExchange) and ERC-20 `approve`. */
const TARGET_ABI = parseAbi(['function unpause()', 'function approve(address spender, uint256 value) returns (bool)'])

/** One call of a recovery proposal: the target, the ABI item it calls, its arguments and calldata. */
export interface RecoveryAction {
  target: Hex
  value: bigint
  fn: AbiFunction
  args: readonly unknown[]
  data: Hex
  /** what the call does, for reviewers */
  note: string
}

export interface RecoveryActionsInput {
  certificate: Certificate
  /** the ArkRegistry that anchors the certificate */
  registry: Hex
  /** the Distributor to open: its root is the certificate's (kind 2, `setRestitution`) or `root` (`setRoot`) */
  distributor?: { address: Hex; deadline: bigint; root?: Hex }
  /** approve + fund the distributor with `amount` of `token` (needs `distributor`) */
  fund?: { token: Hex; amount: bigint }
  /** contracts whose `unpause()` ends recovery mode */
  unpause?: readonly Hex[]
}

function action(abi: readonly unknown[], target: Hex, name: string, args: readonly unknown[], note: string): RecoveryAction {
  const fn = (abi as readonly AbiFunction[]).find((x) => x.type === 'function' && x.name === name && x.inputs.length === args.length)!
  return { target: getAddress(target), value: 0n, fn, args, data: encodeFunctionData({ abi: [fn], functionName: name, args } as never), note }
}

/**
 * The calls that put a certified recovery into effect, in execution order: anchor the certificate in
 * the ArkRegistry; open the distributor (its root from the registry's kind-2 record, or a given root);
 * approve and fund it; unpause. Governor proposals and Safe batches are both built from this list.
 */
export function recoveryActions(i: RecoveryActionsInput): RecoveryAction[] {
  const b = i.certificate.body
  const out: RecoveryAction[] = [
    action(ARK_REGISTRY_ABI, i.registry, 'submitCertificate', [attestationTuple(b), i.certificate.signatures.map((s) => getAddress(s.signer)), i.certificate.signatures.map((s) => s.signature)], `anchor the certificate of ${b.adapterId} block ${b.blockNumber} (kind ${b.kind}, stateRoot ${b.stateRoot.toLowerCase()})`),
  ]
  if (i.fund !== undefined && i.distributor === undefined) throw new InvalidInputError('funding needs a distributor: give --distributor with --token and --amount')
  if (i.distributor !== undefined) {
    const d = i.distributor
    if (d.root !== undefined) {
      out.push(action(DISTRIBUTOR_ABI, d.address, 'setRoot', [d.root, d.deadline], `open the distributor with root ${d.root.toLowerCase()} until ${d.deadline} (unix time)`))
    } else if (b.kind === RESTITUTION_KIND) {
      out.push(action(DISTRIBUTOR_ABI, d.address, 'setRestitution', [b.blockNumber, d.deadline], `open the distributor with the anchored restitution root (kind 2, block ${b.blockNumber}) until ${d.deadline} (unix time)`))
    } else {
      throw new InvalidInputError(`the distributor's root comes from a restitution certificate (kind 2); this certificate is kind ${b.kind}: cite the restitution certificate, or give --distributor-root for a distributor without a registry`)
    }
    if (i.fund !== undefined) {
      if (i.fund.amount <= 0n) throw new InvalidInputError('--amount must be a positive integer (token base units)')
      out.push(action(TARGET_ABI, i.fund.token, 'approve', [getAddress(d.address), i.fund.amount], `let the distributor pull ${i.fund.amount} base units of ${getAddress(i.fund.token)}`))
      out.push(action(DISTRIBUTOR_ABI, d.address, 'fund', [getAddress(i.fund.token), i.fund.amount], `fund the distributor with ${i.fund.amount} base units of ${getAddress(i.fund.token)}`))
    }
  }
  for (const t of i.unpause ?? []) out.push(action(TARGET_ABI, t, 'unpause', [], `end recovery mode: unpause ${getAddress(t)}`))
  return out
}

/** `name(type,...)` of an action, as reviewers and block explorers show it. */
export function actionSignature(a: RecoveryAction): string {
  return toFunctionSignature(a.fn)
}
