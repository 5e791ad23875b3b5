/**
 * Determinism of the snapshot DAG: the same account set gives the same bytes
 * and CIDs whatever the insertion order, batching or build path (full,
 * sorted stream, incremental), and the hand-assembled tree nodes are exactly
 * the dag-cbor encoding of their structure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidOf } from '../../snapshot/codec/block.ts'
import { encodeAccount, type AccountRecord } from '../../snapshot/schema/derivatives.ts'
import { applyChanges, type ChangeInput } from '../../snapshot/state/build.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { diffTrees } from '../../snapshot/tree/diff.ts'
import { decodeNode, encodeBranch, encodeLeaf, type ChildRef, type Entry } from '../../snapshot/tree/node.ts'
import { boundaryHash, TREE_PARAMS_V1 } from '../../snapshot/tree/params.ts'
import { readNode } from '../../snapshot/tree/read.ts'
import {
  arbAccounts,
  arbKey,
  arbRecord,
  build,
  chunks,
  EMPTY_MARKETS,
  expectSameAsRebuild,
  fcOpts,
  hex,
  META,
  prng,
  schema,
  shuffle,
  sortAccounts,
  type Account,
} from './support.ts'

/** Same record, different presentation: shuffled lists, numbers/strings for small ints. */
function reshape(r: AccountRecord, rand: () => number): AccountRecord {
  const alt = (v: bigint): bigint => {
    const x = rand()
    if (x < 0.33) return v.toString() as unknown as bigint
    if (x < 0.66 && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v) as unknown as bigint
    return v
  }
  return {
    collateral: shuffle(r.collateral, rand).map((c) => ({ asset: c.asset, amount: alt(c.amount) })),
    perps: shuffle(r.perps, rand).map((p) => ({ ...p, size: alt(p.size), fundingIndex: alt(p.fundingIndex) })),
    options: shuffle(r.options, rand).map((o) => ({ ...o, strike: alt(o.strike), size: alt(o.size) })),
  }
}

async function* streamChunks<T>(parts: T[][]): AsyncGenerator<T> {
  for (const p of parts) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    yield* p
  }
}

/** Key given as bytes, lower-case hex or upper-case hex: all the same account. */
function keyForm(key: Uint8Array, rand: () => number): string | Uint8Array {
  const r = rand()
  if (r < 0.34) return key
  if (r < 0.67) return hex(key)
  return `0x${hex(key).slice(2).toUpperCase()}`
}

function storeKeys(store: MemoryBlockStore): string[] {
  return [...store.blocks.keys()].sort()
}

