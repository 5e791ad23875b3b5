import { CID } from 'multiformats/cid'
import { MalformedBlockError } from '../errors.ts'
import { CID_BYTES, CID_PREFIX, cidFromBinary, DAG_CBOR } from './block.ts'
import { readHead, skipItem } from './cbor-head.ts'

const TAG_CID = 42

/** The bytes at `at` begin with the one CID prefix an Ark block has (CIDv1, dag-cbor, sha2-256). */
export function hasArkPrefix(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < CID_PREFIX.length; i++) if (bytes[at + i] !== CID_PREFIX[i]) return false
  return true
}

/** Walks one CBOR item at `o`, collecting tag-42 links; returns the offset after it. */
function walk(bytes: Uint8Array, o: number, out: CID[], depth: number): number {
  if (depth > 64) throw new MalformedBlockError('dag-cbor nesting over 64 levels')
  // scalars (most items of a record) hold no links: skip them without building a head
  const major = o < bytes.length ? bytes[o]! >> 5 : -1
  if (major !== 4 && major !== 5 && major !== 6) return skipItem(bytes, o)
  const h = readHead(bytes, o)
  switch (h.major) {
    case 4: {
      let p = h.end
      for (let i = 0; i < h.value; i++) p = walk(bytes, p, out, depth + 1)
      return p
    }
    case 5: {
      let p = h.end
      for (let i = 0; i < h.value; i++) {
        p = skipItem(bytes, p) // keys are strings in dag-cbor
        p = walk(bytes, p, out, depth + 1)
      }
      return p
    }
    case 6: {
      if (h.value !== TAG_CID) return walk(bytes, h.end, out, depth + 1)
      const s = readHead(bytes, h.end)
      if (s.end + s.value > bytes.length) throw new MalformedBlockError('CBOR string truncated')
      if (s.major !== 2 || s.value < 2 || bytes[s.end] !== 0) throw new MalformedBlockError('tag 42 does not wrap a 0x00-prefixed CID byte string')
      const cidStart = s.end + 1
      const cidEnd = s.end + s.value
      if (cidEnd - cidStart === CID_BYTES && hasArkPrefix(bytes, cidStart)) out.push(cidFromBinary(bytes.subarray(cidStart, cidEnd)))
      else {
        try {
          out.push(CID.decode(bytes.slice(cidStart, cidEnd)))
        } catch (cause) {
          throw new MalformedBlockError('tag 42 holds an unreadable CID', { cause })
        }
      }
      return cidEnd
    }
    default:
      return skipItem(bytes, o)
  }
}

/**
 * The CIDs a block links to, in encoding order, found by walking its CBOR
 * structure without decoding values (raw blocks have none). Throws
 * MalformedBlockError on bytes that are not one well-formed CBOR item.
 */
export function blockLinks(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== DAG_CBOR) return []
  const out: CID[] = []
  const end = walk(bytes, 0, out, 0)
  if (end !== bytes.length) throw new MalformedBlockError(`block ${cid.toString()} has ${bytes.length - end} bytes after its CBOR item`)
  return out
}
