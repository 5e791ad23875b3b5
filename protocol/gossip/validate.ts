import { decodeAttestation, checkSignature, attestationDigest, CHECKPOINT_KIND, type AttestationBody, type SignedAttestation } from '../attestation.ts'
import { decodeCertificate, checkCertificateSignatures, checkCertificateQuorum, type Certificate } from '../certificate.ts'
import { ProtocolError, type RejectCode } from '../errors.ts'
import { checkEvidence, decodeEvidence, type Evidence } from '../evidence.ts'
import type { Address, OperatorSet } from '../operator-set.ts'

/**
 * Gossip validation results (the Lodestar shape): accept, reject (the sender
 * broke the rules: costs peer score) or ignore (valid but not useful now, or
 * we could not tell: no penalty). Codes are bounded so they can label metrics.
 */
export type IgnoreCode = 'TOO_FAR_AHEAD' | 'TOO_OLD' | 'DUPLICATE' | 'NOT_EMERGENCY' | 'NOT_CERTIFIED' | 'DEPENDENCY_FAILED' | 'RATE_LIMITED'
export type Validation<T> = { action: 'accept'; value: T } | { action: 'reject'; code: RejectCode; message: string } | { action: 'ignore'; code: IgnoreCode; message: string }

/** The checkpoint schedule (PROTOCOL.md §8.1): checkpoints are the multiples of `interval` from `first` on. */
export interface Schedule {
  interval: bigint
  /** the node's first checkpoint (a multiple of `interval`) */
  first: bigint
}

/** What a validator may look at besides the message: a pure snapshot of local state. */
export interface ValidatorContext {
  chainId: bigint
  adapterId: string
  configHash: string
  /** the newest operator set this node knows (the set for every block unless `operatorsAt` says otherwise) */
  operators: OperatorSet
  /**
   * The set that counts for a message about this block (an on-chain registry's set at that block,
   * looked up by the node, cached); default `operators`. Asked only after every cheap check and
   * signature recovery passed (it may do RPC); if it throws, the message is ignored
   * (`DEPENDENCY_FAILED`), never rejected: our dependency failed, not the sender.
   */
  operatorsAt?: (blockNumber: bigint) => OperatorSet | Promise<OperatorSet>
  /** newest final block this node knows */
  finalizedHead: bigint
  /** messages about blocks further than this past the finalized head are ignored */
  maxAheadBlocks: bigint
  /** oldest block still inside the retention window */
  oldestBlock: bigint
  /** a regular (kind 0) attestation, certificate or evidence is valid only at a checkpoint of this schedule */
  schedule: Schedule
  /**
   * True when a validated alert of the node's pool names this block as an emergency checkpoint
   * (`sinceBlock - 1`). An emergency (kind 1) attestation or evidence for a block it does not name is
   * ignored (`NOT_EMERGENCY`). Undefined: kind 1 is bounded by the window only.
   */
  emergencyBlock?: (blockNumber: bigint) => boolean
  /**
   * True when this node holds a certified snapshot (kind 0 or 1) at this block, the "after" side a
   * restitution table (kind 2) is about. A restitution attestation or evidence for another block is
   * ignored (`NOT_CERTIFIED`, no penalty: the node may not have caught up). Undefined: kind 2 is
   * bounded by the window and the aggregator's per-signer caps only.
   */
  certifiedBlock?: (blockNumber: bigint) => boolean
  /** already seen (signer, checkpoint, content) → duplicate */
  seen?: (a: SignedAttestation) => boolean
  /** the node already holds evidence against this signer at this checkpoint (at most one item per (signer, checkpoint)) → duplicate */
  seenEvidence?: (e: Evidence) => boolean
}

type Refusal = Exclude<Validation<never>, { action: 'accept' }>

function refusal(err: unknown): Refusal {
  if (err instanceof ProtocolError) return { action: 'reject', code: err.reason, message: err.message }
  return { action: 'reject', code: 'MALFORMED', message: (err as Error)?.message ?? String(err) }
}

/** Run a check that throws ProtocolError; its refusal, or undefined when it passed. */
async function attempt(check: () => unknown): Promise<Refusal | undefined> {
  try {
    await check()
    return undefined
  } catch (err) {
    return refusal(err)
  }
}

/** Chain, adapter and configuration: ours or reject. */
function checkScope(b: AttestationBody, ctx: ValidatorContext): Refusal | undefined {
  if (b.chainId !== ctx.chainId) return { action: 'reject', code: 'WRONG_CHAIN', message: `chain ${b.chainId}, this topic is chain ${ctx.chainId}` }
  if (b.adapterId !== ctx.adapterId || b.configHash.toLowerCase() !== ctx.configHash.toLowerCase()) return { action: 'reject', code: 'WRONG_ADAPTER', message: `adapter ${b.adapterId} config ${b.configHash} is not this network's` }
  return undefined
}

/** The validity window [oldestBlock, finalizedHead + maxAheadBlocks]: outside it, ignore. */
function checkWindow(b: AttestationBody, ctx: ValidatorContext): Refusal | undefined {
  if (b.blockNumber > ctx.finalizedHead + ctx.maxAheadBlocks) return { action: 'ignore', code: 'TOO_FAR_AHEAD', message: `block ${b.blockNumber} is far ahead of the finalized head ${ctx.finalizedHead}` }
  if (b.blockNumber < ctx.oldestBlock) return { action: 'ignore', code: 'TOO_OLD', message: `block ${b.blockNumber} is older than the retention window (${ctx.oldestBlock})` }
  return undefined
}