describe('build determinism', () => {
  it('same set in any order, batching or build path gives identical blocks, CID and stateRoot', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(10, 400), fc.integer(), async (accounts, seed) => {
        const rand = prng(seed)
        const ref = await build(accounts)

        // 1. another insertion order, keys in mixed forms, lists inside records shuffled
        const shuffled = shuffle(accounts, rand).map((a) => ({ key: keyForm(a.key, rand), record: reshape(a.record, rand) }))
        const b1 = await build(shuffled)
        // 2. the same, streamed asynchronously in random chunks
        const b2 = await build(streamChunks(chunks(shuffle(accounts, rand), rand, 50)))
        // 3. sorted stream path
        const b3 = await build(streamChunks(chunks(sortAccounts(accounts), rand, 64)), { sorted: true })

        for (const b of [b1, b2, b3]) {
          expect(b.snapshot.cid.toString()).toBe(ref.snapshot.cid.toString())
          expect(b.snapshot.root.stateRoot).toBe(ref.snapshot.root.stateRoot)
          expect(b.snapshot.root.accountCount).toBe(accounts.length)
          // byte-identical DAGs: same set of blocks, same bytes
          expect(storeKeys(b.store)).toEqual(storeKeys(ref.store))
          for (const [k, v] of ref.store.blocks) expect(Buffer.compare(b.store.blocks.get(k)!, v)).toBe(0)
        }

        // 4. random batches applied incrementally (first batch built, the rest inserted)
        const parts = chunks(shuffle(accounts, rand), rand, Math.max(2, accounts.length >> 1))
        let inc = (await build(parts[0]!)).snapshot
        for (const part of parts.slice(1)) {
          inc = (await applyChanges(inc, part.map((a) => ({ key: a.key, record: a.record })), { meta: META, markets: EMPTY_MARKETS })).snapshot
        }
        await expectSameAsRebuild(inc, ref.snapshot)
      }),
      fcOpts(25),
    )
  })

  it('the built DAG reopens from the store, verifies, and returns every record unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(1, 300), async (accounts) => {
        const { snapshot, store } = await build(accounts)
        const opened = await Snapshot.open(store, snapshot.cid, schema)
        await opened.verify()
        const got: { key: string; bytes: string }[] = []
        for await (const e of opened.entries()) got.push({ key: hex(e.key), bytes: hex(encodeAccount(e.record, 'x').bytes) })
        const want = sortAccounts(accounts).map((a) => ({ key: hex(a.key), bytes: hex(encodeAccount(a.record, 'x').bytes) }))
        expect(got).toEqual(want)
        for (const a of accounts.slice(0, 20)) {
          const r = await opened.get(a.key)
          expect(r).toBeDefined()
          expect(hex(encodeAccount(r!, 'x').bytes)).toBe(hex(encodeAccount(a.record, 'x').bytes))
        }
        const absent = new Uint8Array(20).fill(0xfe)
        if (!accounts.some((a) => Buffer.compare(a.key, absent) === 0)) expect(await opened.get(absent)).toBeUndefined()
      }),
      fcOpts(20),
    )
  })
})

/** Random change set against `base`: updates, deletions, insertions of new keys. */
const arbChangeScenario = arbAccounts(1, 250).chain((base) =>
  fc.record({
    base: fc.constant(base),
    ops: fc.array(fc.constantFrom('keep', 'keep', 'update', 'delete'), { minLength: base.length, maxLength: base.length }),
    updates: fc.array(arbRecord, { minLength: base.length, maxLength: base.length }),
    inserts: arbAccounts(0, 120).map((xs) => xs.filter((x) => !base.some((b) => Buffer.compare(b.key, x.key) === 0))),
    seed: fc.integer(),
  }),
)

function applyToSet(base: Account[], changes: ChangeInput<AccountRecord>[]): Account[] {
  const m = new Map(base.map((a) => [hex(a.key), a]))
  for (const c of changes) {
    const k = typeof c.key === 'string' ? c.key.toLowerCase() : hex(c.key)
    if (c.record === null) m.delete(k)
    else m.set(k, { key: Buffer.from(k.slice(2), 'hex'), record: c.record })
  }
  return [...m.values()]
}

async function checkIncremental(base: Account[], changes: ChangeInput<AccountRecord>[], reopen: boolean): Promise<void> {
  const before = await build(base)
  const prev = reopen ? await Snapshot.open(before.store, before.snapshot.cid, schema) : before.snapshot
  const inc = await applyChanges(prev, changes, { meta: META, markets: EMPTY_MARKETS })
  const expected = applyToSet(base, changes)
  const full = await build(expected)
  expect(inc.snapshot.root.accountCount).toBe(expected.length)
  await expectSameAsRebuild(inc.snapshot, full.snapshot)
  // the incremental snapshot is complete and canonical in its own store
  const opened = await Snapshot.open(before.store, inc.snapshot.cid, schema)
  await opened.verify()
}

