/**
 * A node whose derivation is wrong (a buggy adapter that passes its own spot
 * checks) attests a different snapshot: the honest quorum certifies the right
 * one, and the faulty node reports the divergence with the exact accounts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { perpReferenceAdapter, type PerpReferenceConfig } from '../../snapshot/adapters/perp-reference/adapter.ts'
import type { Adapter, AdapterState } from '../../snapshot/adapters/types.ts'
import type { AccountRecord, DerivativesMarkets } from '../../snapshot/schema/derivatives.ts'
import { blockNumber, type ChainFixture } from '../support/chain.ts'
import { archiveFixture, startNode, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture
let f: ChainFixture
let dir: string
let nodes: ArchiveNode[]
let victim = ''

/** Off by one wei for the smallest account, and blind to it: the kind of bug a quorum exists for. */
function buggy(): Adapter<PerpReferenceConfig, AccountRecord, DerivativesMarkets> {
  const wrap = (state: AdapterState<AccountRecord, DerivativesMarkets>): AdapterState<AccountRecord, DerivativesMarkets> => {
    const skew = <T extends { key: string | Uint8Array; record: AccountRecord | null }>(c: T): T => {
      const k = typeof c.key === 'string' ? c.key : Buffer.from(c.key).toString('hex')
      if (c.record === null || !k.toLowerCase().endsWith(victim.slice(-40)) || c.record.collateral.length === 0) return c
      return { ...c, record: { ...c.record, collateral: c.record.collateral.map((x, i) => (i === 0 ? { ...x, amount: x.amount + 1n } : x)) } }
    }
    return {
      load: (r, m) => state.load(r, m),
      fold: (l, ctx) => state.fold(l, ctx),
      takeChanges: () => state.takeChanges().map(skew),
      records: () => [...state.records()].map(skew),
      markets: (ctx) => state.markets(ctx),
      spotCheck: async () => {},
      clone: () => wrap(state.clone()),
    }
  }
  return { ...perpReferenceAdapter, createState: (c) => wrap(perpReferenceAdapter.createState(c)) }
}

beforeAll(async () => {
  fx = await archiveFixture({ name: 'div', seed: 21, traders: 10, steps: 60 })
  ;({ chain: f, dir, nodes } = fx)
  victim = fx.seeded.traders[0]!.toLowerCase()
}, 180_000)

afterAll(async () => {
  await fx?.stop()
})

describe('divergence', () => {
  it('the honest quorum certifies; the faulty node reports the divergence naming the account', { timeout: 400_000 }, async () => {
    const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: await blockNumber(f), interval: 4 })
    const n0 = await startNode(configs[0]!)
    nodes.push(n0)
    for (const i of [1, 2]) {
      configs[i]!.p2p.bootstrap = n0.network.multiaddrs().map(String)
      nodes.push(await startNode(configs[i]!))
    }
    configs[3]!.p2p.bootstrap = n0.network.multiaddrs().map(String)
    const faulty = await fx.start(configs[3]!, { adapter: buggy() as unknown as Adapter })
    fx.mine({ seed: 40, traders: 10, steps: 20 })
    await until('a divergence report on the faulty node', () => faulty.divergences.length > 0, 90_000)
    const d = faulty.divergences[0]!
    expect(d.accounts).toEqual([victim])
    expect(d.ours).not.toBe(d.certified)
    const cert = n0.certificates.get(BigInt(d.block))!
    expect(cert.certificate.body.snapshotCid.toString()).toBe(d.certified)
    expect(cert.certificate.signatures.map((s) => s.signer)).not.toContain(faulty.operator)
    for (const n of nodes.slice(0, 3)) expect(n.divergences).toEqual([])
  })
})
