import { resolve } from 'node:path'
import type { Hex } from 'viem'
import type { Certificate } from '../../../protocol/certificate.ts'
import type { Citation } from '../../recovery/citation.ts'
import { recoveryActions } from '../../recovery/proposal.ts'
import { proposalDescription } from '../../recovery/proposal-description.ts'
import { governorProposal, type GovernorProposal } from '../../recovery/proposal-governor.ts'
import { safeBatch, type SafeBatch } from '../../recovery/proposal-safe.ts'
import { UsageError, type Options } from '../command.ts'
import { addressOption } from './trust-options.ts'

/** `ark cite` options for executable proposals (--governor, --safe) and the calls they carry. */
export const PROPOSAL_OPTIONS: Options = {
  governor: { type: 'string', description: 'OpenZeppelin Governor address: emit an executable proposal (targets, values, calldatas, description, descriptionHash, proposalId, propose/queue/execute calldata)' },
  'governor-out': { type: 'string', description: 'write the Governor proposal JSON here, atomically (needed unless --json)' },
  safe: { type: 'string', description: 'Safe address: emit a Safe Transaction Builder batch JSON' },
  'safe-out': { type: 'string', description: 'write the Safe batch JSON here, atomically (needed unless --json)' },
  distributor: { type: 'string', description: 'Distributor to open: its root is the cited restitution certificate\'s (kind 2), or --distributor-root' },
  'distributor-root': { type: 'string', description: 'root for a Distributor deployed without a registry (setRoot)' },
  deadline: { type: 'string', description: 'the distributor\'s claim deadline, unix seconds' },
  token: { type: 'string', description: 'ERC-20 to fund the distributor with (approve + fund)' },
  amount: { type: 'string', description: 'amount to fund, in token base units (decimal integer)' },
  unpause: { type: 'string', multiple: true, description: 'contract whose unpause() ends recovery mode (repeatable)' },
  'created-at': { type: 'string', description: 'Safe batch createdAt, milliseconds since 1970 (default now)' },
}

function integer(values: Record<string, unknown>, name: string, digits: number): bigint | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !new RegExp(`^[0-9]{1,${digits}}$`).test(v)) throw new UsageError(`--${name} must be a decimal integer, got ${JSON.stringify(v)}`)
  return BigInt(v)
}

/**
 * The Governor proposal and Safe batch `ark cite` was asked for: files to write (all computed before
 * anything is written) and the fields to add to its --json output.
 */
export function proposalsFromOptions(
  values: Record<string, unknown>,
  ctx: { citation: Citation; certificate: Certificate; registry: Hex | undefined; json: boolean },
): { files: { path: string; value: GovernorProposal | SafeBatch }[]; json: { governor?: GovernorProposal; safe?: SafeBatch } } {
  const governor = addressOption(values, 'governor')
  const safe = addressOption(values, 'safe')
  const used = ['distributor', 'distributor-root', 'deadline', 'token', 'amount', 'unpause', 'governor-out', 'safe-out', 'created-at'].filter((k) => values[k] !== undefined)
  if (governor === undefined && safe === undefined) {
    if (used.length > 0) throw new UsageError(`--${used[0]} belongs to an executable proposal: give --governor ADDRESS or --safe ADDRESS`)
    return { files: [], json: {} }
  }
  if (ctx.registry === undefined) throw new UsageError('an executable proposal anchors the certificate: give --registry ADDRESS (the ArkRegistry it calls)')
  const distributor = addressOption(values, 'distributor')
  const token = addressOption(values, 'token')
  const amount = integer(values, 'amount', 78)
  const deadline = integer(values, 'deadline', 20)
  const root = values['distributor-root'] as string | undefined
  if (root !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(root)) throw new UsageError(`--distributor-root must be a 0x-prefixed 32-byte hex root, got ${JSON.stringify(root)}`)
  if (distributor === undefined && (root !== undefined || deadline !== undefined)) throw new UsageError('--distributor-root and --deadline need --distributor ADDRESS')
  if (distributor !== undefined && deadline === undefined) throw new UsageError('--distributor needs --deadline UNIX_SECONDS (the claim deadline)')
  if ((token === undefined) !== (amount === undefined)) throw new UsageError('--token and --amount go together (approve + fund the distributor)')
  const unpause = ((values.unpause as string[] | undefined) ?? []).map((u) => addressOption({ unpause: u }, 'unpause')!)
  const actions = recoveryActions({
    certificate: ctx.certificate,
    registry: ctx.registry,
    ...(distributor === undefined ? {} : { distributor: { address: distributor, deadline: deadline!, ...(root === undefined ? {} : { root: root as Hex }) } }),
    ...(token === undefined ? {} : { fund: { token, amount: amount! } }),
    unpause,
  })
  const description = proposalDescription(ctx.citation, actions)
  const chainId = ctx.certificate.body.chainId
  const files: { path: string; value: GovernorProposal | SafeBatch }[] = []
  const json: { governor?: GovernorProposal; safe?: SafeBatch } = {}
  const target = (flag: 'governor-out' | 'safe-out', name: string): string | undefined => {
    const p = values[flag] as string | undefined
    if (p === undefined && !ctx.json) throw new UsageError(`--${name} needs --${flag} FILE (or --json)`)
    return p === undefined ? undefined : resolve(p)
  }
  if (governor !== undefined) {
    json.governor = governorProposal({ governor, chainId, actions, description })
    const p = target('governor-out', 'governor')
    if (p !== undefined) files.push({ path: p, value: json.governor })
  } else if (values['governor-out'] !== undefined) throw new UsageError('--governor-out needs --governor ADDRESS')
  if (safe !== undefined) {
    const createdAt = integer(values, 'created-at', 16)
    const c = ctx.citation
    json.safe = safeBatch({ safe, chainId, actions, name: `Ark recovery: ${c.adapter.id} block ${c.blockNumber}`, description: `Anchors the Ark certificate ${c.certificate} (stateRoot ${c.stateRoot}) and carries out the recovery calls; see the citation for the evidence.`, createdAt: createdAt === undefined ? Date.now() : Number(createdAt) })
    const p = target('safe-out', 'safe')
    if (p !== undefined) files.push({ path: p, value: json.safe })
  } else if (values['safe-out'] !== undefined) throw new UsageError('--safe-out needs --safe ADDRESS')
  if (new Set(files.map((f) => f.path)).size !== files.length) throw new UsageError('--governor-out and --safe-out must be different files')
  return { files, json }
}