describe('incremental = full rebuild', () => {
  it('random updates, deletions and insertions', async () => {
    await fc.assert(
      fc.asyncProperty(arbChangeScenario, fc.boolean(), async ({ base, ops, updates, inserts, seed }, reopen) => {
        const rand = prng(seed)
        const changes: ChangeInput<AccountRecord>[] = []
        base.forEach((a, i) => {
          if (ops[i] === 'update') changes.push({ key: a.key, record: updates[i]! })
          if (ops[i] === 'delete') changes.push({ key: rand() < 0.5 ? a.key : hex(a.key), record: null })
        })
        for (const x of inserts) changes.push({ key: x.key, record: x.record })
        await checkIncremental(base, shuffle(changes, rand), reopen)
      }),
      fcOpts(40),
    )
  })

  it('deleting every account gives the empty snapshot', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(1, 300), async (base) => {
        const before = await build(base)
        const inc = await applyChanges(before.snapshot, base.map((a) => ({ key: a.key, record: null })), { meta: META, markets: EMPTY_MARKETS })
        const empty = await build([])
        expect(inc.snapshot.cid.toString()).toBe(empty.snapshot.cid.toString())
        expect(inc.snapshot.root.accounts).toBeNull()
        expect(inc.snapshot.root.accountCount).toBe(0)
        expect(inc.snapshot.root.stateRoot).toBe(`0x${'00'.repeat(32)}`)
      }),
      fcOpts(20),
    )
  })

  it('growing from 0 or 1 account to many', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(2, 400), fc.boolean(), async (all, fromEmpty) => {
        const base = fromEmpty ? [] : all.slice(0, 1)
        const rest = fromEmpty ? all : all.slice(1)
        await checkIncremental(base, rest.map((a) => ({ key: a.key, record: a.record })), false)
      }),
      fcOpts(20),
    )
  })

  it('shrinking from many accounts to one', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(2, 400), fc.nat(), async (all, pick) => {
        const keep = pick % all.length
        await checkIncremental(all, all.filter((_, i) => i !== keep).map((a) => ({ key: a.key, record: null })), false)
      }),
      fcOpts(20),
    )
  })

  it('a chain of small change sets stays equal to a rebuild at every step', async () => {
    await fc.assert(
      fc.asyncProperty(arbAccounts(50, 300), fc.array(fc.tuple(arbRecord, arbKey), { minLength: 30, maxLength: 30 }), fc.integer(), async (base, extra, seed) => {
        const rand = prng(seed)
        let set = base
        let snap = (await build(base)).snapshot
        for (let step = 0; step < 3; step++) {
          const changes: ChangeInput<AccountRecord>[] = []
          const used = new Set<string>()
          for (let i = 0; i < 10; i++) {
            const r = rand()
            const victim = set[Math.floor(rand() * set.length)]
            if (r < 0.4 && victim !== undefined && !used.has(hex(victim.key))) {
              used.add(hex(victim.key))
              changes.push({ key: victim.key, record: extra[step * 10 + i]![0] })
            } else if (r < 0.7 && victim !== undefined && !used.has(hex(victim.key))) {
              used.add(hex(victim.key))
              changes.push({ key: victim.key, record: null })
            } else {
              const k = extra[step * 10 + i]![1]
              if (used.has(hex(k))) continue
              used.add(hex(k))
              changes.push({ key: k, record: extra[step * 10 + i]![0] })
            }
          }
          snap = (await applyChanges(snap, changes, { meta: META, markets: EMPTY_MARKETS })).snapshot
          set = applyToSet(set, changes)
          await expectSameAsRebuild(snap, (await build(set)).snapshot)
        }
      }),
      fcOpts(20),
    )
  })

  // Regression: TreeBuilder.finish used to wrap a lone top node in single-child
  // branches while its first key was a boundary at the next level, whereas
  // updateTree stops at the first level holding one node, so the same account
  // set had two root CIDs (~1 in 8 trees). The root is the first level with one node.
  it('shrinking to one account whose key is a level-1 boundary matches a rebuild', async () => {
    let k: Uint8Array | undefined
    for (let i = 0; k === undefined; i++) {
      const c = new Uint8Array(20)
      c[18] = i >> 8
      c[19] = i & 0xff
      if (boundaryHash(1, c) < 2 ** 29) k = c
    }
    const rec: AccountRecord = { collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: 1n }], perps: [], options: [] }
    const other = new Uint8Array(20).fill(0xff)
    const two = await build([{ key: k, record: rec }, { key: other, record: rec }])
    const inc = await applyChanges(two.snapshot, [{ key: other, record: null }], { meta: META, markets: EMPTY_MARKETS })
    const full = await build([{ key: k, record: rec }])
    expect(full.snapshot.root.accounts).not.toBeNull()
    const root = await readNode(full.snapshot.reader, full.snapshot.root.accounts!)
    expect(root.level).toBe(0) // one leaf holds everything: the leaf is the root
    expect(inc.snapshot.cid.toString()).toBe(full.snapshot.cid.toString())
  })

  it('no built tree has a single-child root, and one-record updates match a rebuild', async () => {
    let checked = 0
    for (let seed = 1; seed <= 60; seed++) {
      const rand = prng(seed)
      const accounts: Account[] = []
      const n = 2 + Math.floor(rand() * 60)
      for (let i = 0; i < n; i++) {
        const key = new Uint8Array(20)
        for (let j = 0; j < 20; j++) key[j] = Math.floor(rand() * 256)
        accounts.push({ key, record: { collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: BigInt(i + 1) }], perps: [], options: [] } })
      }
      const full = await build(accounts)
      const root = await readNode(full.snapshot.reader, full.snapshot.root.accounts!)
      if (root.level > 0) expect((root as { children: ChildRef[] }).children.length).toBeGreaterThan(1)
      const target = accounts[Math.floor(rand() * n)]!
      const updated = { collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: 999n }], perps: [], options: [] }
      const inc = await applyChanges(full.snapshot, [{ key: target.key, record: updated }], { meta: META, markets: EMPTY_MARKETS })
      const rebuilt = await build(accounts.map((a) => (a === target ? { key: a.key, record: updated } : a)))
      expect(inc.snapshot.cid.toString()).toBe(rebuilt.snapshot.cid.toString())
      checked++
    }
    expect(checked).toBe(60)
  })
})

