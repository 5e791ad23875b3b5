import { addressToBytes, hexToBytes } from '../codec/hex.ts'
import { checkInt, type IntKind } from '../codec/int.ts'
import { InvalidInputError } from '../errors.ts'

/**
 * Solidity `abi.encode` for the parameter types a proof leaf may use: address,
 * bool, bytesN, uintN, intN, and dynamic arrays of those. Written for speed
 * (one allocation per call); checked against viem's encoder in tests.
 */
interface BaseType {
  kind: 'address' | 'bool' | 'bytesN' | 'int'
  signed: boolean
  bits: number
  size: number
  intKind?: IntKind
}

const TWO_256 = 1n << 256n
const TWO_32 = 1n << 32n

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
  else if ((m = /^(u?)int([1-9][0-9]{0,2})$/.exec(b)) !== null && Number(m[2]) % 8 === 0 && Number(m[2]) >= 8 && Number(m[2]) <= 256) base = { kind: 'int', signed: m[1] === '', bits: Number(m[2]), size: 32, intKind: { signed: m[1] === '', bits: Number(m[2]) } }
  else throw new InvalidInputError(`ABI type ${JSON.stringify(t)} is not supported in proof leaves; use address, bool, bytesN, uintN, intN or arrays of them`)
  p = { base, array }
  cache.set(t, p)
  return p
}

function writeBase(out: Uint8Array, o: number, t: BaseType, v: unknown, what: string): void {
  switch (t.kind) {
    case 'address': {
      const a = v instanceof Uint8Array ? v : addressToBytes(String(v), what)
      if (a.length !== 20) throw new InvalidInputError(`${what} must be a 20-byte address`)
      out.set(a, o + 12)
      return
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new InvalidInputError(`${what} must be a boolean`)
      out[o + 31] = v ? 1 : 0
      return
    case 'bytesN': {
      const a = v instanceof Uint8Array ? v : hexToBytes(String(v), what)
      if (a.length !== t.size) throw new InvalidInputError(`${what} must be ${t.size} bytes`)
      out.set(a, o)
      return
    }
    case 'int': {
      let x = checkInt(v, t.intKind!, what)
      if (x < 0n) x += TWO_256
      if (x < TWO_32) {
        const n = Number(x)
        out[o + 28] = n >>> 24
        out[o + 29] = (n >>> 16) & 0xff
        out[o + 30] = (n >>> 8) & 0xff
        out[o + 31] = n & 0xff
      } else {
        const hex = x.toString(16)
        Buffer.from(out.buffer, out.byteOffset + o, 32).write(hex.length % 2 === 0 ? hex : `0${hex}`, 32 - Math.ceil(hex.length / 2), 'hex')
      }
      return
    }
  }
}

export function abiEncode(types: readonly string[], values: readonly unknown[]): Uint8Array {
  if (types.length !== values.length) throw new InvalidInputError(`ABI encoding needs ${types.length} values, got ${values.length}`)
  const parsed = types.map(parseAbiType)
  let size = 32 * types.length
  for (let i = 0; i < parsed.length; i++) {
    if (parsed[i]!.array) {
      const arr = values[i]
      if (!Array.isArray(arr)) throw new InvalidInputError(`ABI value ${i} (${types[i]}) must be an array`)
      size += 32 + 32 * arr.length
    }
  }
  const out = new Uint8Array(size)
  let tail = 32 * types.length
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i]!
    const head = 32 * i
    if (!p.array) {
      writeBase(out, head, p.base, values[i], `ABI value ${i} (${types[i]})`)
      continue
    }
    const arr = values[i] as unknown[]
    writeBase(out, head, UINT, BigInt(tail), 'offset')
    writeBase(out, tail, UINT, BigInt(arr.length), 'length')
    for (let j = 0; j < arr.length; j++) writeBase(out, tail + 32 + 32 * j, p.base, arr[j], `ABI value ${i}[${j}] (${types[i]})`)
    tail += 32 + 32 * arr.length
  }
  return out
}

const UINT: BaseType = { kind: 'int', signed: false, bits: 256, size: 32, intKind: { signed: false, bits: 256 } }
