import { encodeBlock, type Block } from '../codec/block.ts'
import { addressToBytes, bytesToHex } from '../codec/hex.ts'
import { keccak256 } from '../codec/keccak.ts'
import { InvalidInputError, MalformedBlockError } from '../errors.ts'

/**
 * The exclusion list of a restitution table (attacker accounts, supplied by
 * governance): a set of addresses, canonically sorted ascending by bytes.
 * Its hash, keccak256 of the addresses' 20-byte forms concatenated in that
 * order (keccak256 of no bytes for an empty list), is what the root block and
 * a governance proposal name; the list itself is one linked block.
 */
export const MAX_EXCLUSIONS = 40_000 // 40k x 22 bytes keeps the list block well under the 1 MiB block limit
export const EXCLUSIONS_TYPE = 'ark.restitution.exclusions'
export const EXCLUSIONS_VERSION = 1

export interface Exclusions {
  /** ascending, unique, 20 bytes each */
  accounts: Uint8Array[]
  /** 0x-hex keccak256 of the concatenated accounts */
  hash: string
}

function finish(accounts: Uint8Array[]): Exclusions {
  const all = new Uint8Array(accounts.length * 20)
  accounts.forEach((a, i) => all.set(a, i * 20))
  return { accounts, hash: bytesToHex(keccak256(all)) }
}

/**
 * Canonical exclusions from addresses in any order and case. A repeated
 * address is refused (it usually means two lists were merged by hand).
 */
export function exclusionsFrom(addresses: readonly (string | Uint8Array)[], what = 'exclusion list'): Exclusions {
  if (!Array.isArray(addresses)) throw new InvalidInputError(`${what} must be an array of 0x addresses`)
  if (addresses.length > MAX_EXCLUSIONS) throw new InvalidInputError(`${what} has ${addresses.length} addresses, over the limit of ${MAX_EXCLUSIONS}; exclude fewer accounts or split the incident`)
  const accounts = addresses.map((a, i) => {
    const b = a instanceof Uint8Array ? a : addressToBytes(a, `${what}[${i}]`)
    if (b.length !== 20) throw new InvalidInputError(`${what}[${i}] must be a 20-byte address`)
    return Uint8Array.from(b)
  })
  accounts.sort((x, y) => Buffer.compare(x, y))
  for (let i = 1; i < accounts.length; i++) {
    if (Buffer.compare(accounts[i - 1]!, accounts[i]!) === 0) throw new InvalidInputError(`${what} lists ${bytesToHex(accounts[i]!)} twice; give each address once`)
  }
  return finish(accounts)
}

export function isExcluded(ex: Exclusions, account: Uint8Array): boolean {
  let lo = 0
  let hi = ex.accounts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const c = Buffer.compare(ex.accounts[mid]!, account)
    if (c === 0) return true
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

export function encodeExclusions(ex: Exclusions): Block {
  return encodeBlock({ type: EXCLUSIONS_TYPE, version: EXCLUSIONS_VERSION, accounts: ex.accounts })
}

/** Strict decode of a stored list block: canonical order and no repeats, or it is not Ark data. */
export function decodeExclusions(value: unknown, what: string): Exclusions {
  const bad = (why: string): never => {
    throw new MalformedBlockError(`${what} is malformed: ${why}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('not a map')
  const v = value as Record<string, unknown>
  if (Object.keys(v).sort().join() !== 'accounts,type,version') bad('fields must be exactly accounts, type, version')
  if (v.type !== EXCLUSIONS_TYPE) bad(`type is ${JSON.stringify(v.type)}, not ${JSON.stringify(EXCLUSIONS_TYPE)}`)
  if (v.version !== EXCLUSIONS_VERSION) bad(`version ${String(v.version)} is unknown (this build reads ${EXCLUSIONS_VERSION})`)
  const list = Array.isArray(v.accounts) ? v.accounts : bad('accounts is not a list')
  if (list.length > MAX_EXCLUSIONS) bad(`more than ${MAX_EXCLUSIONS} accounts`)
  const accounts = list.map((a, i) => (a instanceof Uint8Array && a.length === 20 ? a : bad(`accounts[${i}] is not 20 bytes`)))
  for (let i = 1; i < accounts.length; i++) if (Buffer.compare(accounts[i - 1]!, accounts[i]!) >= 0) bad('accounts are not strictly ascending')
  return finish(accounts)
}