describe('forced cuts (ground keys, large records)', () => {
  /** Keys that are never a leaf boundary: an adversary grinding keys gets only forced cuts. */
  function groundKeys(n: number, seed: number): Uint8Array[] {
    const rand = prng(seed)
    const out: Uint8Array[] = []
    while (out.length < n) {
      const k = new Uint8Array(20)
      for (let j = 0; j < 20; j++) k[j] = Math.floor(rand() * 256)
      if (boundaryHash(0, k) >= Math.floor(2 ** 32 / TREE_PARAMS_V1.leafTarget)) out.push(k)
    }
    return out
  }
  const small = (i: number): AccountRecord => ({ collateral: [{ asset: `0x${'aa'.repeat(20)}`, amount: BigInt(i + 1) }], perps: [], options: [] })
  /** ~28 KB of canonical bytes: a handful of these forces a cut by size. */
  const large = (i: number): AccountRecord => ({
    collateral: Array.from({ length: 500 }, (_, j) => ({ asset: `0x${(j + 1).toString(16).padStart(40, '0')}`, amount: (1n << 255n) + BigInt(i) })),
    perps: [],
    options: [],
  })

  it('leaves cut at maxItems stay identical to a rebuild under insertions and deletions', async () => {
    const keys = groundKeys(2600, 5)
    const accounts = keys.slice(0, 2500).map((key, i) => ({ key, record: small(i) }))
    const base = await build(accounts)
    const index = await base.snapshot.treeIndex()
    expect(index.levels[0]!.sizes).toContain(TREE_PARAMS_V1.maxItems)

    const changes: ChangeInput<AccountRecord>[] = [
      ...keys.slice(2500, 2520).map((key, i) => ({ key, record: small(10_000 + i) })),
      ...accounts.slice(100, 110).map((a) => ({ key: a.key, record: null })),
      { key: accounts[2000]!.key, record: small(7) },
    ]
    const inc = await applyChanges(base.snapshot, changes, { meta: META, markets: EMPTY_MARKETS })
    await expectSameAsRebuild(inc.snapshot, (await build(applyToSet(accounts, changes))).snapshot)
  })

  it('leaves cut at maxChunkBytes stay identical to a rebuild', async () => {
    const keys = groundKeys(60, 9)
    const accounts = keys.slice(0, 50).map((key, i) => ({ key, record: i % 3 === 0 ? large(i) : small(i) }))
    const base = await build(accounts)
    const index = await base.snapshot.treeIndex()
    // every leaf ends by size (no boundaries, far fewer than maxItems entries)
    expect(index.levels[0]!.refs.length).toBeGreaterThan(1)
    for (const ref of index.levels[0]!.refs) {
      const bytes = base.store.get(ref.cid).length
      expect(bytes).toBeLessThan(TREE_PARAMS_V1.maxChunkBytes + TREE_PARAMS_V1.maxRecordBytes + 64)
    }
    const changes: ChangeInput<AccountRecord>[] = [
      { key: keys[55]!, record: large(55) },
      { key: accounts[3]!.key, record: null },
      { key: accounts[4]!.key, record: large(4) },
      { key: accounts[30]!.key, record: small(30) },
    ]
    const inc = await applyChanges(base.snapshot, changes, { meta: META, markets: EMPTY_MARKETS })
    await expectSameAsRebuild(inc.snapshot, (await build(applyToSet(accounts, changes))).snapshot)
  })
})

