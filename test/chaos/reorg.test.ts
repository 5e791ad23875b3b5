/** Scenario 8 (short): reorgs within and beyond the confirmations under a running cluster. */
import { describe, expect, it } from 'vitest'
import { deepReorg } from './scenarios/deep-reorg.ts'
import { recorded, shortRun } from './support.ts'

describe('chaos: deep reorg', () => {
  // One run checks both (a second run of the same scenario cost CI 2+ minutes for nothing new).
  // "Every node survives" failed before the scheduler fix (chaos found it): a reorg between the node's
  // `latest` read and its header read made ChainSource.finalizedHead throw a retryable NOT_FINAL, the run
  // loop did not catch it, and the node stopped on an error. The unit-level regression test is
  // test/network/checkpoint-retry.test.ts.
  it('no signature for an orphaned block within the confirmations; never two certificates at one height; every node survives', { timeout: 420_000 }, async () => {
    const r = recorded(await deepReorg.run(shortRun()))
    expect(r.figures.orphanedAttestationsShallow).toBe(0)
    expect(r.figures.orphanedCertificatesShallow).toBe(0)
    expect(r.safety?.conflictingCertificates).toBe(0)
    expect(r.safety?.doubleSigns).toBe(0)
    expect(r.safety?.incompleteSnapshots).toBe(0)
    expect(r.failures).toEqual([])
  })
})
