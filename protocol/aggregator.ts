import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../snapshot/errors.ts'
import { checkpointKey, contentKey, type SignedAttestation } from './attestation.ts'
import { certificateFrom, encodeCertificate, type Certificate } from './certificate.ts'
import type { Evidence } from './evidence.ts'
import { signedWeight, type Address, type OperatorSet } from './operator-set.ts'

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
  | { type: 'ignored'; checkpoint: string; signer: Address; reason: AggregatorIgnoreReason }

/**
 * Why an attestation was not counted (bounded: a metrics label). `SIGNER_CAP`: the signer already
 * holds `maxOpenPerSigner` open checkpoints (PROTOCOL.md §8.5) — the node may score the sender.
 */
export type AggregatorIgnoreReason = 'UNKNOWN_SIGNER' | 'TOO_OLD' | 'EQUIVOCATOR' | 'SIGNER_CAP'

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
  /** keep checkpoints whose block is at most this far below the newest certified or own checkpoint (default 7200) */
  windowBlocks?: bigint
  /** cap on certified checkpoints held; the oldest certified go first (default 256) */
  maxCheckpoints?: number
  /** open (not yet certified) checkpoints one signer may be counted in at once (default 16) */
  maxOpenPerSigner?: number
}

export interface AddOptions {
  /** the node's own attestation: its checkpoint is never evicted by caps or the window (only by pruneBelow) while among the node's 4 newest own */
  own?: boolean
}

interface CheckpointState {
  key: string
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
  /** holds the node's own attestation */
  own: boolean
}

/** Own checkpoints protected from eviction at once (the newest ones: current, and emergency ones beside it). */
const MAX_OWN = 4

/** Checkpoint keys evicted by the cap are remembered (this many) so a late attestation cannot rebuild them. */
const EVICTED_MEMORY = 1024

/**
 * Attestation pool for quorum aggregation (PROTOCOL.md §8.5). Pure apart from
 * its own memory: inputs are attestations already validated (signature,
 * signer, scope, schedule) by the gossip validators; it counts weight per
 * (checkpoint, content), turns conflicting signatures from one operator into
 * evidence without counting the second, and builds certificates with
 * certificateFrom.
 *
 * Memory is bounded per signer, so one key cannot push out another's work:
 * one attestation per operator per checkpoint; each signer counted in at most
 * `maxOpenPerSigner` open (uncertified) checkpoints — past that it is ignored
 * (`SIGNER_CAP`), except that a vote of its own in a checkpoint older than
 * the newest certified one is given up first; at most `maxCheckpoints`
 * certified checkpoints (the oldest certified go first); nothing below the
 * window under the newest *certified or own* checkpoint (a block that only
 * one signer claims never moves the window). The node's own checkpoints are
 * never evicted. So open checkpoints ≤ |set| · maxOpenPerSigner + own, and
 * certified ≤ maxCheckpoints + own.
 */
export class Aggregator {
  readonly operators: OperatorSet
  private readonly operatorsAt: ((blockNumber: bigint) => OperatorSet) | undefined
  private readonly windowBlocks: bigint
  private readonly maxCheckpoints: number
  private readonly maxOpenPerSigner: number
  private readonly checkpoints = new Map<string, CheckpointState>()
  /** signer -> the open checkpoints it is counted in */
  private readonly openBySigner = new Map<Address, Set<CheckpointState>>()
  private readonly evicted = new Set<string>()
  private readonly ownQueue: CheckpointState[] = []
  private certifiedCount = 0
  /** newest block that is certified or the node's own */
  private newest = -1n
  private floor = 0n

  constructor(init: AggregatorInit) {
    this.operators = init.operators
    this.operatorsAt = init.operatorsAt
    this.windowBlocks = init.windowBlocks ?? 7200n
    this.maxCheckpoints = init.maxCheckpoints ?? 256
    this.maxOpenPerSigner = init.maxOpenPerSigner ?? 16
    if (this.windowBlocks < 0n) throw new InvalidInputError('aggregator windowBlocks must be >= 0')
    if (!Number.isSafeInteger(this.maxCheckpoints) || this.maxCheckpoints < 1) throw new InvalidInputError('aggregator maxCheckpoints must be a positive integer')
    if (!Number.isSafeInteger(this.maxOpenPerSigner) || this.maxOpenPerSigner < 1) throw new InvalidInputError('aggregator maxOpenPerSigner must be a positive integer')
  }

