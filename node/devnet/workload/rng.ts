import { keccak_256 } from '@noble/hashes/sha3.js'

/** xoshiro128** over 32-bit integers, seeded from keccak(seed): the workload's only source of choices. */
export class Rng {
  private readonly s = new Uint32Array(4)

  constructor(seed: bigint, domain: string) {
    const h = keccak_256(Buffer.from(`${seed.toString(16)}:${domain}`, 'utf8'))
    for (let i = 0; i < 4; i++) this.s[i] = (h[4 * i]! << 24) | (h[4 * i + 1]! << 16) | (h[4 * i + 2]! << 8) | h[4 * i + 3]!
    if (this.s.every((x) => x === 0)) this.s[0] = 1
  }

  next(): number {
    const s = this.s
    let s0 = s[0]!
    let s1 = s[1]!
    let s2 = s[2]!
    let s3 = s[3]!
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 11)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return r
  }

  /** Uniform integer in [0, n), 0 < n <= 2^32. */
  int(n: number): number {
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n)
    for (;;) {
      const r = this.next()
      if (r < limit) return r % n
    }
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}
