import type { Logger } from 'pino'
import type { TypedDataDefinition } from 'viem'
import type { OperatorSigner } from '../keys/remote-signer.ts'
import { attestationDigest, attestationTypedData, checkpointKey, contentKey, encodeAttestation, normalizeV, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import type { BlockHeader } from '../../snapshot/chain/source.ts'
import type { Checkpoint } from '../../snapshot/derive/derive.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { SPEC_VERSION } from '../../snapshot/state/root.ts'
import type { Aggregator, AggregatorEvent } from '../../protocol/aggregator.ts'
import { SignLogWriteError, type SignLog } from '../signlog/signlog.ts'
import { BlockMap, RECORD_LIMITS, ReportLog } from './bounded.ts'

export class DoppelgangerError extends ArkError {
  override readonly name = 'DoppelgangerError'
  constructor(signer: string, block: bigint) {
    super('INVALID_INPUT', `another node is signing with this operator key (${signer}, checkpoint ${block}); stop the other instance before starting this one, or two nodes will equivocate`)
  }
}

export interface OwnSignature {
  snapshot: string
  signedAt: number
}

export interface NoQuorumReport {
  block: string
  tally: unknown
}

export interface AttesterInit {
  chainId: bigint
  adapterId: string
  configHash: `0x${string}`
  account: OperatorSigner
  signLog: SignLog
  aggregator: Aggregator
  quorumTimeoutMs: number
  log: Logger
  /** publish on the attestation topic (failure is logged: peers get the signature from the certificate) */
  publish: (bytes: Uint8Array) => Promise<unknown>
  /** aggregator events go to certificate handling */
  onEvents: (events: AggregatorEvent[]) => void
  /** is a certificate held for this block (quorum timer) */
  certified: (block: bigint) => boolean
  /** threshold at a block, for the no-quorum warning */
  threshold: (block: bigint) => bigint
  /** the node stops for good (doppelganger, sign log unwritable) */
  fatal: (err: Error) => void
  counters: { attestationsSent: number; noQuorum: number }
  onSigned?: (block: bigint) => void
}

/**
 * The attester: signs checkpoints through the sign log (durable before the
 * signature leaves the node), honours the doppelganger quiet period, starts
 * the quorum timer, and watches gossip for its own key signed elsewhere.
 * Its per-checkpoint records (`own`, `noQuorum`) are capped and pruned with
 * retention.
 */
export class Attester {
  private readonly init: AttesterInit
  readonly own = new BlockMap<OwnSignature>(RECORD_LIMITS.own)
  readonly noQuorum = new ReportLog<NoQuorumReport>(RECORD_LIMITS.noQuorum)
  private readonly timers = new Set<NodeJS.Timeout>()
  /** doppelganger protection: nothing at or below this block is signed */
  private quietUntil = 0n

  constructor(init: AttesterInit) {
    this.init = init
  }

  get operator(): `0x${string}` {
    return this.init.account.address.toLowerCase() as `0x${string}`
  }

  /** Watch at least one checkpoint before signing anything (another instance with this key would show itself). */
  beginQuietPeriod(finalizedHead: bigint, interval: bigint): void {
    this.quietUntil = finalizedHead + interval
  }

  quiet(block: bigint): boolean {
    return block <= this.quietUntil
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  async sign(digest: `0x${string}`, typedData: TypedDataDefinition): Promise<`0x${string}`> {
    return normalizeV(await this.init.account.sign(digest, typedData))
  }

  async attest(cp: Checkpoint, target: BlockHeader, kind = 0): Promise<void> {
    const i = this.init
    const body: AttestationBody = {
      chainId: i.chainId,
      adapterId: i.adapterId,
      configHash: i.configHash,
      blockNumber: target.number,
      blockHash: target.hash,
      snapshotCid: cp.snapshot.cid,
      stateRoot: cp.snapshot.root.stateRoot as `0x${string}`,
      specVersion: SPEC_VERSION,
      kind,
    }
    await this.signAndPublish(body, { snapshot: cp.snapshot.cid.toString() })
    if (kind !== 0) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      this.checkQuorum(target.number, checkpointKey(body))
    }, i.quorumTimeoutMs)
    this.timers.add(t)
  }

  /**
   * Sign through the sign log, publish, aggregate. `own` records a snapshot this node signed at the
   * block (divergence checks, retention); a restitution table (kind 2) shares its block with the
   * after snapshot and is not recorded there.
   */
  async signAndPublish(body: AttestationBody, own?: { snapshot: string }): Promise<SignedAttestation> {
    const i = this.init
    let signature: `0x${string}`
    try {
      // Durable before it leaves the node: the sign log refuses a second content for this checkpoint.
      signature = await i.signLog.sign(body, this.operator, () => this.sign(attestationDigest(body), attestationTypedData(body)))
    } catch (err) {
      // a torn sign log must not be signed past: stop the node (restart reads a consistent log)
      if (err instanceof SignLogWriteError) i.fatal(err)
      throw err
    }
    const att: SignedAttestation = { body, signer: this.operator, signature }
    if (own !== undefined) {
      this.own.set(body.blockNumber, { snapshot: own.snapshot, signedAt: Date.now() })
      i.onSigned?.(body.blockNumber)
    }
    await i.publish(encodeAttestation(att)).catch((err: unknown) => i.log.warn({ err }, 'publishing the attestation failed; peers will get it from the certificate'))
    i.counters.attestationsSent++
    i.onEvents(i.aggregator.add(att, { own: true }))
    return att
  }

  private checkQuorum(block: bigint, key: string): void {
    if (this.init.certified(block)) return
    const tally = this.init.aggregator.tally(key).map((t) => ({ content: t.content, weight: t.weight.toString(), signers: t.signers }))
    this.init.counters.noQuorum++
    this.noQuorum.push({ block: block.toString(), tally })
    this.init.log.warn({ block: block.toString(), tally, threshold: this.init.threshold(block).toString() }, 'no quorum within the timeout')
  }

  /** A gossiped attestation: our own key with content our sign log does not hold means a second instance. */
  onAttestation(a: SignedAttestation): void {
    if (a.signer.toLowerCase() === this.operator) {
      const logged = this.init.signLog.get(a.body)
      if (logged === undefined || logged.content !== contentKey(a.body)) {
        const err = new DoppelgangerError(this.operator, a.body.blockNumber)
        this.init.log.error({ block: a.body.blockNumber.toString() }, err.message)
        this.init.fatal(err)
        return
      }
    }
    this.init.onEvents(this.init.aggregator.add(a))
  }

  pruneBelow(floor: bigint): void {
    this.own.pruneBelow(floor)
    this.noQuorum.pruneBelow(floor)
  }
}