  add(att: SignedAttestation, opts: AddOptions = {}): AggregatorEvent[] {
    const checkpoint = checkpointKey(att.body)
    const content = contentKey(att.body)
    const signer = att.signer.toLowerCase() as Address
    const bn = att.body.blockNumber
    const own = opts.own === true
    let cp = this.checkpoints.get(checkpoint)
    const operators = cp?.operators ?? this.operatorsAt?.(bn) ?? this.operators
    if (!operators.weights.has(signer)) return [{ type: 'ignored', checkpoint, signer, reason: 'UNKNOWN_SIGNER' }]
    if (!own && cp === undefined && (bn < this.floor || this.evicted.has(checkpoint) || (this.newest >= 0n && bn + this.windowBlocks < this.newest))) return [{ type: 'ignored', checkpoint, signer, reason: 'TOO_OLD' }]

    const had = cp?.bySigner.get(signer)
    if (cp !== undefined && had !== undefined) {
      if (own) this.markOwn(cp)
      if (contentKey(had.body) === content) return [{ type: 'duplicate', checkpoint, signer }]
      if (cp.evidence.has(signer)) return [{ type: 'ignored', checkpoint, signer, reason: 'EQUIVOCATOR' }]
      const evidence: Evidence = { a: had, b: { ...att, signer } }
      cp.evidence.set(signer, evidence)
      return [{ type: 'evidence', checkpoint, signer, evidence }]
    }
    // a vote in an open checkpoint takes one of the signer's slots; the node's own never waits for one
    if ((cp === undefined || cp.certified === undefined) && !own && !this.freeSlot(signer)) return [{ type: 'ignored', checkpoint, signer, reason: 'SIGNER_CAP' }]
    if (cp === undefined) {
      cp = { key: checkpoint, blockNumber: bn, operators, bySigner: new Map(), contents: new Map(), evidence: new Map(), certified: undefined, own: false }
      this.checkpoints.set(checkpoint, cp)
    }
    if (own) this.markOwn(cp)

    cp.bySigner.set(signer, { ...att, signer })
    let signers = cp.contents.get(content)
    if (signers === undefined) cp.contents.set(content, (signers = new Set()))
    signers.add(signer)
    if (cp.certified === undefined) this.openOf(signer).add(cp)
    const total = signedWeight(cp.operators, signers)
    const events: AggregatorEvent[] = [{ type: 'counted', checkpoint, content, signer, weight: total }]
    if (total >= cp.operators.threshold) {
      const certificate = this.build(cp, content)
      const cid = encodeCertificate(certificate).cid
      if (cp.certified === undefined) {
        this.certify(cp, content)
        events.push({ type: 'certificate', checkpoint, content, certificate, cid, weight: total })
      } else if (cp.certified === content) {
        events.push({ type: 'extended', checkpoint, content, certificate, cid, weight: total })
      }
    }
    this.prune()
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
      .map(([content, signers]) => ({ content, weight: signedWeight(cp.operators, signers), signers: [...signers].sort() }))
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

  /** Open checkpoints this signer is counted in (at most maxOpenPerSigner, own attestations aside). */
  openCount(signer: Address): number {
    return this.openBySigner.get(signer.toLowerCase() as Address)?.size ?? 0
  }

  /** Drop every checkpoint below this block (own ones too: retention moved past them) and ignore attestations for them from now on. */
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

  private openOf(signer: Address): Set<CheckpointState> {
    let open = this.openBySigner.get(signer)
    if (open === undefined) this.openBySigner.set(signer, (open = new Set()))
    return open
  }

  private markOwn(cp: CheckpointState): void {
    if (cp.own) return
    cp.own = true
    if (cp.blockNumber > this.newest) this.newest = cp.blockNumber
    // the newest few own checkpoints are protected; older ones become ordinary again, so own ones stay bounded too
    this.ownQueue.push(cp)
    if (this.ownQueue.length > MAX_OWN) this.ownQueue.shift()!.own = false
  }

  private certify(cp: CheckpointState, content: string): void {
    cp.certified = content
    this.certifiedCount++
    for (const s of cp.bySigner.keys()) this.openBySigner.get(s)?.delete(cp)
    if (cp.blockNumber > this.newest) this.newest = cp.blockNumber
  }

  /**
   * Room for one more open vote by `signer`. At its cap, it gives up its own vote in its oldest open
   * checkpoint only when that is below the newest certified or own checkpoint (the network moved on:
   * an honest operator whose checkpoint missed quorum is not locked out); never anyone else's.
   */
  private freeSlot(signer: Address): boolean {
    const open = this.openBySigner.get(signer)
    if (open === undefined || open.size < this.maxOpenPerSigner) return true
    let oldest: CheckpointState | undefined
    for (const cp of open) if (!cp.own && (oldest === undefined || cp.blockNumber < oldest.blockNumber)) oldest = cp
    if (oldest === undefined || oldest.blockNumber >= this.newest) return false
    this.withdraw(oldest, signer)
    return true
  }

  /** Remove one signer's vote from an open checkpoint (dropping the checkpoint when no vote is left). */
  private withdraw(cp: CheckpointState, signer: Address): void {
    const had = cp.bySigner.get(signer)
    if (had === undefined) return
    cp.bySigner.delete(signer)
    const content = contentKey(had.body)
    const signers = cp.contents.get(content)
    signers?.delete(signer)
    if (signers?.size === 0) cp.contents.delete(content)
    this.openBySigner.get(signer)?.delete(cp)
    if (cp.bySigner.size === 0 && !cp.own) this.drop(cp)
  }

  private drop(cp: CheckpointState): void {
    this.checkpoints.delete(cp.key)
    if (cp.certified !== undefined) this.certifiedCount--
    else for (const s of cp.bySigner.keys()) this.openBySigner.get(s)?.delete(cp)
    for (const [s, open] of this.openBySigner) if (open.size === 0) this.openBySigner.delete(s)
  }

  private prune(): void {
    const low = this.newest - this.windowBlocks
    for (const cp of [...this.checkpoints.values()]) if (cp.blockNumber < this.floor || (!cp.own && cp.blockNumber < low)) this.drop(cp)
    if (this.certifiedCount <= this.maxCheckpoints) return
    // over the cap: the oldest certified go (never an open or own one); remembered, so a late attestation does not rebuild (and certify again) what was evicted
    const certified = [...this.checkpoints.values()].filter((cp) => cp.certified !== undefined && !cp.own).sort((a, b) => (a.blockNumber < b.blockNumber ? -1 : a.blockNumber > b.blockNumber ? 1 : 0))
    for (const cp of certified) {
      if (this.certifiedCount <= this.maxCheckpoints) break
      this.drop(cp)
      this.evicted.add(cp.key)
      if (this.evicted.size > EVICTED_MEMORY) this.evicted.delete(this.evicted.values().next().value!)
    }
  }
}
