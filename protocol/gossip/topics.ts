/** One topic per (chain, adapter, message kind); version in the name so upgrades don't cross-talk. */
export type TopicKind = 'attestation' | 'certificate' | 'evidence' | 'alert'

export function topicName(kind: TopicKind, chainId: bigint, adapterId: string): string {
  return `/ark/1/${chainId}/${adapterId}/${kind}/dag-cbor`
}
