import { appendFileSync } from 'node:fs'
import type { RunOptions, ScenarioResult } from './scenario.ts'

/**
 * The short versions `npm test` runs. Four nodes by default (both sides of a 2|2 split are below the
 * 3-of-4 threshold, like 4|3 of 7): seven node processes do not fit the CI time budget on two cores.
 * ARK_CHAOS_NODES=7 runs them at full size; ARK_CHAOS_LOG=1 prints progress; ARK_CHAOS_OUT=<file>
 * appends each result's JSON line to that file (`npm run chaos -- --from <file>` makes RESULTS.md of it).
 */
export function shortRun(extra: Partial<RunOptions> = {}): RunOptions {
  return {
    short: true,
    nodes: Number(process.env.ARK_CHAOS_NODES ?? 4),
    ...(process.env.ARK_CHAOS_LOG === undefined ? {} : { log: (l: string) => console.log(l) }),
    ...extra,
  }
}

/** The scenario's result, appended to $ARK_CHAOS_OUT when set. */
export function recorded(r: ScenarioResult): ScenarioResult {
  if (process.env.ARK_CHAOS_OUT !== undefined) appendFileSync(process.env.ARK_CHAOS_OUT, `${JSON.stringify(r)}\n`)
  return r
}
