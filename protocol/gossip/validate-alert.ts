import { decodeAlert, verifyAlert, type SignedAlert } from '../alert.ts'
import { ProtocolError } from '../errors.ts'
import type { Address } from '../operator-set.ts'
import type { Validation, ValidatorContext } from './validate.ts'

/** What the chain says about an alert's claim at its `sinceBlock`: `unknown` when it cannot be checked (yet). */
export type ClaimCheck = 'true' | 'false' | 'unknown'

export interface AlertValidatorContext extends ValidatorContext {
  /** keccak256 of this network's watchdog thresholds (PROTOCOL.md §12.1) */
  paramsHash: string
  /** already counted (same signer, same condition key) → duplicate */
  seenAlert?: (a: SignedAlert) => boolean
  /** re-evaluates the claimed condition at its sinceBlock on this node's chain view */
  checkClaim?: (a: SignedAlert) => Promise<ClaimCheck>
  /**
   * The signer's alert budget (validation, chain reads, forwarding). `left`
   * only looks (before the signature check, so a spent signer's flood costs
   * no signature recovery); `take` spends one unit, asked only once the
   * signature holds, so no one can spend another signer's budget.
   */
  budget?: { left: (signer: Address) => boolean; take: (signer: Address) => boolean }
}

/**
 * Ignore codes of the alert topic: the shared ones plus RATE_LIMITED (the
 * signer's alert budget is spent: our resource, not a rule the sender
 * broke; an ignored message is not forwarded either). Bounded; the gossip adapter labels metrics with it.
 */
export type AlertValidation = Validation<SignedAlert>

/**
 * Alert topic validator (PROTOCOL.md §12.5, §12.7), first failure wins,
 * cheap checks before expensive ones: decode (size, fields, version, kind,
 * canonical) → scope (chain, adapter+config, params) → sinceBlock past
 * finalizedHead + maxAheadBlocks → ignore TOO_FAR_AHEAD → sinceBlock below
 * the validity window (oldestBlock) → ignore TOO_OLD → signer in the set →
 * signer's alert budget empty → ignore RATE_LIMITED → signature → duplicate
 * → ignore → spend one unit of the signer's budget (none left → ignore
 * RATE_LIMITED) → claim provably false at its sinceBlock →
 * reject FALSE_ALERT → accept. Window edges and budgets depend on this
 * node's view and resources, so they ignore (no score); only a broken rule
 * rejects. A claim that cannot be checked is accepted: it is signed, and
 * only a quorum of weight can trigger anything.
 */
export async function validateAlert(bytes: Uint8Array, ctx: AlertValidatorContext): Promise<AlertValidation> {
  let a: SignedAlert
  try {
    a = decodeAlert(bytes)
  } catch (err) {
    if (err instanceof ProtocolError) return { action: 'reject', code: err.reason, message: err.message }
    return { action: 'reject', code: 'MALFORMED', message: (err as Error)?.message ?? String(err) }
  }
  const b = a.body
  if (b.chainId !== ctx.chainId) return { action: 'reject', code: 'WRONG_CHAIN', message: `chain ${b.chainId}, this topic is chain ${ctx.chainId}` }
  if (b.adapterId !== ctx.adapterId || b.configHash.toLowerCase() !== ctx.configHash.toLowerCase()) return { action: 'reject', code: 'WRONG_ADAPTER', message: `adapter ${b.adapterId} config ${b.configHash} is not this network's` }
  if (b.paramsHash.toLowerCase() !== ctx.paramsHash.toLowerCase()) return { action: 'reject', code: 'WRONG_PARAMS', message: `watchdog params ${b.paramsHash} are not this network's (${ctx.paramsHash})` }
  if (b.sinceBlock > ctx.finalizedHead + ctx.maxAheadBlocks) return { action: 'ignore', code: 'TOO_FAR_AHEAD', message: `sinceBlock ${b.sinceBlock} is far ahead of the finalized head ${ctx.finalizedHead}` }
  if (b.sinceBlock < ctx.oldestBlock) return { action: 'ignore', code: 'TOO_OLD', message: `sinceBlock ${b.sinceBlock} is older than the validity window (${ctx.oldestBlock})` }
  if (!ctx.operators.weights.has(a.signer.toLowerCase() as Address)) return { action: 'reject', code: 'UNKNOWN_SIGNER', message: `${a.signer} is not in the operator set` }
  if (ctx.budget?.left(a.signer) === false) return overBudget(a)
  try {
    await verifyAlert(a)
  } catch (err) {
    if (err instanceof ProtocolError) return { action: 'reject', code: err.reason, message: err.message }
    return { action: 'reject', code: 'BAD_SIGNATURE', message: String(err) }
  }
  if (ctx.seenAlert?.(a) === true) return { action: 'ignore', code: 'DUPLICATE', message: 'already have this alert' }
  if (ctx.budget?.take(a.signer) === false) return overBudget(a)
  const claim = ctx.checkClaim === undefined ? 'unknown' : await ctx.checkClaim(a)
  if (claim === 'false') return { action: 'reject', code: 'FALSE_ALERT', message: `the chain contradicts ${b.kind} for ${b.subject} since block ${b.sinceBlock}` }
  return { action: 'accept', value: a }
}

function overBudget(a: SignedAlert): AlertValidation {
  return { action: 'ignore', code: 'RATE_LIMITED', message: `${a.signer} spent its alert budget; alert ignored` }
}
