import { TopicValidatorResult, type Message, type TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { TopicKind } from '../../protocol/gossip/topics.ts'
import type { Validation } from '../../protocol/gossip/validate.ts'
import type { GossipMetrics } from './metrics.ts'

/** A protocol validator for one topic kind: bytes in, accept/reject/ignore out. */
export type TopicValidator<T = unknown> = (bytes: Uint8Array, from: PeerId) => Promise<Validation<T>> | Validation<T>

const RESULT = { accept: TopicValidatorResult.Accept, reject: TopicValidatorResult.Reject, ignore: TopicValidatorResult.Ignore } as const

/**
 * The one adapter between the protocol's pure validators and gossipsub:
 * maps accept/reject/ignore to TopicValidatorResult (reject is what costs
 * the sender peer score), counts every result per (kind, action, code), and
 * remembers the decoded value of accepted messages so handlers don't decode
 * twice. A validator that throws is a bug on our side, not the sender's:
 * the message is ignored (no penalty) and counted as VALIDATOR_ERROR.
 */
export function gossipValidator<T>(kind: TopicKind, validate: TopicValidator<T>, metrics: GossipMetrics, accepted: WeakMap<Message, unknown>, log?: Logger): TopicValidatorFn {
  return async (from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    let v: Validation<T>
    try {
      v = await validate(msg.data, from)
    } catch (err) {
      metrics.inc(kind, 'ignore', 'VALIDATOR_ERROR')
      log?.error({ err, kind, from: from.toString() }, 'gossip validator threw; message ignored')
      return TopicValidatorResult.Ignore
    }
    if (v.action === 'accept') {
      metrics.inc(kind, 'accept', 'OK')
      accepted.set(msg, v.value)
    } else {
      metrics.inc(kind, v.action, v.code)
      log?.debug({ kind, action: v.action, code: v.code, from: from.toString(), reason: v.message }, 'gossip message not accepted')
    }
    return RESULT[v.action]
  }
}
