import { addressToBytes, hexToBytes } from '../codec/hex.ts'
import { writeWord256 } from '../codec/cbor-write.ts'
import { checkInt, rangeOf, type IntKind } from '../codec/int.ts'
import { InvalidInputError } from '../errors.ts'

/**
 * Solidity `abi.encode` for the parameter types a proof leaf may use: address,
 * bool, bytesN, uintN, intN, and dynamic arrays of those. Written for speed
 * (one allocation per call, none with abiEncodeScratch); checked against viem's encoder in tests.
 */
interface BaseType {
  kind: 'address' | 'bool' | 'bytesN' | 'int'
  signed: boolean
  bits: number
  size: number
  intKind?: IntKind
}

const TWO_256 = 1n << 256n

interface ParamType {
  base: BaseType
  array: boolean
}

const cache = new Map<string, ParamType>()

export function parseAbiType(t: string): ParamType {
  let p = cache.get(t)
  if (p !== undefined) return p
  const array = t.endsWith('[]')
  const b = array ? t.slice(0, -2) : t
  let base: BaseType
  let m: RegExpExecArray | null
  if (b === 'address') base = { kind: 'address', signed: false, bits: 160, size: 20 }
  else if (b === 'bool') base = { kind: 'bool', signed: false, bits: 8, size: 1 }
  else if ((m = /^bytes([1-9][0-9]?)$/.exec(b)) !== null && Number(m[1]) >= 1 && Number(m[1]) <= 32) base = { kind: 'bytesN', signed: false, bits: 0, size: Number(m[1]) }
  else if ((m = /^(u?)int([1-9][0-9]{0,2})$/.exec(b)) !== null && Number(m[2]) % 8 === 0 && Number(m[2]) >= 8 && Number(m[2]) <= 256) base = { kind: 'int', signed: m[1] === '', bits: Number(m[2]), size: 32, intKind: Object.freeze({ signed: m[1] === '', bits: Number(m[2]) }) }
  else throw new InvalidInputError(`ABI type ${JSON.stringify(t)} is not supported in proof leaves; use address, bool, bytesN, uintN, intN or arrays of them`)
  p = { base, array }
  cache.set(t, p)
  return p
}

/** The value's name in errors, built only when one is thrown (j < 0: not an array element). */
const label = (types: readonly string[], i: number, j: number): string => (j < 0 ? `ABI value ${i} (${types[i]})` : `ABI value ${i}[${j}] (${types[i]})`)

function writeBase(out: Uint8Array, view: DataView, o: number, t: BaseType, v: unknown, types: readonly string[], i: number, j: number): void {
  switch (t.kind) {
    case 'address': {
      const a = v instanceof Uint8Array ? v : addressToBytes(String(v), label(types, i, j))
      if (a.length !== 20) throw new InvalidInputError(`${label(types, i, j)} must be a 20-byte address`)
      out.set(a, o + 12)
      return
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new InvalidInputError(`${label(types, i, j)} must be a boolean`)
      out[o + 31] = v ? 1 : 0
      return
    case 'bytesN': {
      const a = v instanceof Uint8Array ? v : hexToBytes(String(v), label(types, i, j))
      if (a.length !== t.size) throw new InvalidInputError(`${label(types, i, j)} must be ${t.size} bytes`)
      out.set(a, o)
      return
    }
    case 'int': {
      const r = rangeOf(t.intKind!)
      const x = typeof v === 'bigint' && v >= r[0] && v <= r[1] ? v : checkInt(v, t.intKind!, label(types, i, j))
      // two's complement in 256 bits
      writeWord256(x < 0n ? x + TWO_256 : x, out, o, view)
      return
    }
  }
}

/** Parsed types of the last list seen: a schema passes the same leafEncoding for every leaf. */
let lastTypes: readonly string[] = []
let lastParsed: ParamType[] = []

function parseAll(types: readonly string[]): ParamType[] {
  if (types.length === lastTypes.length) {
    let same = true
    for (let i = 0; i < types.length && same; i++) same = types[i] === lastTypes[i]
    if (same) return lastParsed
  }
  const parsed = types.map(parseAbiType)
  lastTypes = [...types]
  lastParsed = parsed
  return parsed
}

function checkCount(types: readonly string[], values: readonly unknown[]): void {
  if (types.length !== values.length) throw new InvalidInputError(`ABI encoding needs ${types.length} values, got ${values.length}`)
}

function encodedSize(types: readonly string[], parsed: ParamType[], values: readonly unknown[]): number {
  let size = 32 * types.length
  for (let i = 0; i < parsed.length; i++) {
    if (parsed[i]!.array) {
      const arr = values[i]
      if (!Array.isArray(arr)) throw new InvalidInputError(`ABI value ${i} (${types[i]}) must be an array`)
      size += 32 + 32 * arr.length
    }
  }
  return size
}

/** Write the encoding into out[0, size); out must be zero-filled. */
function encodeInto(out: Uint8Array, view: DataView, types: readonly string[], parsed: ParamType[], values: readonly unknown[]): void {
  let tail = 32 * types.length
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i]!
    const head = 32 * i
    if (!p.array) {
      writeBase(out, view, head, p.base, values[i], types, i, -1)
      continue
    }
    const arr = values[i] as unknown[]
    view.setUint32(head + 28, tail) // offset word (< 2^32: a leaf is far smaller)
    view.setUint32(tail + 28, arr.length) // length word
    for (let j = 0; j < arr.length; j++) writeBase(out, view, tail + 32 + 32 * j, p.base, arr[j], types, i, j)
    tail += 32 + 32 * arr.length
  }
}

export function abiEncode(types: readonly string[], values: readonly unknown[]): Uint8Array {
  checkCount(types, values)
  const parsed = parseAll(types)
  const out = new Uint8Array(encodedSize(types, parsed, values))
  encodeInto(out, new DataView(out.buffer), types, parsed, values)
  return out
}

let scratch = new Uint8Array(4096)
let scratchView = new DataView(scratch.buffer)

/**
 * abiEncode into a reused buffer: the result is a view that the next call
 * overwrites. For hashing a leaf right away without allocating per leaf.
 */
export function abiEncodeScratch(types: readonly string[], values: readonly unknown[]): Uint8Array {
  checkCount(types, values)
  const parsed = parseAll(types)
  const size = encodedSize(types, parsed, values)
  if (size > scratch.length) {
    scratch = new Uint8Array(2 * size)
    scratchView = new DataView(scratch.buffer)
  }
  const out = scratch.subarray(0, size)
  out.fill(0)
  encodeInto(out, scratchView, types, parsed, values)
  return out
}
