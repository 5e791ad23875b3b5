import { CID } from 'multiformats/cid'
import { CID_BYTES, CID_PREFIX, cidFromBinary, decodeBlock, encodeBlock, type Block } from '../codec/block.ts'
import { bytesToHex, hexToBytes } from '../codec/hex.ts'
import { intFromIpld, intToIpld, UINT256, UINT64 } from '../codec/int.ts'
import { MalformedBlockError, UnsupportedVersionError } from '../errors.ts'
import { RESTITUTION_LEAF_ENCODING } from './leaf.ts'

/** Restitution root block (SPEC §8): `type "ark.restitution"`, version 1. */
export const RESTITUTION_TYPE = 'ark.restitution'
export const RESTITUTION_VERSION = 1
/** Totals are inline in the root; more assets than this would not fit a block comfortably. */
export const MAX_TOTALS = 4096

/** One side of the comparison: a snapshot and the block it was taken at. */
export interface RestitutionSide {
  blockNumber: bigint
  /** 0x-hex, 32 bytes */
  blockHash: string
  snapshot: CID
  /** 0x-hex, 32 bytes: the snapshot's stateRoot */
  stateRoot: string
}

export interface RestitutionRoot {
  version: number
  chainId: bigint
  adapter: { id: string; configHash: string }
  schema: { id: string; version: number }
  before: RestitutionSide
  after: RestitutionSide
  exclusions: { count: number; hash: string; list: CID }
  /** loss rows, the total leaves not counted */
  entryCount: number
  /** per asset, ascending by asset bytes; each also a leaf (address(0), asset, total) */
  totals: { asset: string; amount: bigint }[]
  /** tree of every leaf (totals first, then losses, by account||asset); null for an empty table */
  entries: CID | null
  /** 0x-hex StandardMerkleTree root over every leaf; 32 zero bytes for an empty table */
  root: string
}

/**
 * The snapshots are named by binary CID (bytes), not linked: a table's DAG is the table alone, so
 * fetching, serving, pinning or retaining it never pulls two whole snapshots along.
 */
const side = (s: RestitutionSide): Record<string, unknown> => ({ number: intToIpld(s.blockNumber), hash: hexToBytes(s.blockHash), snapshot: s.snapshot.bytes, stateRoot: hexToBytes(s.stateRoot) })

export function encodeRestitutionRoot(r: RestitutionRoot): Block {
  return encodeBlock({
    type: RESTITUTION_TYPE,
    version: r.version,
    chainId: intToIpld(r.chainId),
    adapter: { id: r.adapter.id, configHash: hexToBytes(r.adapter.configHash) },
    schema: { id: r.schema.id, version: r.schema.version },
    leafEncoding: [...RESTITUTION_LEAF_ENCODING],
    before: side(r.before),
    after: side(r.after),
    exclusions: { count: r.exclusions.count, hash: hexToBytes(r.exclusions.hash), list: r.exclusions.list },
    entryCount: r.entryCount,
    totals: r.totals.map((t) => [hexToBytes(t.asset), intToIpld(t.amount)]),
    entries: r.entries,
    root: hexToBytes(r.root),
  })
}

const ROOT_KEYS = ['adapter', 'after', 'before', 'chainId', 'entries', 'entryCount', 'exclusions', 'leafEncoding', 'root', 'schema', 'totals', 'type', 'version'].join()

