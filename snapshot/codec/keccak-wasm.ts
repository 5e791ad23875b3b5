/**
 * A keccak-f[1600] WebAssembly module, assembled here at load time (no binary
 * blob to audit: the bytes below are generated from the textbook round).
 *
 * Why not hash-wasm: its permutation keeps the state in linear memory and its
 * JS wrapper copies and allocates on every call; keccak is called 4-5 times
 * per account (record hash, ABI leaf, leaf hash, Merkle node). Here the state
 * lives in 25 i64 locals, and the Merkle tree's pair hashing (sort two
 * children, hash) runs as one call per batch of nodes.
 *
 * V8 first runs a module in its baseline compiler (here ~10x slower) and
 * tiers up hot functions in the background, so bulk hashing reaches full
 * speed after the first few thousand calls. Outputs are checked against
 * @noble/hashes in test/snapshot/encoder-equivalence.test.ts and by every
 * golden vector.
 *
 * Exports (all pointers are byte offsets into the exported memory):
 *   hash(ptr, len, out)       keccak256(mem[ptr..ptr+len]) -> mem[out..out+32]
 *   pairs(src, dst, count)    for k < count: a = src+64k, b = a+32;
 *                             mem[dst+32k..] = keccak256(min(a,b) || max(a,b))
 * `PAD` (136 bytes at offset 0) is the padding scratch block, the round
 * constants follow; callers use memory from `SCRATCH` on.
 */
const PAD = 0
const RC_TABLE = 136
export const SCRATCH = 512
const RATE = 136

// Round constants and rotation offsets (FIPS 202), lane index x + 5y.
const RC = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn, 0x0000000080000001n,
  0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n,
  0x000000000000800an, 0x800000008000000an, 0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
]
const RHO = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]

// Opcodes used below.
const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d,
  get: 0x20, set: 0x21,
  i32load8: 0x2d, i64load: 0x29, i64store: 0x37, i32store8: 0x3a,
  i32const: 0x41, i64const: 0x42,
  i32eqz: 0x45, i32ne: 0x47, i32ltu: 0x49, i32gtu: 0x4b, i32add: 0x6a, i32sub: 0x6b, i32xor: 0x73,
  i64and: 0x83, i64xor: 0x85, i64rotl: 0x89,
} as const
const VOID = 0x40
const I32 = 0x7f
const I64 = 0x7e

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}

