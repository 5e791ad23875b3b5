import type { Certificate } from '../../../protocol/certificate.ts'
import type { OperatorSet } from '../../../protocol/operator-set.ts'
import { fileTrust, registryTrust, verifyAgainst, type TrustRoot } from '../../recovery/trust.ts'
import { UsageError, type Options } from '../command.ts'
import { isAddress } from '../../../snapshot/codec/address.ts'

/**
 * The one option parser for the trust root of `fetch`, `verify`, `prove` and
 * `cite` (issue 16): the same flags, the same rules, the same messages.
 */
export const TRUST_OPTIONS: Options = {
  trust: { type: 'string', description: 'trusted operator-set JSON ({"operators": [...], "threshold": N}) to check the certificate\'s signatures against' },
  registry: { type: 'string', description: 'ArkRegistry address: the operator set is read at the certificate\'s block over --rpc, after checking that block is canonical' },
  rpc: { type: 'string', multiple: true, description: 'JSON-RPC URL of the chain, trusted for reading --registry (several: they must agree); user:pass in the URL is sent as HTTP Basic auth' },
}

export function addressOption(values: Record<string, unknown>, name: string): `0x${string}` | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  if (!isAddress(v)) throw new UsageError(`--${name} must be a 0x-prefixed 20-byte address, got ${JSON.stringify(v)}`)
  return v as `0x${string}`
}

export interface TrustOptionRules {
  /** a trust root must be given (fetch, verify) */
  required: boolean
  /** --registry alone names the registry to anchor in (cite), not a trust root */
  registryIsTarget?: boolean
  /** the chain the RPC must serve (fetch: --chain); default the certificate's */
  chainId?: bigint
  usage?: string
}

/** The trust root the options name: --trust FILE, or --registry ADDRESS with --rpc URL; undefined when none and none is required. */
export async function trustRootFromOptions(values: Record<string, unknown>, rules: TrustOptionRules): Promise<TrustRoot | undefined> {
  const usage = rules.usage === undefined ? '' : `\n\nusage: ${rules.usage}`
  const file = values.trust as string | undefined
  const registry = addressOption(values, 'registry')
  const rpc = (values.rpc as string[] | undefined) ?? []
  if (rpc.length > 0 && registry === undefined) throw new UsageError(`--rpc is used to read the operator set from --registry; pass --registry too (or --trust FILE instead)${usage}`)
  const registryTrusted = registry !== undefined && (rpc.length > 0 || !rules.registryIsTarget)
  if (file !== undefined && registryTrusted && !rules.registryIsTarget) throw new UsageError(`give one trust root: --trust FILE or --registry ADDRESS --rpc URL, not both${usage}`)
  if (file !== undefined) return fileTrust(file)
  if (registryTrusted) {
    if (rpc.length === 0) throw new UsageError(`--registry needs --rpc URL (an RPC endpoint of the chain you trust) to read the operator set, or pass --trust FILE${usage}`)
    return registryTrust({ registry, rpc, ...(rules.chainId === undefined ? {} : { chainId: rules.chainId }) })
  }
  if (rules.required) throw new UsageError(`a trust root is required: --trust operators.json or --registry ADDRESS --rpc URL${usage}`)
  return undefined
}

/** The certificate checked against the trust root the options name (see trustRootFromOptions). */
export async function trustFromOptions(values: Record<string, unknown>, certificate: Certificate, rules: TrustOptionRules, signal: AbortSignal): Promise<{ set: OperatorSet; source: string; weight: bigint } | undefined> {
  const trust = await trustRootFromOptions(values, rules)
  if (trust === undefined) return undefined
  await trust.prepare?.(signal)
  const { weight, set } = await verifyAgainst(trust, certificate, signal)
  return { set, source: trust.describe(certificate), weight }
}
