/** Scenario 11 (short): >= 10,000 fast-check cases over decoders, validators, codecs and HTTP routes. */
import { describe, expect, it } from 'vitest'
import { fuzz } from './scenarios/fuzz.ts'
import { recorded, shortRun } from './support.ts'

describe('chaos: fuzzing', () => {
  it('no crash, no uncaught exception, no input blocking the event loop over 100 ms', { timeout: 240_000 }, async () => {
    const r = recorded(await fuzz.run(shortRun()))
    expect(r.failures).toEqual([])
    expect(r.figures.cases as number).toBeGreaterThanOrEqual(10_000)
    expect(r.figures.crashes).toBe(0)
    expect(r.figures.uncaught).toBe(0)
  })
})
