// In-browser verification: nothing here trusts the node that served the data.
// - certificate signatures: EIP-712 digest of the certificate's typed data, each signature's
//   secp256k1 public key recovered and turned into an address, compared with the signer;
// - the snapshot root block: its bytes hash to the certified snapshot CID, and its stateRoot field
//   is the certified stateRoot;
// - account proofs: the OpenZeppelin StandardMerkleTree leaf (double keccak of the ABI-encoded
//   values) folded with the proof (sorted pairs) must give the certified stateRoot.
import { sha256 } from '@noble/hashes/sha2'
import { keccak_256 } from '@noble/hashes/sha3'
import { secp256k1 } from '@noble/curves/secp256k1'

const enc = new TextEncoder()

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not 0x-hex: ${String(hex).slice(0, 20)}`)
  const out = new Uint8Array((hex.length - 2) / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16)
  return out
}

export function bytesToHex(b) {
  let s = '0x'
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

export const keccak256 = (b) => keccak_256(b)

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function word(n) {
  let v = BigInt(n)
  if (v < 0n) v = (1n << 256n) + v
  if (v < 0n || v >= 1n << 256n) throw new Error(`integer out of range: ${n}`)
  return hexToBytes(`0x${v.toString(16).padStart(64, '0')}`)
}

function padRight(b) {
  const out = new Uint8Array(Math.ceil(b.length / 32) * 32)
  out.set(b)
  return out
}

/** One static ABI word (address, bool, uintN/intN, bytesN). */
function staticWord(type, v) {
  if (type === 'address') {
    const b = hexToBytes(v)
    if (b.length !== 20) throw new Error('address must be 20 bytes')
    return concat([new Uint8Array(12), b])
  }
  if (type === 'bool') return word(v === true || v === 'true' ? 1 : 0)
  if (/^u?int[0-9]*$/.test(type)) return word(v)
  const m = /^bytes([0-9]+)$/.exec(type)
  if (m !== null) {
    const b = hexToBytes(v)
    if (b.length !== Number(m[1])) throw new Error(`${type} must be ${m[1]} bytes`)
    return padRight(b)
  }
  throw new Error(`unsupported ABI type ${type}`)
}

const isDynamic = (t) => t === 'bytes' || t === 'string' || t.endsWith('[]')

function tail(type, v) {
  if (type === 'bytes' || type === 'string') {
    const b = type === 'bytes' ? hexToBytes(v) : enc.encode(v)
    return concat([word(b.length), padRight(b)])
  }
  const inner = type.slice(0, -2)
  if (isDynamic(inner)) throw new Error(`unsupported ABI type ${type}`)
  return concat([word(v.length), ...v.map((x) => staticWord(inner, x))])
}

/** abi.encode(values) for static types and dynamic arrays of static types, bytes and string. */
export function abiEncode(types, values) {
  if (types.length !== values.length) throw new Error('types and values differ in length')
  const heads = []
  const tails = []
  let offset = 32 * types.length
  types.forEach((t, i) => {
    if (isDynamic(t)) {
      const tl = tail(t, values[i])
      heads.push(word(offset))
      tails.push(tl)
      offset += tl.length
    } else heads.push(staticWord(t, values[i]))
  })
  return concat([...heads, ...tails])
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/** StandardMerkleTree.verify(root, leafEncoding, value, proof), as MerkleProof.sol folds it. */
export function verifyProof(p, expectedRoot) {
  const leaf = keccak256(keccak256(abiEncode(p.leafEncoding, p.value)))
  let h = leaf
  for (const x of p.proof) {
    const s = hexToBytes(x)
    h = compare(h, s) <= 0 ? keccak256(concat([h, s])) : keccak256(concat([s, h]))
  }
  const got = bytesToHex(h)
  return { ok: got === expectedRoot.toLowerCase() && p.stateRoot.toLowerCase() === expectedRoot.toLowerCase(), computed: got }
}

// --- EIP-712 ---

function encodeType(types, primary) {
  const deps = new Set()
  const walk = (t) => {
    const base = t.replace(/\[\]$/, '')
    if (deps.has(base) || types[base] === undefined) return
    deps.add(base)
    for (const f of types[base]) walk(f.type)
  }
  walk(primary)
  deps.delete(primary)
  return [primary, ...[...deps].sort()].map((t) => `${t}(${types[t].map((f) => `${f.type} ${f.name}`).join(',')})`).join('')
}

function encodeField(types, type, v) {
  if (types[type] !== undefined) return hashStruct(types, type, v)
  if (type === 'string') return keccak256(enc.encode(v))
  if (type === 'bytes') return keccak256(hexToBytes(v))
  if (type.endsWith('[]')) return keccak256(concat(v.map((x) => encodeField(types, type.slice(0, -2), x))))
  return staticWord(type, v)
}

function hashStruct(types, type, data) {
  const typeHash = keccak256(enc.encode(encodeType(types, type)))
  return keccak256(concat([typeHash, ...types[type].map((f) => encodeField(types, f.type, data[f.name]))]))
}

export function typedDataDigest({ domain, types, primaryType, message }) {
  return keccak256(concat([new Uint8Array([0x19, 0x01]), hashStruct(types, 'EIP712Domain', domain), hashStruct(types, primaryType, message)]))
}

export function recoverAddress(digest, signatureHex) {
  const sig = hexToBytes(signatureHex)
  if (sig.length !== 65) throw new Error('signature must be 65 bytes')
  let v = sig[64]
  if (v >= 27) v -= 27
  const s = secp256k1.Signature.fromCompact(sig.slice(0, 64)).addRecoveryBit(v)
  const pub = s.recoverPublicKey(digest).toRawBytes(false)
  return bytesToHex(keccak256(pub.slice(1)).slice(12))
}

/**
 * Check a checkpoint view: the typed data names this checkpoint's snapshot and stateRoot, every
 * signature recovers to its signer, and the weight of the valid signers (weights of the operator
 * set the node reports for that block) reaches the threshold.
 */
export function verifyCheckpoint(cp) {
  const c = cp.certificate
  const problems = []
  let digest
  try {
    digest = typedDataDigest(c)
  } catch (e) {
    return { ok: false, valid: [], problems: [`typed data: ${e.message}`] }
  }
  if (String(c.message.stateRoot).toLowerCase() !== cp.stateRoot.toLowerCase()) problems.push('the signed stateRoot is not the one shown')
  if (String(c.message.blockNumber) !== cp.block) problems.push('the signed block is not the one shown')
  const weights = new Map(cp.signers.map((s) => [s.signer.toLowerCase(), BigInt(s.weight)]))
  const valid = []
  let weight = 0n
  for (const s of c.signatures) {
    let who
    try {
      who = recoverAddress(digest, s.signature)
    } catch (e) {
      problems.push(`signature of ${s.signer}: ${e.message}`)
      continue
    }
    if (who !== s.signer.toLowerCase()) {
      problems.push(`signature claimed by ${s.signer} recovers to ${who}`)
      continue
    }
    valid.push(who)
    weight += weights.get(who) ?? 0n
  }
  if (weight < BigInt(cp.threshold)) problems.push(`valid signatures weigh ${weight}, below the threshold ${cp.threshold}`)
  return { ok: problems.length === 0, valid, weight: weight.toString(), problems, digest: bytesToHex(digest) }
}

// --- CIDs and blocks ---

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

function base32(s) {
  const out = []
  let bits = 0
  let acc = 0
  for (const ch of s) {
    const v = B32.indexOf(ch)
    if (v < 0) throw new Error('not base32')
    acc = (acc << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((acc >> bits) & 0xff)
    }
  }
  return new Uint8Array(out)
}

function varint(b, at) {
  let n = 0
  let shift = 0
  for (let i = at; i < b.length && i < at + 9; i++) {
    n += (b[i] & 0x7f) * 2 ** shift
    shift += 7
    if ((b[i] & 0x80) === 0) return [n, i + 1]
  }
  throw new Error('bad varint')
}

/** CIDv1 in base32 ("b…"): codec, multihash code and digest. */
export function parseCid(text) {
  if (typeof text !== 'string' || text[0] !== 'b') throw new Error('only base32 CIDv1 is read here')
  const b = base32(text.slice(1))
  const [version, i1] = varint(b, 0)
  if (version !== 1) throw new Error(`CID version ${version}`)
  const [codec, i2] = varint(b, i1)
  const [code, i3] = varint(b, i2)
  const [len, i4] = varint(b, i3)
  const digest = b.slice(i4)
  if (digest.length !== len) throw new Error('CID digest length')
  return { codec, code, digest }
}

function indexOf(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/**
 * The snapshot root block as the node served it: sha2-256 of its bytes must be the CID's digest,
 * and its dag-cbor map must hold "stateRoot" → the 32 certified bytes (text key, then bytes(32)).
 */
export function verifyRootBlock(cidText, bytes, stateRoot) {
  const cid = parseCid(cidText)
  if (cid.code !== 0x12) return { ok: false, problem: `multihash 0x${cid.code.toString(16)} is not sha2-256` }
  if (bytesToHex(sha256(bytes)) !== bytesToHex(cid.digest)) return { ok: false, problem: 'the block does not hash to its CID' }
  const field = concat([new Uint8Array([0x69]), enc.encode('stateRoot'), new Uint8Array([0x58, 0x20]), hexToBytes(stateRoot)])
  if (indexOf(bytes, field) < 0) return { ok: false, problem: 'the root block does not carry the certified stateRoot' }
  return { ok: true }
}