describe('diffTrees', () => {
  it('lists exactly the changed keys, and applying the diff to a gives b', async () => {
    await fc.assert(
      fc.asyncProperty(arbChangeScenario, fc.boolean(), async ({ base, ops, updates, inserts }, sameStore) => {
        const changes: ChangeInput<AccountRecord>[] = []
        base.forEach((a, i) => {
          if (ops[i] === 'update') changes.push({ key: a.key, record: updates[i]! })
          if (ops[i] === 'delete') changes.push({ key: a.key, record: null })
        })
        for (const x of inserts) changes.push({ key: x.key, record: x.record })
        const a = await build(base)
        const bSet = applyToSet(base, changes)
        const b = await build(bSet, sameStore ? { store: a.store } : {})

        const diff: { key: string; before: string | null; after: string | null }[] = []
        for await (const d of diffTrees(a.snapshot.reader, await a.snapshot.rootRef(), b.snapshot.reader, await b.snapshot.rootRef())) {
          diff.push({ key: hex(d.key), before: d.before && hex(d.before), after: d.after && hex(d.after) })
        }
        // naive expectation
        const enc = (r: AccountRecord) => hex(encodeAccount(r, 'x').bytes)
        const am = new Map(base.map((x) => [hex(x.key), enc(x.record)]))
        const bm = new Map(bSet.map((x) => [hex(x.key), enc(x.record)]))
        const want = [...new Set([...am.keys(), ...bm.keys()])]
          .sort()
          .map((k) => ({ key: k, before: am.get(k) ?? null, after: bm.get(k) ?? null }))
          .filter((d) => d.before !== d.after)
        expect(diff).toEqual(want)

        const applied = await applyChanges(
          a.snapshot,
          diff.map((d) => ({ key: d.key, record: d.after === null ? null : schema.decode(Buffer.from(d.after.slice(2), 'hex'), 'after') })),
          { meta: META, markets: EMPTY_MARKETS },
        )
        await expectSameAsRebuild(applied.snapshot, b.snapshot)
      }),
      fcOpts(30),
    )
  })

  it('a diff against the empty snapshot lists every account', async () => {
    const accounts = fc.sample(arbAccounts(50, 50), { numRuns: 1, seed: 3 })[0]!
    const a = await build(accounts)
    const empty = await build([])
    const removed = []
    for await (const d of diffTrees(a.snapshot.reader, await a.snapshot.rootRef(), empty.snapshot.reader, null)) removed.push(d)
    expect(removed.map((d) => hex(d.key))).toEqual(sortAccounts(accounts).map((x) => hex(x.key)))
    expect(removed.every((d) => d.after === null && d.before !== null)).toBe(true)
    const added = []
    for await (const d of diffTrees(empty.snapshot.reader, null, a.snapshot.reader, await a.snapshot.rootRef())) added.push(d)
    expect(added).toHaveLength(50)
    expect(added.every((d) => d.before === null && d.after !== null)).toBe(true)
  })

  it('identical trees diff to nothing without opening any block', async () => {
    const accounts = fc.sample(arbAccounts(200, 200), { numRuns: 1, seed: 7 })[0]!
    const a = await build(accounts)
    let reads = 0
    const reader = { store: { get: (c: CID) => (reads++, a.store.get(c)), put: () => {}, has: () => true }, keyLength: 20 }
    const out = []
    for await (const d of diffTrees(reader, await a.snapshot.rootRef(), reader, await a.snapshot.rootRef())) out.push(d)
    expect(out).toEqual([])
    expect(reads).toBe(0)
  })
})

