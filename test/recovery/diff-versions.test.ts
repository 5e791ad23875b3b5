/**
 * `ark diff` across versions of one record schema (issue 18): a v2 snapshot
 * against a v3 one of the same deployment is compared (each side read with
 * its own schema): identical records are no change, the market-state fields
 * v3 adds (asset symbols) are reported; snapshots of different schema ids
 * are refused with a message that says why and what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeCar } from '../../snapshot/car/car.ts'
import { derivativesSchemaV2 } from '../../snapshot/schema/derivatives-v2.ts'
import { derivativesSchemaV3 } from '../../snapshot/schema/derivatives-v3.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { checkComparable } from '../../snapshot/state/diff-summary.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { GOLDEN_ACCOUNTS } from '../snapshot/golden-fixture.ts'
import { GOLDEN_MARKETS_V2, GOLDEN_META_V2 } from '../snapshot/golden-derivatives-v2-fixture.ts'
import { GOLDEN_MARKETS_V3, GOLDEN_META_V3 } from '../snapshot/golden-derivatives-v3-fixture.ts'
import { runArk } from '../support/recovery.ts'

let dir: string
let v2: Snapshot<unknown, unknown>
let v3: Snapshot<unknown, unknown>

async function carFile(name: string, s: Snapshot<unknown, unknown>, store: MemoryBlockStore): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([s.cid], s.blockCids(), store)) chunks.push(c)
  const path = join(dir, name)
  await writeFile(path, Buffer.concat(chunks))
  return path
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-diff-versions-'))
  const store = new MemoryBlockStore()
  v2 = (await buildSnapshot({ schema: derivativesSchemaV2, meta: GOLDEN_META_V2, markets: GOLDEN_MARKETS_V2, records: GOLDEN_ACCOUNTS, store })).snapshot as Snapshot<unknown, unknown>
  // v3: the same accounts but the last one, at the same block
  v3 = (await buildSnapshot({ schema: derivativesSchemaV3, meta: GOLDEN_META_V3, markets: GOLDEN_MARKETS_V3, records: GOLDEN_ACCOUNTS.slice(0, -1), store })).snapshot as Snapshot<unknown, unknown>
  await carFile('v2.car', v2, store)
  await carFile('v3.car', v3, store)
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('ark diff across schema versions', () => {
  it('compares a v2 snapshot with a v3 one: records by their values, market state field by field', async () => {
    const r = await runArk(['diff', join(dir, 'v2.car'), join(dir, 'v3.car')])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const summary = lines.at(-1)!.summary as { added: number; removed: number; changed: number; marketChanges: { path: string; before: unknown; after: unknown }[] }
    expect(summary).toMatchObject({ added: 0, removed: 1, changed: 0 })
    expect(lines).toHaveLength(2)
    expect(lines[0]!.kind).toBe('removed')
    // v3 adds each asset's symbol to the market state
    const symbols = summary.marketChanges.filter((c) => c.path.endsWith('.symbol'))
    expect(symbols).toHaveLength(GOLDEN_MARKETS_V3.assets.length)
    expect(symbols.map((c) => c.after)).toEqual(GOLDEN_MARKETS_V3.assets.map((a) => a.symbol))
    expect(symbols.every((c) => c.before === null)).toBe(true)
  })

  it('refuses snapshots of different schema ids, saying why', () => {
    const other = new Snapshot({ cid: v3.cid, root: { ...v3.root, schema: { ...v3.root.schema, id: 'ark.erc20.balance' } }, store: v3.store, schema: v3.schema })
    expect(() => checkComparable(v2, other)).toThrow(/different record schemas \(ark\.derivatives\.account v2 vs ark\.erc20\.balance v3\).*cannot be compared field by field.*two versions of one schema/)
  })

  it('still refuses two deployments', async () => {
    const store = new MemoryBlockStore()
    const elsewhere = (await buildSnapshot({ schema: derivativesSchemaV3, meta: { ...GOLDEN_META_V3, block: { ...GOLDEN_META_V3.block, chainId: GOLDEN_META_V3.block.chainId + 1n } }, markets: GOLDEN_MARKETS_V3, records: GOLDEN_ACCOUNTS, store })).snapshot as Snapshot<unknown, unknown>
    const r = await runArk(['diff', join(dir, 'v2.car'), await carFile('elsewhere.car', elsewhere, store)])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/different chains/)
  })
})
