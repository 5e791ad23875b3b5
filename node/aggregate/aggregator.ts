import type { CID } from 'multiformats/cid'
import { checkpointKey, contentKey, type SignedAttestation } from '../../protocol/attestation.ts'
import { certificateFrom, encodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import type { Evidence } from '../../protocol/evidence.ts'
import type { Address, OperatorSet } from '../../protocol/operator-set.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'

/**
 * What adding one attestation did. `certificate` fires once per checkpoint:
 * the first time the signed weight of one content reaches the threshold.
 * Later signatures for that content extend it (`extended`): every node ends
 * with the union of the signatures it has seen, so nodes that saw the same
 * attestations hold the same certificate bytes and CID whatever the order.
 */
export type AggregatorEvent =
  | { type: 'counted'; checkpoint: string; content: string; signer: Address; weight: bigint }
  | { type: 'certificate'; checkpoint: string; content: string; certificate: Certificate; cid: CID; weight: bigint }
  | { type: 'extended'; checkpoint: string; content: string; certificate: Certificate; cid: CID; weight: bigint }
  | { type: 'evidence'; checkpoint: string; signer: Address; evidence: Evidence }
  | { type: 'duplicate'; checkpoint: string; signer: Address }
  | { type: 'ignored'; checkpoint: string; signer: Address; reason: 'UNKNOWN_SIGNER' | 'TOO_OLD' | 'EQUIVOCATOR' }

export interface ContentTally {
  content: string
  weight: bigint
  signers: Address[]
}

export interface AggregatorInit {
  operators: OperatorSet
  /**
   * The set that counts for a checkpoint at this block (an on-chain registry's set at that block);
   * default `operators` for every block. Read once, when a checkpoint's first attestation arrives.
   */
  operatorsAt?: (blockNumber: bigint) => OperatorSet
  /** keep checkpoints whose block is at most this far below the newest block seen (default 7200) */
  windowBlocks?: bigint
  /** hard cap on checkpoints held; the oldest go first (default 256) */
  maxCheckpoints?: number
}

interface CheckpointState {
  blockNumber: bigint
  /** the operator set this checkpoint is counted against */
  operators: OperatorSet
  /** signer -> the attestation that counts for that signer (their first) */
  bySigner: Map<Address, SignedAttestation>
  /** content -> signers counted for it */
  contents: Map<string, Set<Address>>
  /** signer -> first equivocation proof */
  evidence: Map<Address, Evidence>
  /** content that reached the threshold first (at most one: the threshold is more than half) */
  certified: string | undefined
}

function weightOf(operators: OperatorSet, signers: Iterable<Address>): bigint {
  let w = 0n
  for (const s of signers) w += operators.weights.get(s) ?? 0n
  return w
}

/**
 * Attestation pool for quorum aggregation. Pure apart from its own memory:
 * inputs are attestations already validated (signature, signer, scope) by
 * the gossip validators; it counts weight per (checkpoint, content), turns
 * conflicting signatures from one operator into evidence without counting
 * the second, and builds certificates with certificateFrom. Memory is
 * bounded: one attestation per operator per checkpoint, at most
 * `maxCheckpoints` checkpoints, none older than `windowBlocks` below the
 * newest.
 */
export class Aggregator {
  readonly operators: OperatorSet
  private readonly operatorsAt: ((blockNumber: bigint) => OperatorSet) | undefined
  private readonly windowBlocks: bigint
  private readonly maxCheckpoints: number
  private readonly checkpoints = new Map<string, CheckpointState>()
  private newest = -1n
  private floor = 0n

  constructor(init: AggregatorInit) {
    this.operators = init.operators
    this.operatorsAt = init.operatorsAt
    this.windowBlocks = init.windowBlocks ?? 7200n
    this.maxCheckpoints = init.maxCheckpoints ?? 256
    if (this.windowBlocks < 0n) throw new InvalidInputError('aggregator windowBlocks must be >= 0')
    if (!Number.isSafeInteger(this.maxCheckpoints) || this.maxCheckpoints < 1) throw new InvalidInputError('aggregator maxCheckpoints must be a positive integer')
  }

  add(att: SignedAttestation): AggregatorEvent[] {
    const checkpoint = checkpointKey(att.body)
    const content = contentKey(att.body)
    const signer = att.signer.toLowerCase() as Address
    const bn = att.body.blockNumber
    const operators = this.checkpoints.get(checkpoint)?.operators ?? this.operatorsAt?.(bn) ?? this.operators
    if (!operators.weights.has(signer)) return [{ type: 'ignored', checkpoint, signer, reason: 'UNKNOWN_SIGNER' }]
    if (bn < this.floor || (this.newest >= 0n && bn + this.windowBlocks < this.newest)) return [{ type: 'ignored', checkpoint, signer, reason: 'TOO_OLD' }]

    let cp = this.checkpoints.get(checkpoint)
    if (cp === undefined) {
      cp = { blockNumber: bn, operators, bySigner: new Map(), contents: new Map(), evidence: new Map(), certified: undefined }
      this.checkpoints.set(checkpoint, cp)
      if (bn > this.newest) this.newest = bn
      this.prune()
      if (!this.checkpoints.has(checkpoint)) return [{ type: 'ignored', checkpoint, signer, reason: 'TOO_OLD' }]
    }

    const had = cp.bySigner.get(signer)
    if (had !== undefined) {
      if (contentKey(had.body) === content) return [{ type: 'duplicate', checkpoint, signer }]
      if (cp.evidence.has(signer)) return [{ type: 'ignored', checkpoint, signer, reason: 'EQUIVOCATOR' }]
      const evidence: Evidence = { a: had, b: { ...att, signer } }
      cp.evidence.set(signer, evidence)
      return [{ type: 'evidence', checkpoint, signer, evidence }]
    }

    cp.bySigner.set(signer, { ...att, signer })
    let signers = cp.contents.get(content)
    if (signers === undefined) cp.contents.set(content, (signers = new Set()))
    signers.add(signer)
    const total = weightOf(cp.operators, signers)
    const events: AggregatorEvent[] = [{ type: 'counted', checkpoint, content, signer, weight: total }]
    if (total >= cp.operators.threshold) {
      const certificate = this.build(cp, content)
      const cid = encodeCertificate(certificate).cid
      if (cp.certified === undefined) {
        cp.certified = content
        events.push({ type: 'certificate', checkpoint, content, certificate, cid, weight: total })
      } else if (cp.certified === content) {
        events.push({ type: 'extended', checkpoint, content, certificate, cid, weight: total })
      }
    }
    return events
  }

  /**
   * Merge a (verified) certificate: each of its signatures is an attestation
   * of its body, so a node that missed some attestations catches up from it.
   */
  addCertificate(c: Certificate): AggregatorEvent[] {
    return c.signatures.flatMap((s) => this.add({ body: c.body, signer: s.signer, signature: s.signature }))
  }

  /** Weight per content at one checkpoint (checkpointKey), heaviest first. */
  tally(checkpoint: string): ContentTally[] {
    const cp = this.checkpoints.get(checkpoint)
    if (cp === undefined) return []
    return [...cp.contents]
      .map(([content, signers]) => ({ content, weight: weightOf(cp.operators, signers), signers: [...signers].sort() }))
      .sort((a, b) => (a.weight > b.weight ? -1 : a.weight < b.weight ? 1 : a.content < b.content ? -1 : 1))
  }

  /** The current certificate of a checkpoint (every signature seen for the certified content), if it reached quorum. */
  certificate(checkpoint: string): { certificate: Certificate; cid: CID } | undefined {
    const cp = this.checkpoints.get(checkpoint)
    if (cp?.certified === undefined) return undefined
    const certificate = this.build(cp, cp.certified)
    return { certificate, cid: encodeCertificate(certificate).cid }
  }

  /** Equivocation proofs held for a checkpoint. */
  evidence(checkpoint: string): Evidence[] {
    return [...(this.checkpoints.get(checkpoint)?.evidence.values() ?? [])]
  }

  /** Has this (signer, checkpoint, content) been counted already? (a gossip validator's `seen`) */
  seen(att: SignedAttestation): boolean {
    const had = this.checkpoints.get(checkpointKey(att.body))?.bySigner.get(att.signer.toLowerCase() as Address)
    return had !== undefined && contentKey(had.body) === contentKey(att.body)
  }

  /** Drop every checkpoint below this block and ignore attestations for them from now on. */
  pruneBelow(blockNumber: bigint): void {
    if (blockNumber > this.floor) this.floor = blockNumber
    this.prune()
  }

  get size(): number {
    return this.checkpoints.size
  }

  private build(cp: CheckpointState, content: string): Certificate {
    const atts = [...cp.contents.get(content)!].map((s) => cp.bySigner.get(s)!)
    return certificateFrom(atts)
  }

  private prune(): void {
    const low = this.newest - this.windowBlocks
    for (const [key, cp] of this.checkpoints) if (cp.blockNumber < this.floor || cp.blockNumber < low) this.checkpoints.delete(key)
    if (this.checkpoints.size <= this.maxCheckpoints) return
    // over the cap: raise the floor past the oldest blocks, so an evicted checkpoint is not rebuilt (and certified again) by a late attestation
    const blocks = [...new Set([...this.checkpoints.values()].map((cp) => cp.blockNumber))].sort((a, b) => (a < b ? -1 : 1))
    let n = this.checkpoints.size
    for (const b of blocks) {
      if (n <= this.maxCheckpoints) break
      this.floor = b + 1n
      for (const [key, cp] of this.checkpoints) {
        if (cp.blockNumber === b) {
          this.checkpoints.delete(key)
          n--
        }
      }
    }
  }
}
