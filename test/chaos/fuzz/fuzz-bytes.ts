import fc from 'fast-check'
import type { FuzzTarget } from './targets.ts'

/** Hostile bytes: mostly valid encodings with a few mutations (deep paths), some pure noise. */
export function hostileBytes(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const op = fc.tuple(fc.nat(5), fc.nat(), fc.integer({ min: 0, max: 255 }))
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(op, { minLength: 1, maxLength: 6 })).map(([seed, ops]) => {
    let b = Uint8Array.from(seed)
    for (const [kind, at, byte] of ops) {
      const i = b.length === 0 ? 0 : at % b.length
      if (kind === 0) b[i] = byte
      else if (kind === 1) b = b.subarray(0, i)
      else if (kind === 2) b = Uint8Array.from([...b.subarray(0, i), byte, ...b.subarray(i)])
      else if (kind === 3) b[i] = (b[i] ?? 0) ^ (1 << (byte & 7))
      else if (kind === 4) b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i, i + 1 + (byte & 31)), ...b.subarray(i)])
      // a CBOR length head claiming a huge size at a random place
      else b = Uint8Array.from([...b.subarray(0, i), 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte, ...b.subarray(i)])
    }
    return b
  })
  return fc.oneof({ weight: 5, arbitrary: mutated }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1536 }) })
}

export interface TargetFigures {
  target: string
  cases: number
  refused: number
  crashes: number
  /** a plain Error from a library (e.g. the CBOR decoder) escaping instead of the target's own refusal class: handled by callers, but untyped */
  untyped: number
  /** the slowest input's time, re-measured (best of five) */
  maxCaseMs: number
  /** that input's time when first seen (includes scheduler noise) */
  firstSeenMaxMs?: number
  /** the first crashing input (hex) and its error, to reproduce */
  firstCrash?: { input: string; error: string }
  firstUntyped?: { input: string; error: string }
}

/** A programming error (TypeError, RangeError, …) is a crash; a plain Error is a library's refusal that was not wrapped. */
function isUntyped(err: unknown): boolean {
  return err instanceof Error && err.constructor === Error
}

/**
 * Feed `cases` hostile inputs to one target. Each case is timed (a case slower than the event-loop
 * budget blocks the loop at least that long: targets are synchronous or CPU-bound); the loop is let
 * run every ~20 ms so monitorEventLoopDelay sees the rest.
 */
export async function fuzzTarget(t: FuzzTarget, cases: number, seed: number): Promise<TargetFigures> {
  const f: TargetFigures = { target: t.name, cases: 0, refused: 0, crashes: 0, untyped: 0, maxCaseMs: 0 }
  let slowest: Uint8Array | undefined
  let slowestMs = 0
  // warm up (JIT, the secp256k1 tables built on first use) before anything is timed
  for (let k = 0; k < 3; k++)
    for (const s of t.seeds)
      try {
        await t.run(s)
      } catch {
        // a seed may be refused by this target (it is another target's valid input)
      }
  let sliceStart = performance.now()
  await fc.assert(
    fc.asyncProperty(hostileBytes(t.seeds), async (bytes) => {
      const start = performance.now()
      try {
        const r = t.run(bytes)
        if (r instanceof Promise) await r
      } catch (err) {
        if (t.expected(err)) f.refused++
        else if (isUntyped(err)) {
          f.untyped++
          f.firstUntyped ??= { input: Buffer.from(bytes).toString('hex').slice(0, 400), error: `${(err as Error)?.name}: ${(err as Error)?.message}`.slice(0, 300) }
        } else {
          f.crashes++
          f.firstCrash ??= { input: Buffer.from(bytes).toString('hex').slice(0, 400), error: `${(err as Error)?.name}: ${(err as Error)?.message}`.slice(0, 300) }
        }
      }
      const end = performance.now()
      if (end - start > slowestMs) {
        slowestMs = end - start
        slowest = bytes
      }
      f.cases++
      if (end - sliceStart > 20) {
        await new Promise((r) => setImmediate(r))
        sliceStart = performance.now()
      }
    }),
    { numRuns: cases, seed, endOnFailure: true },
  )
  // on a shared machine one slow case may be another process's time slice or a GC pause: the slowest
  // input is timed again (best of five), and that is the figure
  if (slowest !== undefined) {
    let best = Infinity
    for (let k = 0; k < 5; k++) {
      const s = performance.now()
      try {
        await t.run(slowest)
      } catch {
        // refused again: only the time matters here
      }
      best = Math.min(best, performance.now() - s)
    }
    f.maxCaseMs = Math.round(best * 10) / 10
    f.firstSeenMaxMs = Math.round(slowestMs * 10) / 10
  }
  return f
}
