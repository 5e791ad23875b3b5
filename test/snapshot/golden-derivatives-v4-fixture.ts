/**
 * The fixed state behind test/vectors/snapshot-derivatives-v4.json (record
 * schema ark.derivatives.account version 4): v3's golden accounts and market
 * state; the stateRoot composes the account tree (v4 leaves, with positions)
 * and the market tree (tagged asset/market/block leaves). Generated once by
 * running computeDerivativesV4Vectors() and committing the output. NEVER
 * regenerate the file to make a test pass.
 */
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { abiValueToJSON } from '../../snapshot/proof/format.ts'
import { proveAccount } from '../../snapshot/proof/prove.ts'
import { marketLeafProof } from '../../snapshot/merkle/composed-root.ts'
import { derivativesSchemaV4 } from '../../snapshot/schema/derivatives-v4.ts'
import { computeMarketVectors } from './golden-derivatives-v2-fixture.ts'
import { GOLDEN_MARKETS_V3, GOLDEN_META_V3 } from './golden-derivatives-v3-fixture.ts'
import { GOLDEN_ACCOUNTS } from './golden-fixture.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { hexToBytes } from '../../snapshot/codec/hex.ts'

export const GOLDEN_META_V4 = { ...GOLDEN_META_V3, adapter: { ...GOLDEN_META_V3.adapter, version: '4' } }

export async function computeDerivativesV4Vectors(): Promise<Record<string, unknown>> {
  const base = await computeMarketVectors(derivativesSchemaV4, GOLDEN_MARKETS_V3, GOLDEN_META_V4)
  const { snapshot } = await buildSnapshot({ schema: derivativesSchemaV4, meta: GOLDEN_META_V4, markets: GOLDEN_MARKETS_V3, records: GOLDEN_ACCOUNTS, store: new MemoryBlockStore() })
  const accountsRoot = (await snapshot.merkle())?.root ?? null
  const mt = (await snapshot.marketsTree())!
  const accountProofs: { value: unknown[]; proof: string[] }[] = []
  for (const a of GOLDEN_ACCOUNTS) {
    const p = await proveAccount(snapshot, hexToBytes(a.key))
    accountProofs.push({ value: p.value, proof: p.proof })
  }
  return {
    ...base,
    composition: { accountsRoot, marketsRoot: bytesToHex(mt.root) },
    marketLeaves: mt.leaves.map((l, i) => ({ kind: l.kind, encoding: [...l.encoding], value: l.values.map(abiValueToJSON), leafHash: bytesToHex(l.hash), proof: marketLeafProof(mt, i, accountsRoot).map(bytesToHex) })),
    accountProofs,
  }
}
