import type { Certificate } from '../../../protocol/certificate.ts'
import type { OperatorSet } from '../../../protocol/operator-set.ts'
import { checkCertificateTrust, loadTrust } from '../../recovery/snapshot-dir.ts'
import { UsageError, type Options } from '../command.ts'

/** Options of `ark prove` / `ark cite` that name a trust root for the certificate's signatures. */
export const TRUST_OPTIONS: Options = {
  trust: { type: 'string', description: 'operator-set JSON to check the certificate\'s signatures against' },
  registry: { type: 'string', description: 'ArkRegistry address (with --rpc: the operator set is read at the certificate\'s block)' },
  rpc: { type: 'string', multiple: true, description: 'JSON-RPC URL of the chain (with --registry)' },
}

export function addressOption(values: Record<string, unknown>, name: string): `0x${string}` | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw new UsageError(`--${name} must be a 0x-prefixed 20-byte address, got ${JSON.stringify(v)}`)
  return v as `0x${string}`
}

/**
 * The certificate checked against --trust, or against --registry read over --rpc; undefined when
 * neither was given. `registryIsTarget`: --registry alone is allowed (cite uses it as the target).
 */
export async function trustFromOptions(values: Record<string, unknown>, certificate: Certificate, registryIsTarget: boolean, signal: AbortSignal): Promise<{ set: OperatorSet; source: string; weight: bigint } | undefined> {
  const registry = addressOption(values, 'registry')
  const rpc = values.rpc as string[] | undefined
  if (rpc !== undefined && registry === undefined) throw new UsageError('--rpc is used to read the operator set from --registry; pass --registry too (or --trust FILE instead)')
  if (registry !== undefined && rpc === undefined && values.trust === undefined && !registryIsTarget) throw new UsageError('--registry needs --rpc URL to read the operator set (or pass --trust FILE)')
  const trust = await loadTrust({ trustFile: values.trust as string | undefined, registry: rpc === undefined ? undefined : registry, rpc, signal }, certificate)
  if (trust === undefined) return undefined
  const { weight } = await checkCertificateTrust(certificate, trust)
  return { ...trust, weight }
}
