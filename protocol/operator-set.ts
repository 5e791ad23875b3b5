import { InvalidInputError } from '../snapshot/errors.ts'

export type Address = `0x${string}`

/**
 * Who may attest and how much each signature counts. Weights and threshold
 * are bigint: quorum arithmetic must be exact at the boundary.
 */
export interface OperatorSet {
  /** lower-case address -> weight (> 0) */
  weights: ReadonlyMap<Address, bigint>
  /** a certificate needs signed weight >= threshold */
  threshold: bigint
  totalWeight: bigint
}

/** More than two thirds of the total weight: floor(2 * total / 3) + 1. */
export function defaultThreshold(total: bigint): bigint {
  return (2n * total) / 3n + 1n
}

import { ADDRESS_PATTERN as ADDRESS } from '../snapshot/codec/address.ts'

function weightOf(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = BigInt(v)
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) v = BigInt(v)
  if (typeof v !== 'bigint' || v <= 0n || v >= 1n << 96n) throw new InvalidInputError(`${what} must be a positive integer below 2^96`)
  return v
}

/**
 * Parse an operator-set file: `{"operators": [{"address": "0x…", "weight": 1}, …], "threshold": 3}`
 * (threshold optional: default more than two thirds). Errors name the entry and the fix.
 */
export function parseOperatorSet(json: unknown): OperatorSet {
  const o = json as { operators?: unknown; threshold?: unknown }
  if (o === null || typeof o !== 'object' || !Array.isArray(o.operators) || o.operators.length === 0) {
    throw new InvalidInputError('operator set must be {"operators": [{"address": "0x…", "weight": 1}, …], "threshold"?: N} with at least one operator')
  }
  for (const k of Object.keys(o)) if (k !== 'operators' && k !== 'threshold') throw new InvalidInputError(`operator set has unknown key ${JSON.stringify(k)}; allowed: operators, threshold`)
  const weights = new Map<Address, bigint>()
  o.operators.forEach((e: unknown, i: number) => {
    const op = e as { address?: unknown; weight?: unknown }
    if (typeof op?.address !== 'string' || !ADDRESS.test(op.address)) throw new InvalidInputError(`operators[${i}].address must be a 0x-prefixed 20-byte address`)
    const addr = op.address.toLowerCase() as Address
    if (weights.has(addr)) throw new InvalidInputError(`operators[${i}] repeats ${addr}; list each operator once`)
    weights.set(addr, weightOf(op.weight ?? 1, `operators[${i}].weight`))
  })
  return makeOperatorSet(weights, o.threshold === undefined ? undefined : weightOf(o.threshold, 'threshold'))
}

export function makeOperatorSet(input: ReadonlyMap<Address, bigint>, threshold?: bigint): OperatorSet {
  const weights = new Map<Address, bigint>()
  for (const [a, w] of input) {
    const k = a.toLowerCase() as Address
    if (weights.has(k)) throw new InvalidInputError(`operator ${k} is listed twice (addresses are case-insensitive)`)
    if (w <= 0n) throw new InvalidInputError(`operator ${k} has weight ${w}; weights must be positive`)
    weights.set(k, w)
  }
  let total = 0n
  for (const w of weights.values()) total += w
  const t = threshold ?? defaultThreshold(total)
  if (t <= 0n || t > total) throw new InvalidInputError(`threshold ${t} must be between 1 and the total weight ${total}`)
  if (t * 2n <= total) throw new InvalidInputError(`threshold ${t} is not more than half of the total weight ${total}: two disjoint quorums could certify conflicting snapshots`)
  return { weights, threshold: t, totalWeight: total }
}

/** Weight of distinct known signers; each operator counts once. */
export function signedWeight(set: OperatorSet, signers: Iterable<string>): bigint {
  const seen = new Set<string>()
  let w = 0n
  for (const s of signers) {
    const a = s.toLowerCase() as Address
    if (seen.has(a)) continue
    seen.add(a)
    w += set.weights.get(a) ?? 0n
  }
  return w
}

export function reachesQuorum(set: OperatorSet, signers: Iterable<string>): boolean {
  return signedWeight(set, signers) >= set.threshold
}

export function operatorSetJSON(set: OperatorSet): { operators: { address: string; weight: string }[]; threshold: string } {
  return { operators: [...set.weights].sort(([a], [b]) => (a < b ? -1 : 1)).map(([address, w]) => ({ address, weight: w.toString() })), threshold: set.threshold.toString() }
}
