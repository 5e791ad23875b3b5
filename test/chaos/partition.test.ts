/** Scenario 1 (short): a split with both sides below the threshold, then heal (see scenarios/partition.ts). */
import { describe, expect, it } from 'vitest'
import { partition43 } from './scenarios/partition-4-3.ts'
import { recorded, shortRun } from './support.ts'

describe('chaos: partition', () => {
  it('no certificate on either side of the split, none conflicting; certificates on every node after the heal', { timeout: 360_000 }, async () => {
    const r = recorded(await partition43.run(shortRun()))
    expect(r.failures).toEqual([])
    expect(r.figures.certifiedDuringSplitMajority).toBe(0)
    expect(r.figures.certifiedDuringSplitMinority).toBe(0)
    expect(r.safety?.conflictingCertificates).toBe(0)
    expect(r.safety?.doubleSigns).toBe(0)
  })
})
