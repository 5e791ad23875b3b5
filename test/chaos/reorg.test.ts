/** Scenario 8 (short): reorgs within and beyond the confirmations under a running cluster. */
import { describe, expect, it } from 'vitest'
import { deepReorg } from './scenarios/deep-reorg.ts'
import { shortRun } from './support.ts'

describe('chaos: deep reorg', () => {
  it('no signature for an orphaned block within the confirmations; never two certificates at one height', { timeout: 420_000 }, async () => {
    const r = await deepReorg.run(shortRun())
    expect(r.figures.orphanedAttestationsShallow).toBe(0)
    expect(r.figures.orphanedCertificatesShallow).toBe(0)
    expect(r.safety?.conflictingCertificates).toBe(0)
    expect(r.safety?.doubleSigns).toBe(0)
    expect(r.safety?.incompleteSnapshots).toBe(0)
    // every other goal, except a node stopping on an error (the known bug below)
    expect(r.failures.filter((f) => !/^node \d+ stopped on an error/.test(f))).toEqual([])
  })

  // Failed before the scheduler fix (chaos found it): a reorg between the node's `latest` read and its
  // header read made ChainSource.finalizedHead throw a retryable NOT_FINAL, the run loop did not catch it,
  // and the node stopped on an error. The unit-level regression test is test/network/checkpoint-retry.test.ts.
  it('every node survives reorgs', { timeout: 420_000 }, async () => {
    const r = await deepReorg.run(shortRun())
    expect(r.failures).toEqual([])
  })
})
