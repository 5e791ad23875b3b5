/** Scenario 4 (short): a 3-minute churn soak (SIGKILL + restart, SIGSTOP/SIGCONT, disconnect, one node at a time). */
import { describe, expect, it } from 'vitest'
import { churn } from './scenarios/churn.ts'
import { shortRun } from './support.ts'

describe('chaos: churn soak', () => {
  // Fails today on the safety check, not on liveness: after ~65 certificates (retention.keepLast 64),
  // the newest certified snapshots (signed by every operator) were whole on one node only; the three
  // nodes that were never faulted lacked blocks of them. Likely retention's garbage collection racing
  // with derivation (node/archive/node.ts applyRetention, node/archive/retention.ts): the kept set is
  // computed before the newest snapshot exists, so blocks it shares with a dropped snapshot are
  // deleted. Un-skip once that is fixed; `npm run chaos -- churn` reproduces it.
  it('every checkpoint certified while more than 2/3 of the weight is up; no conflicting signature; DAGs whole (needs the retention fix)', { timeout: 480_000 }, async () => {
    const r = await churn.run(shortRun({ minutes: 3 }))
    expect(r.failures).toEqual([])
    expect(r.figures.certifiedSharePct).toBe(100)
    expect(r.safety?.doubleSigns).toBe(0)
    expect(r.safety?.conflictingCertificates).toBe(0)
  })
})