function sleb64(v: bigint): number[] {
  const out: number[] = []
  let x = BigInt.asIntN(64, v)
  for (;;) {
    const b = Number(x & 0x7fn)
    x >>= 7n
    if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

function sleb32(v: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}
const mem = (op: number, offset: number, align = 0): number[] => [op, align, ...uleb(offset)]

/**
 * Locals of the permutation-bearing functions: params first, then the state
 * a0..a24, a second state e0..e24 (rounds alternate a -> e -> a), theta's
 * c0..c4 and d0..d4, one row b0..b4 of rho+pi output, then i32 temporaries.
 */
class Fn {
  readonly code: number[] = []
  readonly params: number
  constructor(params: number) {
    this.params = params
  }
  a = (i: number): number => this.params + i
  e = (i: number): number => this.params + 25 + i
  c = (i: number): number => this.params + 50 + i
  d = (i: number): number => this.params + 55 + i
  b = (i: number): number => this.params + 60 + i
  /** i32 temporaries after the 65 i64 locals */
  t = (i: number): number => this.params + 65 + i
  emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b)
    return this
  }
  get(l: number): this {
    return this.emit(OP.get, ...uleb(l))
  }
  set(l: number): this {
    return this.emit(OP.set, ...uleb(l))
  }
  i32(v: number): this {
    return this.emit(OP.i32const, ...sleb32(v))
  }

  zeroState(): this {
    for (let i = 0; i < 25; i++) this.emit(OP.i64const, 0).set(this.a(i))
    return this
  }

  /** a[lane] ^= load64(ptrLocal + offset) for lanes [from, to). */
  absorb(ptrLocal: number, from: number, to: number, offset = 0): this {
    for (let i = from; i < to; i++) this.get(this.a(i)).get(ptrLocal).emit(...mem(OP.i64load, offset + 8 * (i - from), 0), OP.i64xor).set(this.a(i))
    return this
  }

  xorConst(lane: number, v: bigint): this {
    return this.get(this.a(lane)).emit(OP.i64const, ...sleb64(v), OP.i64xor).set(this.a(lane))
  }

  /**
   * The 24 rounds as a loop of round pairs (a -> e, e -> a); round constants
   * are read from the RC table in memory. Unrolling all 24 made the module
   * 24x larger and slow to compile for a gain lost in the noise.
   */
  permute(): this {
    // Every function has three params, so the locals (and these bytes) are the same everywhere.
    if (permuteCode === undefined) permuteCode = new Fn(this.params).permuteBody().code
    for (const b of permuteCode) this.code.push(b)
    return this
  }

  private permuteBody(): this {
    const r = this.t(0)
    this.i32(0).set(r)
    this.emit(OP.loop, VOID)
    this.round(this.a, this.e, 0)
    this.round(this.e, this.a, 8)
    // r += 16 (two constants); continue while r < 24 * 8
    this.get(r).i32(16).emit(OP.i32add).set(r)
    this.get(r).i32(8 * 24).emit(OP.i32ltu, OP.brIf, 0, OP.end)
    return this
  }

  /**
   * One round from state S into state T. Theta's column parities C and D
   * first; then, one output row at a time, the five rho+pi lanes of that row
   * and chi over them (so only five of them are live at once, which is what
   * the register allocator needs), with iota folded into lane 0.
   * rho+pi sends lane (x, y) to (y, 2x+3y); output lane (col, row) therefore
   * comes from x = 3(row - 3col) mod 5, y = col.
   */
  private round(S: (i: number) => number, T: (i: number) => number, rcOffset: number): void {
    for (let x = 0; x < 5; x++) {
      this.get(S(x))
      for (let y = 1; y < 5; y++) this.get(S(x + 5 * y)).emit(OP.i64xor)
      this.set(this.c(x))
    }
    for (let x = 0; x < 5; x++) {
      this.get(this.c((x + 4) % 5)).get(this.c((x + 1) % 5)).emit(OP.i64const, 1, OP.i64rotl, OP.i64xor).set(this.d(x))
    }
    for (let row = 0; row < 5; row++) {
      for (let col = 0; col < 5; col++) {
        const x = (((3 * (row - 3 * col)) % 5) + 5) % 5
        const i = x + 5 * col
        this.get(S(i)).get(this.d(x)).emit(OP.i64xor)
        if (RHO[i] !== 0) this.emit(OP.i64const, ...sleb32(RHO[i]!), OP.i64rotl)
        this.set(this.b(col))
      }
      for (let col = 0; col < 5; col++) {
        // T = B ^ (~B[col+1] & B[col+2])
        this.get(this.b(col))
        this.get(this.b((col + 1) % 5)).emit(OP.i64const, 0x7f, OP.i64xor)
        this.get(this.b((col + 2) % 5)).emit(OP.i64and, OP.i64xor)
        if (row === 0 && col === 0) this.get(this.t(0)).emit(...mem(OP.i64load, RC_TABLE + rcOffset, 3), OP.i64xor)
        this.set(T(col + 5 * row))
      }
    }
  }

  /** mem[outLocal..+32] = first four lanes. */
  squeeze(outLocal: number): this {
    for (let i = 0; i < 4; i++) this.get(outLocal).get(this.a(i)).emit(...mem(OP.i64store, 8 * i, 0))
    return this
  }

  body(i32Temps: number): number[] {
    const locals = [...uleb(2), ...uleb(65), I64, ...uleb(i32Temps), I32]
    const body = [...locals, ...this.code, OP.end]
    return [...uleb(body.length), ...body]
  }
}

let permuteCode: number[] | undefined

/** hash(ptr, len, out): absorb full blocks from memory, pad the tail in PAD. */
function hashFn(): number[] {
  const f = new Fn(3)
  const [ptr, len, out] = [0, 1, 2]
  f.zeroState()
  // while (len >= RATE) { absorb(ptr); permute; ptr += RATE; len -= RATE }
  f.emit(OP.block, VOID, OP.loop, VOID)
  f.get(len).i32(RATE).emit(OP.i32ltu, OP.brIf, 1)
  f.absorb(ptr, 0, 17).permute()
  f.get(ptr).i32(RATE).emit(OP.i32add).set(ptr)
  f.get(len).i32(RATE).emit(OP.i32sub).set(len)
  f.emit(OP.br, 0, OP.end, OP.end)
  // PAD = tail || 0x01 || 0... || 0x80 (keccak padding, not SHA-3's 0x06)
  f.i32(PAD).i32(0).i32(RATE).emit(0xfc, 0x0b, 0x00) // memory.fill
  f.i32(PAD).get(ptr).get(len).emit(0xfc, 0x0a, 0x00, 0x00) // memory.copy
  f.get(len).i32(PAD).emit(OP.i32add).i32(0x01).emit(...mem(OP.i32store8, 0))
  f.i32(PAD).emit(...mem(OP.i32load8, RATE - 1)).i32(0x80).emit(OP.i32xor).set(f.t(1))
  f.i32(PAD).get(f.t(1)).emit(...mem(OP.i32store8, RATE - 1))
  f.i32(PAD).set(ptr)
  f.absorb(ptr, 0, 17).permute().squeeze(out)
  return f.body(2)
}

