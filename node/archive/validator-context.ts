import type { SignedAttestation } from '../../protocol/attestation.ts'
import type { Evidence } from '../../protocol/evidence.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import type { OperatorSets } from './operator-sets.ts'

export interface ValidatorContextParts {
  chainId: bigint
  adapterId: string
  configHash: `0x${string}`
  interval: bigint
  /** the first checkpoint of the schedule (Scheduler's firstCheckpoint) */
  first: bigint
  sets: OperatorSets
  finalizedHead: () => bigint
  /** the retention floor at the current head */
  floor: () => bigint
  seen: (a: SignedAttestation) => boolean
  /** evidence against this signer at this checkpoint is held already (the evidence store) */
  seenEvidence: (e: Evidence) => boolean
  /** a validated alert names this block as an emergency checkpoint (the watchdog, when configured) */
  emergencyBlock?: (blockNumber: bigint) => boolean
  /** a certified snapshot (kind 0 or 1) is held at this block: restitution (kind 2) messages are about such blocks */
  certifiedBlock?: (blockNumber: bigint) => boolean
  signal: AbortSignal
}

/** How far past the finalized head a message may be about (attestations, evidence): four intervals and 64 blocks. */
export const maxAheadBlocks = (interval: bigint): bigint => interval * 4n + 64n

/**
 * What the gossip validators check messages against, read at each message.
 * The one place the node fills ValidatorContext (the watchdog reuses it).
 */
export function validatorContext(p: ValidatorContextParts): ValidatorContext {
  const finalized = p.finalizedHead()
  return {
    chainId: p.chainId,
    adapterId: p.adapterId,
    configHash: p.configHash,
    operators: p.sets.latest,
    operatorsAt: (b) => p.sets.forBlock(b, p.finalizedHead(), p.signal),
    finalizedHead: finalized,
    maxAheadBlocks: maxAheadBlocks(p.interval),
    oldestBlock: p.floor(),
    schedule: { interval: p.interval, first: p.first },
    ...(p.emergencyBlock === undefined ? {} : { emergencyBlock: p.emergencyBlock }),
    ...(p.certifiedBlock === undefined ? {} : { certifiedBlock: p.certifiedBlock }),
    seen: p.seen,
    seenEvidence: p.seenEvidence,
  }
}
