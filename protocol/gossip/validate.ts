import { decodeAttestation, verifyAttestation, type SignedAttestation } from '../attestation.ts'
import { decodeCertificate, verifyCertificate, type Certificate } from '../certificate.ts'
import { ProtocolError, type RejectCode } from '../errors.ts'
import { checkEvidence, decodeEvidence, type Evidence } from '../evidence.ts'
import type { Address, OperatorSet } from '../operator-set.ts'

/**
 * Gossip validation results (the Lodestar shape): accept, reject (the sender
 * broke the rules: costs peer score) or ignore (valid but not useful now:
 * no penalty). Codes are bounded so they can label metrics.
 */
export type IgnoreCode = 'TOO_FAR_AHEAD' | 'TOO_OLD' | 'DUPLICATE'
export type Validation<T> = { action: 'accept'; value: T } | { action: 'reject'; code: RejectCode; message: string } | { action: 'ignore'; code: IgnoreCode; message: string }

/** What a validator may look at besides the message: a pure snapshot of local state. */
export interface ValidatorContext {
  chainId: bigint
  adapterId: string
  configHash: string
  /** the newest operator set this node knows (the set for every block unless `operatorsAt` says otherwise) */
  operators: OperatorSet
  /**
   * The set that counts for a message about this block (an on-chain registry's set at that block,
   * looked up by the node, cached); default `operators`. Asked only after the scope checks pass.
   */
  operatorsAt?: (blockNumber: bigint) => OperatorSet | Promise<OperatorSet>
  /** newest final block this node knows */
  finalizedHead: bigint
  /** attestations for blocks further than this past the finalized head are ignored */
  maxAheadBlocks: bigint
  /** oldest block still inside the retention window */
  oldestBlock: bigint
  /** already seen (signer, checkpoint, content) → duplicate */
  seen?: (a: SignedAttestation) => boolean
}

function operatorsFor(ctx: ValidatorContext, blockNumber: bigint): OperatorSet | Promise<OperatorSet> {
  return ctx.operatorsAt === undefined ? ctx.operators : ctx.operatorsAt(blockNumber)
}

function reject<T>(err: unknown): Validation<T> {
  if (err instanceof ProtocolError) return { action: 'reject', code: err.reason, message: err.message }
  return { action: 'reject', code: 'MALFORMED', message: (err as Error)?.message ?? String(err) }
}

type Refusal = Exclude<Validation<never>, { action: 'accept' }>

function checkScope(b: { chainId: bigint; adapterId: string; configHash: string; blockNumber: bigint }, ctx: ValidatorContext): Refusal | undefined {
  if (b.chainId !== ctx.chainId) return { action: 'reject', code: 'WRONG_CHAIN', message: `chain ${b.chainId}, this topic is chain ${ctx.chainId}` }
  if (b.adapterId !== ctx.adapterId || b.configHash.toLowerCase() !== ctx.configHash.toLowerCase()) return { action: 'reject', code: 'WRONG_ADAPTER', message: `adapter ${b.adapterId} config ${b.configHash} is not this network's` }
  if (b.blockNumber > ctx.finalizedHead + ctx.maxAheadBlocks) return { action: 'ignore', code: 'TOO_FAR_AHEAD', message: `block ${b.blockNumber} is far ahead of the finalized head ${ctx.finalizedHead}` }
  if (b.blockNumber < ctx.oldestBlock) return { action: 'ignore', code: 'TOO_OLD', message: `block ${b.blockNumber} is older than the retention window (${ctx.oldestBlock})` }
  return undefined
}

export async function validateAttestation(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<SignedAttestation>> {
  let a: SignedAttestation
  try {
    a = decodeAttestation(bytes)
  } catch (err) {
    return reject(err)
  }
  const scope = checkScope(a.body, ctx)
  if (scope !== undefined) return scope
  const operators = await operatorsFor(ctx, a.body.blockNumber)
  if (!operators.weights.has(a.signer.toLowerCase() as Address)) return { action: 'reject', code: 'UNKNOWN_SIGNER', message: `${a.signer} is not in the operator set at block ${a.body.blockNumber}` }
  // Verify before the duplicate check: a forged copy of a known attestation must cost its sender score.
  try {
    await verifyAttestation(a)
  } catch (err) {
    return reject(err)
  }
  if (ctx.seen?.(a) === true) return { action: 'ignore', code: 'DUPLICATE', message: 'already have this attestation' }
  return { action: 'accept', value: a }
}

export async function validateCertificate(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<Certificate>> {
  let c: Certificate
  try {
    c = decodeCertificate(bytes)
  } catch (err) {
    return reject(err)
  }
  const scope = checkScope(c.body, ctx)
  if (scope !== undefined && scope.action === 'reject') return scope
  if (scope !== undefined && scope.code === 'TOO_FAR_AHEAD') return scope
  try {
    await verifyCertificate(c, await operatorsFor(ctx, c.body.blockNumber))
  } catch (err) {
    return reject(err)
  }
  return { action: 'accept', value: c }
}

export async function validateEvidence(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<Evidence>> {
  let e: Evidence
  try {
    e = decodeEvidence(bytes)
  } catch (err) {
    return reject(err)
  }
  const scope = checkScope(e.a.body, ctx)
  if (scope !== undefined && scope.action === 'reject') return scope
  if (!(await operatorsFor(ctx, e.a.body.blockNumber)).weights.has(e.a.signer.toLowerCase() as Address)) return { action: 'reject', code: 'UNKNOWN_SIGNER', message: `${e.a.signer} is not in the operator set at block ${e.a.body.blockNumber}` }
  try {
    await checkEvidence(e)
  } catch (err) {
    return reject(err)
  }
  return { action: 'accept', value: e }
}
