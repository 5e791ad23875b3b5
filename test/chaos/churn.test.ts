/** Scenario 4 (short): a 3-minute churn soak (SIGKILL + restart, SIGSTOP/SIGCONT, disconnect, one node at a time). */
import { describe, expect, it } from 'vitest'
import { churn } from './scenarios/churn.ts'
import { recorded, shortRun } from './support.ts'

describe('chaos: churn soak', () => {
  // Failed before the retention fix (chaos found it): garbage collection walked the kept snapshots while
  // one was still being fetched, took the blocks below an absent block as unreachable and deleted those a
  // dropped snapshot shared; the certified snapshot was then whole on one node only. The unit regression
  // test is test/node/retention.test.ts ("retention while a kept snapshot is still arriving").
  it('every checkpoint certified while more than 2/3 of the weight is up; no conflicting signature; DAGs whole', { timeout: 480_000 }, async () => {
    const r = recorded(await churn.run(shortRun({ minutes: 3 })))
    expect(r.failures).toEqual([])
    expect(r.figures.certifiedSharePct).toBe(100)
    expect(r.safety?.doubleSigns).toBe(0)
    expect(r.safety?.conflictingCertificates).toBe(0)
  })
})