/**
 * One sorted pair: a, b are pointers to 32-byte hashes; absorbs min || max
 * (64 bytes) plus padding in a single block.
 */
function emitPair(f: Fn, aLocal: number, bLocal: number, outLocal: number, j: number, x: number, y: number): void {
  // j = 0; loop { x = a[j]; y = b[j]; if (x != y) break; j++; if (j < 32) continue }
  f.i32(0).set(j)
  f.emit(OP.block, VOID, OP.loop, VOID)
  f.get(aLocal).get(j).emit(OP.i32add, ...mem(OP.i32load8, 0)).set(x)
  f.get(bLocal).get(j).emit(OP.i32add, ...mem(OP.i32load8, 0)).set(y)
  f.get(x).get(y).emit(OP.i32ne, OP.brIf, 1)
  f.get(j).i32(1).emit(OP.i32add).set(j)
  f.get(j).i32(32).emit(OP.i32ltu, OP.brIf, 0)
  f.emit(OP.end, OP.end)
  f.zeroState()
  // x, y: the first differing bytes (equal if a = b); b comes first iff x > y
  f.get(x).get(y).emit(OP.i32gtu, OP.if, VOID)
  f.absorb(bLocal, 0, 4).absorb(aLocal, 4, 8)
  f.emit(OP.else)
  f.absorb(aLocal, 0, 4).absorb(bLocal, 4, 8)
  f.emit(OP.end)
  f.xorConst(8, 0x01n).xorConst(16, 0x8000000000000000n)
  f.permute().squeeze(outLocal)
}

function pairsFn(): number[] {
  const f = new Fn(3)
  const [src, dst, count] = [0, 1, 2]
  const [b, j, x, y] = [f.t(1), f.t(2), f.t(3), f.t(4)]
  f.emit(OP.block, VOID, OP.loop, VOID)
  f.get(count).emit(OP.i32eqz, OP.brIf, 1)
  f.get(src).i32(32).emit(OP.i32add).set(b)
  emitPair(f, src, b, dst, j, x, y)
  f.get(src).i32(64).emit(OP.i32add).set(src)
  f.get(dst).i32(32).emit(OP.i32add).set(dst)
  f.get(count).i32(1).emit(OP.i32sub).set(count)
  f.emit(OP.br, 0, OP.end, OP.end)
  return f.body(5)
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload]
}

const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'latin1')]

function moduleBytes(): Uint8Array {
  const type = [0x01, 0x60, 3, I32, I32, I32, 0] // one type: (i32, i32, i32) -> ()
  const funcs = [hashFn(), pairsFn()]
  const exports = [
    [...name('memory'), 0x02, 0],
    [...name('hash'), 0x00, 0],
    [...name('pairs'), 0x00, 1],
  ]
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, type),
    ...section(3, [funcs.length, ...funcs.map(() => 0)]),
    ...section(5, [1, 0x00, 1]), // one memory, min 1 page, no max
    ...section(7, [exports.length, ...exports.flat()]),
    ...section(10, [funcs.length, ...funcs.flat()]),
  ])
}

// The project's lib settings (es2023, no DOM) do not declare WebAssembly; these are the parts used.
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: object }
}

export interface KeccakExports {
  memory: WasmMemory
  hash(ptr: number, len: number, out: number): void
  pairs(src: number, dst: number, count: number): void
}

export function instantiateKeccak(): KeccakExports {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), {})
  const exports = instance.exports as unknown as KeccakExports
  const view = new DataView(exports.memory.buffer)
  RC.forEach((c, i) => view.setBigUint64(RC_TABLE + 8 * i, c, true))
  return exports
}