describe('tree node encoding = @ipld/dag-cbor', () => {
  const arbEntries = fc
    .uniqueArray(fc.record({ key: fc.uint8Array({ minLength: 20, maxLength: 20 }), record: arbRecord }), { minLength: 1, maxLength: 300, selector: (e) => hex(e.key) })
    .map((xs) => sortAccounts(xs).map((x): Entry => ({ key: x.key, value: encodeAccount(x.record, 'x').bytes })))

  it('encodeLeaf is the dag-cbor encoding of [0, [[key, record]...]]', () => {
    fc.assert(
      fc.property(arbEntries, (entries) => {
        const block = encodeLeaf(entries)
        const expected = dagCbor.encode([0, entries.map((e) => [e.key, dagCbor.decode(e.value)])])
        expect(hex(block.bytes)).toBe(hex(expected))
        expect(block.cid.toString()).toBe(cidOf(expected).toString())
        const back = decodeNode(block.cid, block.bytes, 20)
        expect(back.level).toBe(0)
        expect((back as { entries: Entry[] }).entries.map((e) => [hex(e.key), hex(e.value)])).toEqual(entries.map((e) => [hex(e.key), hex(e.value)]))
      }),
      fcOpts(50),
    )
  })

  const arbCount = fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1), fc.integer({ min: 1, max: 2 ** 32 - 1 }))
  const arbChildren = fc
    .uniqueArray(fc.record({ firstKey: fc.uint8Array({ minLength: 20, maxLength: 20 }), seed: fc.uint8Array({ minLength: 1, maxLength: 8 }), count: arbCount }), {
      minLength: 1,
      maxLength: 300,
      selector: (c) => hex(c.firstKey),
    })
    .map((xs) => sortAccounts(xs.map((x) => ({ key: x.firstKey, seed: x.seed, count: x.count }))))

  it('encodeBranch is the dag-cbor encoding of [level, [[firstKey, CID, count]...]]', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constantFrom(23, 24, 64)), arbChildren, (level, xs) => {
        const children: ChildRef[] = xs.map((x) => ({ firstKey: x.key, cid: cidOf(x.seed), count: x.count, level: level - 1 }))
        const block = encodeBranch(level, children)
        const expected = dagCbor.encode([level, children.map((c) => [c.firstKey, c.cid, c.count])])
        expect(hex(block.bytes)).toBe(hex(expected))
        expect(block.cid.toString()).toBe(cidOf(expected).toString())
        const back = decodeNode(block.cid, block.bytes, 20) as { level: number; children: ChildRef[] }
        expect(back.level).toBe(level)
        expect(back.children.map((c) => [hex(c.firstKey), c.cid.toString(), c.count])).toEqual(children.map((c) => [hex(c.firstKey), c.cid.toString(), c.count]))
      }),
      fcOpts(50),
    )
  })

  it('every node of a built tree is canonical dag-cbor', async () => {
    const accounts = fc.sample(arbAccounts(300, 300), { numRuns: 1, seed: 11 })[0]!
    const { snapshot, store } = await build(accounts)
    let n = 0
    for await (const c of snapshot.blockCids()) {
      const bytes = store.get(c)
      expect(hex(dagCbor.encode(dagCbor.decode(bytes)))).toBe(hex(bytes))
      expect(CID.asCID(c)?.code).toBe(0x71)
      n++
    }
    expect(n).toBeGreaterThan(10)
  })
})
