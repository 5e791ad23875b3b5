import { CID } from 'multiformats/cid'
import { decodeBlock, encodeBlock, type Block } from '../codec/block.ts'
import { bytesToHex, hexToBytes } from '../codec/hex.ts'
import { checkInt, intFromIpld, intToIpld, UINT64 } from '../codec/int.ts'
import { InvalidInputError, MalformedBlockError, UnsupportedVersionError } from '../errors.ts'

/** Snapshot spec versions this build reads and writes. */
export const SPEC_VERSION = 1
export const SUPPORTED_SPEC_VERSIONS = [1] as const

export interface BlockRef {
  chainId: bigint
  number: bigint
  /** 32-byte block hash, 0x-hex */
  hash: string
  timestamp: bigint
}

export interface AdapterRef {
  id: string
  version: string
  /** keccak256 of the adapter's canonical configuration, 0x-hex */
  configHash: string
}

export interface SnapshotMeta {
  block: BlockRef
  adapter: AdapterRef
}

export interface SnapshotRoot extends SnapshotMeta {
  version: number
  schema: { id: string; version: number; leafEncoding: string[] }
  markets: CID
  /** root node of the account tree, null when there are no accounts */
  accounts: CID | null
  accountCount: number
  /** 0x-hex keccak Merkle root; 32 zero bytes when there are no accounts */
  stateRoot: string
}

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/

export function checkMeta(meta: SnapshotMeta): SnapshotMeta {
  const b = meta?.block
  const a = meta?.adapter
  if (b === undefined || a === undefined) throw new InvalidInputError('snapshot metadata needs block {chainId, number, hash, timestamp} and adapter {id, version, configHash}')
  if (typeof a.id !== 'string' || !ID.test(a.id)) throw new InvalidInputError(`adapter id ${JSON.stringify(a.id)} must match ${ID.source}`)
  if (typeof a.version !== 'string' || a.version.length === 0 || a.version.length > 64) throw new InvalidInputError('adapter version must be a non-empty string of at most 64 characters')
  return {
    block: {
      chainId: checkInt(b.chainId, UINT64, 'block.chainId'),
      number: checkInt(b.number, UINT64, 'block.number'),
      hash: bytesToHex(hexToBytes(b.hash, 'block.hash', 32)),
      timestamp: checkInt(b.timestamp, UINT64, 'block.timestamp'),
    },
    adapter: { id: a.id, version: a.version, configHash: bytesToHex(hexToBytes(a.configHash, 'adapter.configHash', 32)) },
  }
}

export function encodeRoot(r: SnapshotRoot): Block {
  return encodeBlock({
    version: r.version,
    type: 'ark.snapshot',
    block: { chainId: intToIpld(r.block.chainId), number: intToIpld(r.block.number), hash: hexToBytes(r.block.hash), timestamp: intToIpld(r.block.timestamp) },
    adapter: { id: r.adapter.id, version: r.adapter.version, configHash: hexToBytes(r.adapter.configHash) },
    schema: { id: r.schema.id, version: r.schema.version, leafEncoding: r.schema.leafEncoding },
    markets: r.markets,
    accounts: r.accounts,
    accountCount: r.accountCount,
    stateRoot: hexToBytes(r.stateRoot),
  })
}

export function decodeRoot(cid: CID, bytes: Uint8Array): SnapshotRoot {
  const v = decodeBlock(cid, bytes) as Record<string, unknown>
  const bad = (why: string): never => {
    throw new MalformedBlockError(`snapshot root ${cid.toString()} is malformed: ${why}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('not a map')
  if (v.type !== 'ark.snapshot') bad(`type is ${JSON.stringify(v.type)}, not "ark.snapshot" (is this a snapshot root CID?)`)
  if (!(SUPPORTED_SPEC_VERSIONS as readonly unknown[]).includes(v.version)) throw new UnsupportedVersionError('snapshot spec', v.version, SUPPORTED_SPEC_VERSIONS)
  const keys = ['accountCount', 'accounts', 'adapter', 'block', 'markets', 'schema', 'stateRoot', 'type', 'version']
  if (Object.keys(v).sort().join() !== keys.join()) bad(`fields must be exactly ${keys.join(', ')}`)
  const b = v.block as Record<string, unknown>
  const a = v.adapter as Record<string, unknown>
  const s = v.schema as Record<string, unknown>
  const bytes32 = (x: unknown, what: string): string => (x instanceof Uint8Array && x.length === 32 ? bytesToHex(x) : bad(`${what} is not 32 bytes`))
  const markets = CID.asCID(v.markets) ?? bad('markets is not a link')
  if (typeof v.accountCount !== 'number' || !Number.isSafeInteger(v.accountCount) || v.accountCount < 0) bad('accountCount is not a non-negative integer')
  if (typeof a?.id !== 'string' || typeof a.version !== 'string') bad('adapter id/version missing')
  if (typeof s?.id !== 'string' || typeof s.version !== 'number' || !Array.isArray(s.leafEncoding) || !s.leafEncoding.every((x) => typeof x === 'string')) bad('schema is not {id, version, leafEncoding}')
  const accounts = v.accounts === null ? null : (CID.asCID(v.accounts) ?? bad('accounts is not a link or null'))
  if ((accounts === null) !== (v.accountCount === 0)) bad('accounts link and accountCount disagree')
  return {
    version: v.version as number,
    block: { chainId: intFromIpld(b?.chainId, UINT64, 'block.chainId'), number: intFromIpld(b?.number, UINT64, 'block.number'), hash: bytes32(b?.hash, 'block.hash'), timestamp: intFromIpld(b?.timestamp, UINT64, 'block.timestamp') },
    adapter: { id: a.id as string, version: a.version as string, configHash: bytes32(a.configHash, 'adapter.configHash') },
    schema: { id: s.id as string, version: s.version as number, leafEncoding: s.leafEncoding as string[] },
    markets,
    accounts,
    accountCount: v.accountCount as number,
    stateRoot: bytes32(v.stateRoot, 'stateRoot'),
  }
}
