/**
 * Incremental verification (issue 18): a snapshot checked against an
 * earlier, fully verified one must be accepted or refused exactly as the
 * full verification (openCertifiedSnapshot) accepts or refuses it: the
 * genuine next snapshot passes with the same Merkle leaf layer; a forged
 * stateRoot, a forged account count and a non-canonical tree layout of the
 * right entries (which keeps the right stateRoot) are refused by both.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { applyChanges } from '../../snapshot/state/build.ts'
import { encodeRoot, type SnapshotRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { synthChanges, synthMarkets, synthMeta } from '../../snapshot/synth/synth.ts'
import { buildTree } from '../../snapshot/tree/build.ts'
import { TREE_PARAMS_V1 } from '../../snapshot/tree/params.ts'
import { openCertifiedSnapshot } from '../../node/recovery/verify.ts'
import { checkedLeafLayer, sortedLeafLayer, verifyIncrementally, type VerifiedPrevious } from '../../node/recovery/verify-incremental.ts'
import { certifiedSnapshot, certifySnapshot, type Certified } from '../support/recovery-server.ts'

const opts = { accounts: 3000, seed: 'verify-incremental' }
let older: Certified
let newer: Certified
let previous: VerifiedPrevious

/** A certified snapshot whose root block is `root` (forged by the caller), certified by a quorum. */
async function forged(root: SnapshotRoot): Promise<Certified> {
  const block = encodeRoot(root)
  older.store.put(block)
  return certifySnapshot(new Snapshot({ cid: block.cid, root, store: older.store, schema: older.snapshot.schema, verifyBlocks: false }), older.store)
}

async function outcomes(c: Certified): Promise<{ full: string; incremental: string }> {
  const name = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'accepted',
      (err: unknown) => `refused: ${(err as Error).message}`,
    )
  return { full: await name(openCertifiedSnapshot(c.certificate, older.store, { blocksChecked: true })), incremental: await name(verifyIncrementally(c.certificate, older.store, previous)) }
}

beforeAll(async () => {
  older = await certifiedSnapshot({ ...opts, meta: synthMeta(opts, 0) })
  const changed = await applyChanges(older.snapshot, synthChanges(opts, 0.02, 1) as never, { meta: synthMeta(opts, 1), markets: synthMarkets(opts) })
  newer = await certifySnapshot(changed.snapshot, older.store)
  const old = await openCertifiedSnapshot(older.certificate, older.store)
  previous = { snapshot: old, sortedLeaves: await sortedLeafLayer(old) }
}, 60_000)

describe('verifyIncrementally', () => {
  it('accepts the genuine next snapshot with the leaf layer a full verification computes, and chains to the one after', async () => {
    const r = await verifyIncrementally(newer.certificate, older.store, previous)
    expect(r).toBeDefined()
    expect(r!.snapshot.cid.equals(newer.snapshot.cid)).toBe(true)
    const full = await openCertifiedSnapshot(newer.certificate, older.store)
    expect(Buffer.compare(r!.sortedLeaves, (await full.merkle())!.sortedLeaves)).toBe(0)
    // the result is the base of the next one (what ark mirror does checkpoint after checkpoint)
    const third = await certifySnapshot((await applyChanges(newer.snapshot, synthChanges(opts, 0.02, 2) as never, { meta: synthMeta(opts, 2), markets: synthMarkets(opts) })).snapshot, older.store)
    expect((await verifyIncrementally(third.certificate, older.store, r!))?.snapshot.root.stateRoot).toBe(third.snapshot.root.stateRoot)
    // a cached layer is used only when it gives the stateRoot
    expect(checkedLeafLayer(older.snapshot, previous.sortedLeaves)).toBe(previous.sortedLeaves)
    expect(checkedLeafLayer(newer.snapshot, previous.sortedLeaves)).toBeUndefined()
  })

  it('refuses a stateRoot that is not the leaves’, as the full verification does', async () => {
    const other = await applyChanges(older.snapshot, synthChanges(opts, 0.02, 7) as never, { meta: synthMeta(opts, 1), markets: synthMarkets(opts) })
    const o = await outcomes(await forged({ ...newer.snapshot.root, stateRoot: other.snapshot.root.stateRoot }))
    expect(o.full).toMatch(/refused: .*stateRoot/)
    expect(o.incremental).toMatch(/refused: .*stateRoot/)
  })

  it('refuses a forged account count, as the full verification does', async () => {
    const o = await outcomes(await forged({ ...newer.snapshot.root, accountCount: newer.snapshot.root.accountCount + 1 }))
    expect(o.full).toMatch(/^refused/)
    expect(o.incremental).toMatch(/^refused: .*accounts/)
  })

  it('refuses the right entries in a non-canonical tree (the stateRoot is right), as the full verification does', async () => {
    const entries = []
    for await (const e of newer.snapshot.rawEntries()) entries.push(e)
    const index = buildTree(entries, (b) => older.store.put(b), { ...TREE_PARAMS_V1, leafTarget: 8 })
    const top: CID = index.levels[index.levels.length - 1]!.refs[0]!.cid
    expect(top.equals(newer.snapshot.root.accounts!)).toBe(false)
    const o = await outcomes(await forged({ ...newer.snapshot.root, accounts: top }))
    expect(o.full).toMatch(/refused: .*canonical/)
    expect(o.incremental).toMatch(/refused: .*canonical/)
  })

  it('leaves another record schema to the full verification', async () => {
    const root = { ...newer.snapshot.root, schema: { ...newer.snapshot.root.schema, version: newer.snapshot.root.schema.version + 1 } }
    const c = await forged(root)
    expect(await verifyIncrementally(c.certificate, older.store, previous)).toBeUndefined()
  })
})
