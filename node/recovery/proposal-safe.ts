import { getAddress, keccak256, toBytes, type AbiParameter, type Hex } from 'viem'
import type { RecoveryAction } from './proposal.ts'

/** The Transaction Builder format version the batch follows (safe-global/safe-react-apps tx-builder). */
export const SAFE_TX_BUILDER_VERSION = '1.18.0'

interface SafeInput {
  internalType: string
  name: string
  type: string
  components?: SafeInput[]
}

/** A Safe Transaction Builder batch file (the JSON the Safe{Wallet} Transaction Builder imports). */
export interface SafeBatch {
  version: '1.0'
  chainId: string
  createdAt: number
  meta: { name: string; description: string; txBuilderVersion: string; createdFromSafeAddress: string; createdFromOwnerAddress: string; checksum: Hex }
  transactions: { to: string; value: string; data: Hex; contractMethod: { inputs: SafeInput[]; name: string; payable: boolean }; contractInputsValues: Record<string, string> }[]
}

function safeInput(p: AbiParameter, i: number): SafeInput {
  const components = 'components' in p ? p.components : undefined
  return { internalType: p.type, name: p.name ?? `arg${i}`, type: p.type, ...(components === undefined ? {} : { components: components.map(safeInput) }) }
}

/** The Transaction Builder's text form of a value: scalars as strings, arrays and tuples as JSON of strings. */
function plain(p: AbiParameter, v: unknown): unknown {
  if (p.type.endsWith(']')) return (v as unknown[]).map((x) => plain({ ...p, type: p.type.slice(0, p.type.lastIndexOf('[')) } as AbiParameter, x))
  if (p.type === 'tuple') {
    const comps = (p as { components: readonly AbiParameter[] }).components
    return comps.map((c, i) => plain(c, Array.isArray(v) ? v[i] : (v as Record<string, unknown>)[c.name!]))
  }
  return typeof v === 'bigint' || typeof v === 'number' ? v.toString() : String(v)
}

function inputValue(p: AbiParameter, v: unknown): string {
  const x = plain(p, v)
  return typeof x === 'string' ? x : JSON.stringify(x)
}

// The tx-builder's checksum (apps/tx-builder/src/lib/checksum.ts): keccak256 of a key-sorted
// serialization of the file with meta.name null and without meta.checksum.
function serialize(json: unknown): string {
  if (Array.isArray(json)) return `[${json.map(serialize).join(',')}]`
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json).sort()
    return `{${JSON.stringify(keys)}${keys.map((k) => `${serialize((json as Record<string, unknown>)[k] ?? null)},`).join('')}}`
  }
  return JSON.stringify(json ?? null)
}

/** The checksum the Transaction Builder checks on import. */
export function safeBatchChecksum(batch: Omit<SafeBatch, 'meta'> & { meta: Omit<SafeBatch['meta'], 'checksum'> & { checksum?: Hex } }): Hex {
  const { checksum: _ignored, ...meta } = batch.meta
  return keccak256(toBytes(serialize({ ...batch, meta: { ...meta, name: null } })))
}

/** A Safe Transaction Builder batch of the recovery actions, for a Safe that owns the targets. */
export function safeBatch(o: { safe: Hex; chainId: bigint; actions: readonly RecoveryAction[]; name: string; description: string; createdAt: number }): SafeBatch {
  const unsigned = {
    version: '1.0' as const,
    chainId: o.chainId.toString(),
    createdAt: o.createdAt,
    meta: { name: o.name, description: o.description, txBuilderVersion: SAFE_TX_BUILDER_VERSION, createdFromSafeAddress: getAddress(o.safe), createdFromOwnerAddress: '' },
    transactions: o.actions.map((a) => ({
      to: getAddress(a.target),
      value: a.value.toString(),
      data: a.data,
      contractMethod: { inputs: a.fn.inputs.map(safeInput), name: a.fn.name, payable: a.fn.stateMutability === 'payable' },
      contractInputsValues: Object.fromEntries(a.fn.inputs.map((p, i) => [p.name ?? `arg${i}`, inputValue(p, a.args[i])])),
    })),
  }
  return { ...unsigned, meta: { ...unsigned.meta, checksum: safeBatchChecksum(unsigned) } }
}