/** Strict decode: exact fields, exact types, canonical bytes (decodeBlock re-encodes). */
export function decodeRestitutionRoot(cid: CID, bytes: Uint8Array): RestitutionRoot {
  const v = decodeBlock(cid, bytes) as Record<string, unknown>
  const bad = (why: string): never => {
    throw new MalformedBlockError(`restitution root ${cid.toString()} is malformed: ${why}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('not a map')
  if (v.type !== RESTITUTION_TYPE) bad(`type is ${JSON.stringify(v.type)}, not "${RESTITUTION_TYPE}" (is this a restitution root CID?)`)
  if (v.version !== RESTITUTION_VERSION) throw new UnsupportedVersionError('restitution root', v.version, [RESTITUTION_VERSION])
  if (Object.keys(v).sort().join() !== ROOT_KEYS) bad(`fields must be exactly ${ROOT_KEYS}`)
  const bytesN = (x: unknown, n: number, what: string): string => (x instanceof Uint8Array && x.length === n ? bytesToHex(x) : bad(`${what} is not ${n} bytes`))
  const count = (x: unknown, what: string): number => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : bad(`${what} is not a non-negative integer`))
  const map = (x: unknown, keys: string, what: string): Record<string, unknown> => {
    if (x === null || typeof x !== 'object' || Array.isArray(x) || x instanceof Uint8Array || CID.asCID(x) !== null) bad(`${what} is not a map`)
    if (Object.keys(x as object).sort().join() !== keys) bad(`${what} fields must be exactly ${keys}`)
    return x as Record<string, unknown>
  }
  const snapshotCid = (x: unknown, what: string): CID => {
    if (!(x instanceof Uint8Array) || x.length !== CID_BYTES || Buffer.compare(x.subarray(0, CID_PREFIX.length), CID_PREFIX) !== 0) bad(`${what} is not a binary CIDv1 dag-cbor sha2-256 (36 bytes)`)
    return cidFromBinary(Uint8Array.from(x as Uint8Array))
  }
  const readSide = (x: unknown, what: string): RestitutionSide => {
    const s = map(x, 'hash,number,snapshot,stateRoot', what)
    return { blockNumber: intFromIpld(s.number, UINT64, `${what}.number`), blockHash: bytesN(s.hash, 32, `${what}.hash`), snapshot: snapshotCid(s.snapshot, `${what}.snapshot`), stateRoot: bytesN(s.stateRoot, 32, `${what}.stateRoot`) }
  }
  const adapter = map(v.adapter, 'configHash,id', 'adapter')
  if (typeof adapter.id !== 'string' || adapter.id.length === 0 || adapter.id.length > 64) bad('adapter.id is not a string of 1-64 characters')
  const schema = map(v.schema, 'id,version', 'schema')
  if (typeof schema.id !== 'string' || schema.id.length === 0 || schema.id.length > 128) bad('schema.id is not a string of 1-128 characters')
  if (!Array.isArray(v.leafEncoding) || v.leafEncoding.join() !== RESTITUTION_LEAF_ENCODING.join()) bad(`leafEncoding must be [${RESTITUTION_LEAF_ENCODING.join(', ')}]`)
  const ex = map(v.exclusions, 'count,hash,list', 'exclusions')
  const totalsRaw = Array.isArray(v.totals) ? v.totals : bad('totals is not a list')
  if (totalsRaw.length > MAX_TOTALS) bad(`more than ${MAX_TOTALS} totals`)
  const totals = totalsRaw.map((t, i) => {
    if (!Array.isArray(t) || t.length !== 2) bad(`totals[${i}] is not [asset, amount]`)
    const amount = intFromIpld((t as unknown[])[1], UINT256, `totals[${i}].amount`)
    if (amount === 0n) bad(`totals[${i}] is zero`)
    return { asset: bytesN((t as unknown[])[0], 20, `totals[${i}].asset`), amount }
  })
  for (let i = 1; i < totals.length; i++) if (totals[i - 1]!.asset >= totals[i]!.asset) bad('totals are not strictly ascending by asset')
  const entries = v.entries === null ? null : (CID.asCID(v.entries) ?? bad('entries is not a link or null'))
  const entryCount = count(v.entryCount, 'entryCount')
  if ((entries === null) !== (entryCount === 0)) bad('entries link and entryCount disagree')
  if ((entryCount === 0) !== (totals.length === 0)) bad('a table with losses has totals and one without has none')
  return {
    version: RESTITUTION_VERSION,
    chainId: intFromIpld(v.chainId, UINT64, 'chainId'),
    adapter: { id: adapter.id as string, configHash: bytesN(adapter.configHash, 32, 'adapter.configHash') },
    schema: { id: schema.id as string, version: count(schema.version, 'schema.version') },
    before: readSide(v.before, 'before'),
    after: readSide(v.after, 'after'),
    exclusions: { count: count(ex.count, 'exclusions.count'), hash: bytesN(ex.hash, 32, 'exclusions.hash'), list: CID.asCID(ex.list) ?? bad('exclusions.list is not a link') },
    entryCount,
    totals,
    entries,
    root: bytesN(v.root, 32, 'root'),
  }
}
