import type { Hex } from 'viem'
import type { AttestationBody } from '../../protocol/attestation.ts'
import { pinnedCall } from '../../snapshot/chain/pinned-call.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import { ARK_REGISTRY_ABI, registryAdapterKey } from '../chain/registry.ts'

/** Whether a certified checkpoint's stateRoot is recorded in ArkRegistry (what the explorer shows). */
export interface Anchoring {
  registry: Hex
  /** anchored: the registry holds this stateRoot; not-anchored: nothing recorded; conflicting: another root is */
  status: 'anchored' | 'not-anchored' | 'conflicting'
  recordedRoot: Hex | null
  /** the finalized block the registry was read at */
  readAt: string
}

export interface AnchoringInit {
  source: ChainSource
  registry: Hex
  finalizedHead: () => bigint
  signal: AbortSignal
  /** entries kept; the API asks only for blocks the certificate store holds, so this is a safety bound */
  maxEntries?: number
}

/**
 * Reads `recordOf(adapterKey, kind, block)` at the finalized head (a pinned call, so a
 * reorg cannot mix answers). A recorded root never changes (the registry refuses a second one),
 * so "anchored" and "conflicting" are kept; "not-anchored" is read again once the head moves.
 * Concurrent asks for one checkpoint share one read.
 */
export class AnchoringReader {
  private readonly cache = new Map<string, { at: bigint; answer: Promise<Anchoring> }>()
  private readonly init: AnchoringInit
  private readonly maxEntries: number

  constructor(init: AnchoringInit) {
    this.init = init
    this.maxEntries = init.maxEntries ?? 4096
  }

  status(body: AttestationBody): Promise<Anchoring> {
    const key = `${body.adapterId}/${body.configHash}/${body.blockNumber}/${body.stateRoot}`
    const head = this.init.finalizedHead()
    const hit = this.cache.get(key)
    if (hit !== undefined && (hit.at === head || hit.at === -1n)) return hit.answer
    const answer = this.read(body, head)
    this.cache.delete(key)
    this.cache.set(key, { at: head, answer })
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!)
    answer.then(
      (a) => {
        // final answers stay valid at every later head
        if (a.status !== 'not-anchored') this.cache.set(key, { at: -1n, answer })
      },
      () => this.cache.delete(key),
    )
    return answer
  }

  private async read(body: AttestationBody, head: bigint): Promise<Anchoring> {
    const { source, registry, signal } = this.init
    const header = await source.agreedHeader(head, signal)
    // recordOf, not recordedRoot: the empty snapshot's root is zero and must still read as anchored
    const [raw, recorded] = await pinnedCall<readonly [Hex, boolean]>(source, registry, ARK_REGISTRY_ABI, 'recordOf', [registryAdapterKey(body.adapterId, body.configHash), body.kind, body.blockNumber], header.hash, signal)
    const root = raw.toLowerCase() as Hex
    const status = !recorded ? 'not-anchored' : root === body.stateRoot.toLowerCase() ? 'anchored' : 'conflicting'
    return { registry, status, recordedRoot: status === 'not-anchored' ? null : root, readAt: head.toString() }
  }
}
