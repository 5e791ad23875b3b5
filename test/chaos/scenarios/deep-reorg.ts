import { orphanedSignatures, reorg } from '../chain/reorg.ts'
import { sleep, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

const CONFIRMATIONS = 2

/**
 * Scenario 8: reorganisations under a running cluster (`anvil_reorg` on the real chain).
 * Phase 1: reorgs no deeper than the confirmations: no node may sign or certify an orphaned block hash.
 * Phase 2: reorgs deeper than the confirmations (blocks some nodes already derived and signed): signing
 * an orphaned hash cannot be prevented, but never two certificates at one height, never an operator
 * signing two contents for one checkpoint (the safety check) — counted, with the orphaned signatures.
 */
export const deepReorg: Scenario = {
  id: 'deep-reorg',
  title: 'Deep reorg',
  run(o) {
    const rounds = o.short ? 3 : 20
    return withCluster('deep-reorg', { operators: o.nodes ?? 7, confirmations: CONFIRMATIONS, interval: 4 }, o, async (c, goals) => {
      c.mine()
      await baseline(c, 1, 120_000)
      const from = await c.head()
      let shallowBlocks = 0
      for (let k = 0; k < rounds; k++) {
        await sleep(4_000)
        const r = await reorg(c.chain, CONFIRMATIONS)
        shallowBlocks += r.orphaned.length
      }
      await sleep(6_000)
      const shallow = await orphanedSignatures(c.chain, c.running.map((i) => c.dataDirs[i]!), from)
      o.log?.(`deep-reorg: shallow phase: ${JSON.stringify(shallow)}`)
      const deepFrom = await c.head()
      const depth = CONFIRMATIONS + 6
      let deepBlocks = 0
      for (let k = 0; k < rounds; k++) {
        await sleep(6_000)
        const r = await reorg(c.chain, depth)
        deepBlocks += r.orphaned.length
      }
      await sleep(8_000)
      await c.stopMining()
      const deep = await orphanedSignatures(c.chain, c.running.map((i) => c.dataDirs[i]!), deepFrom)
      const certifiedAfter = new Set(c.running.flatMap((i) => [...c.logs[i]!.certified.keys()].filter((b) => b > deepFrom)))
      goals.expect(shallow.attestations === 0 && shallow.certificates === 0, `no signature for an orphaned block when the reorg is within the confirmations (${JSON.stringify(shallow)})`)
      goals.expect(certifiedAfter.size > 0, 'the cluster keeps certifying through deep reorgs')
      return {
        nodes: c.n,
        confirmations: CONFIRMATIONS,
        shallowReorgs: rounds,
        shallowDepth: CONFIRMATIONS,
        shallowOrphanedBlocks: shallowBlocks,
        orphanedAttestationsShallow: shallow.attestations,
        orphanedCertificatesShallow: shallow.certificates,
        deepReorgs: rounds,
        deepDepth: depth,
        deepOrphanedBlocks: deepBlocks,
        orphanedAttestationsDeep: deep.attestations,
        orphanedCertificatesDeep: deep.certificates,
        checkpointsCertifiedDuringDeepPhase: certifiedAfter.size,
        skippedOrRefusedCheckpoints: c.running.reduce((a, i) => a + c.logs[i]!.errors, 0),
      }
    })
  },
}
