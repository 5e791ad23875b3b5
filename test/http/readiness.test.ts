import { describe, expect, it } from 'vitest'
import { readiness, type NodeReadState } from '../../node/archive/view.ts'

/** Only what readiness() reads; the rest of the state is never touched. */
function state(o: { fatal?: Error; caughtUp?: boolean; certified?: bigint; head?: bigint; next?: bigint; peers?: number; bootstrap?: number }): NodeReadState {
  const latest = o.certified === undefined ? undefined : { certificate: { body: { blockNumber: o.certified } } }
  return {
    fatal: () => o.fatal,
    caughtUp: () => o.caughtUp ?? true,
    certificates: { latestOfKind: (kind: number) => (kind === 0 ? latest : undefined) },
    checkpointInterval: 10n,
    finalizedHead: () => o.head ?? 0n,
    nextCheckpoint: () => o.next,
    peers: () => o.peers ?? 0,
    bootstrapPeers: o.bootstrap ?? 0,
  } as unknown as NodeReadState
}

describe('readiness (/readyz)', () => {
  it('ready: caught up, chain view and own schedule within an interval of the certified head, peers ≥ min(bootstrap, 1)', () => {
    expect(readiness(state({}))).toEqual({ ok: true, reasons: [] })
    expect(readiness(state({ certified: 100n, head: 130n, next: 200n, peers: 1, bootstrap: 3 }))).toEqual({ ok: true, reasons: [] })
    // less than one interval (10) behind: a node slower than the quorum is still ready
    expect(readiness(state({ certified: 100n, head: 91n, next: 91n, peers: 1, bootstrap: 1 }))).toEqual({ ok: true, reasons: [] })
  })

  it('not ready, with a reason each: fatal, first catch-up pending, behind the certified head, too few peers', () => {
    const r = readiness(state({ fatal: new Error('disk full'), caughtUp: false, certified: 300n, head: 250n, next: 200n, peers: 0, bootstrap: 2 }))
    expect(r.ok).toBe(false)
    expect(r.reasons).toEqual([
      'fatal: disk full',
      'catching up: the first certificate catch-up with peers has not finished',
      'behind the certified head: final block 250 is a checkpoint interval or more below certified block 300 (is the RPC endpoint behind?)',
      'behind the certified head: next own checkpoint 200 is a checkpoint interval or more below certified block 300',
      '0 peers connected, want at least 1',
    ])
  })

  it('a node without bootstrap peers needs none', () => {
    expect(readiness(state({ peers: 0, bootstrap: 0 })).ok).toBe(true)
    expect(readiness(state({ peers: 0, bootstrap: 1 })).ok).toBe(false)
  })
})
