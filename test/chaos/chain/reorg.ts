import type { ChainFixture } from '../../support/chain.ts'
import { readStoredState } from '../safety/read-store.ts'

/**
 * Chain faults on the real anvil: `anvil_reorg` replaces the newest `depth` blocks with new (empty)
 * ones, so every block hash at those heights changes and the workload's transactions in them are gone.
 */
export async function reorg(chain: ChainFixture, depth: number): Promise<{ head: bigint; orphaned: { height: bigint; hash: string }[] }> {
  const head = BigInt(await chain.rpc<string>('eth_blockNumber'))
  const orphaned: { height: bigint; hash: string }[] = []
  for (let h = head - BigInt(depth) + 1n; h <= head; h++) orphaned.push({ height: h, hash: (await chain.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${h.toString(16)}`, false])).hash.toLowerCase() })
  await chain.rpc('anvil_reorg', [depth, []])
  return { head, orphaned }
}

/** Canonical block hash at a height now. */
export async function canonicalHash(chain: ChainFixture, height: bigint): Promise<string | undefined> {
  const b = await chain.rpc<{ hash: string } | null>('eth_getBlockByNumber', [`0x${height.toString(16)}`, false])
  return b?.hash.toLowerCase()
}

/**
 * Attestations (sign-log entries) and certificates, across the nodes, whose block hash is not the
 * canonical one at their height: signed for a block the chain has since orphaned.
 */
export async function orphanedSignatures(chain: ChainFixture, dataDirs: string[], fromHeight = 0n): Promise<{ attestations: number; certificates: number; heights: string[] }> {
  const cache = new Map<bigint, string | undefined>()
  const canon = async (h: bigint): Promise<string | undefined> => {
    if (!cache.has(h)) cache.set(h, await canonicalHash(chain, h))
    return cache.get(h)
  }
  let attestations = 0
  let certificates = 0
  const heights = new Set<string>()
  for (const d of dataDirs) {
    const s = await readStoredState(d)
    for (const e of s.signLog) {
      const height = BigInt(e.checkpoint.split('/').at(-2) ?? '0')
      const hash = e.content.split('/')[0]!.toLowerCase()
      if (height < fromHeight) continue
      if ((await canon(height)) !== hash) {
        attestations++
        heights.add(height.toString())
      }
    }
    for (const c of s.certificates) {
      if (c.body.blockNumber < fromHeight) continue
      if ((await canon(c.body.blockNumber)) !== c.body.blockHash.toLowerCase()) certificates++
    }
  }
  return { attestations, certificates, heights: [...heights] }
}