/**
 * Kind 0 only at a checkpoint of the schedule (reject); kind 1 only at a block an alert names, kind 2
 * only at a block with a certified snapshot (ignore), when the node knows.
 */
function checkSchedule(b: AttestationBody, ctx: ValidatorContext, emergency: boolean): Refusal | undefined {
  if (b.kind === CHECKPOINT_KIND.scheduled) {
    const { interval, first } = ctx.schedule
    if (b.blockNumber < first || b.blockNumber % interval !== 0n) return { action: 'reject', code: 'OFF_SCHEDULE', message: `block ${b.blockNumber} is not a checkpoint (multiples of ${interval} from ${first})` }
  } else if (b.kind === CHECKPOINT_KIND.restitution) {
    if (emergency && ctx.certifiedBlock !== undefined && !ctx.certifiedBlock(b.blockNumber)) return { action: 'ignore', code: 'NOT_CERTIFIED', message: `no certified snapshot at block ${b.blockNumber} for a restitution table to be about` }
  } else if (emergency && ctx.emergencyBlock !== undefined && !ctx.emergencyBlock(b.blockNumber)) {
    return { action: 'ignore', code: 'NOT_EMERGENCY', message: `no validated alert names block ${b.blockNumber} as an emergency checkpoint` }
  }
  return undefined
}

/** The cheap checks, in the one order (PROTOCOL.md §7): scope, window, schedule. */
function checkBody(b: AttestationBody, ctx: ValidatorContext, emergency: boolean): Refusal | undefined {
  return checkScope(b, ctx) ?? checkWindow(b, ctx) ?? checkSchedule(b, ctx, emergency)
}

/** The set at a block, last: it may do RPC, and its failure is ours (ignore), never the sender's. */
async function operatorsFor(ctx: ValidatorContext, blockNumber: bigint): Promise<OperatorSet | Refusal> {
  if (ctx.operatorsAt === undefined) return ctx.operators
  try {
    return await ctx.operatorsAt(blockNumber)
  } catch (err) {
    return { action: 'ignore', code: 'DEPENDENCY_FAILED', message: `could not read the operator set at block ${blockNumber}: ${(err as Error)?.message ?? String(err)}` }
  }
}

function isRefusal(x: OperatorSet | Refusal): x is Refusal {
  return 'action' in x
}

function checkMember(set: OperatorSet, signer: Address, blockNumber: bigint): Refusal | undefined {
  if (set.weights.has(signer.toLowerCase() as Address)) return undefined
  return { action: 'reject', code: 'UNKNOWN_SIGNER', message: `${signer} is not in the operator set at block ${blockNumber}` }
}

/**
 * decode → scope → window → schedule → signature (recovered, must be the claimed signer) →
 * operator set at the block → signer in it → duplicate → accept.
 */
export async function validateAttestation(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<SignedAttestation>> {
  let a: SignedAttestation
  try {
    a = decodeAttestation(bytes)
  } catch (err) {
    return refusal(err)
  }
  const cheap = checkBody(a.body, ctx, true) ?? (await attempt(() => checkSignature(attestationDigest(a.body), a.signature, a.signer)))
  if (cheap !== undefined) return cheap
  const set = await operatorsFor(ctx, a.body.blockNumber)
  if (isRefusal(set)) return set
  const member = checkMember(set, a.signer, a.body.blockNumber)
  if (member !== undefined) return member
  // after the signature: a forged copy of a known attestation must cost its sender score
  if (ctx.seen?.(a) === true) return { action: 'ignore', code: 'DUPLICATE', message: 'already have this attestation' }
  return { action: 'accept', value: a }
}

/**
 * decode → scope → window (TOO_OLD too: old certificates are catch-up's, not gossip's) → schedule →
 * every signature recovered (sorted, distinct) → operator set at the block → signers known, weight ≥
 * threshold → accept.
 */
export async function validateCertificate(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<Certificate>> {
  let c: Certificate
  try {
    c = decodeCertificate(bytes)
  } catch (err) {
    return refusal(err)
  }
  const cheap = checkBody(c.body, ctx, false) ?? (await attempt(() => checkCertificateSignatures(c)))
  if (cheap !== undefined) return cheap
  const set = await operatorsFor(ctx, c.body.blockNumber)
  if (isRefusal(set)) return set
  return (await attempt(() => checkCertificateQuorum(c, set))) ?? { action: 'accept', value: c }
}

/**
 * decode → scope → window → schedule (both halves share one checkpoint key) → checkEvidence (same
 * signer and checkpoint, different content, both signatures) → already hold evidence for (signer,
 * checkpoint) → operator set at the block → signer in it → accept.
 */
export async function validateEvidence(bytes: Uint8Array, ctx: ValidatorContext): Promise<Validation<Evidence>> {
  let e: Evidence
  try {
    e = decodeEvidence(bytes)
  } catch (err) {
    return refusal(err)
  }
  const cheap = checkBody(e.a.body, ctx, true) ?? (await attempt(() => checkEvidence(e)))
  if (cheap !== undefined) return cheap
  if (ctx.seenEvidence?.(e) === true) return { action: 'ignore', code: 'DUPLICATE', message: 'already hold evidence against this signer at this checkpoint' }
  const set = await operatorsFor(ctx, e.a.body.blockNumber)
  if (isRefusal(set)) return set
  return checkMember(set, e.a.signer, e.a.body.blockNumber) ?? { action: 'accept', value: e }
}
