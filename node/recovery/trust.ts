import { verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { readOperatorSet } from '../chain/registry.ts'

/** Where the operator set that must have signed a certificate comes from. */
export interface TrustRoot {
  /** for messages: "operators.json", "ArkRegistry 0x… at block N" */
  describe(certificate: Certificate): string
  /** checks the trust root itself (e.g. the RPC answers for the right chain) before any source is asked */
  prepare?(signal?: AbortSignal): Promise<void>
  operatorsFor(certificate: Certificate, signal?: AbortSignal): Promise<OperatorSet>
}

/** A fixed operator set (an operator-set file). */
export function fixedTrust(set: OperatorSet, name: string): TrustRoot {
  return { describe: () => name, operatorsFor: async () => set }
}

export interface RegistryTrustInit {
  registry: string
  rpc: string[]
  chainId: bigint
}

/**
 * The ArkRegistry contract as trust root: the operator set and threshold as
 * the chain had them at the certificate's block (eth_calls pinned to its
 * block hash, canonical only), so a certificate is judged by the set that
 * was in force when it was signed. The RPC endpoint is trusted.
 */
export function registryTrust(init: RegistryTrustInit): TrustRoot {
  if (!/^0x[0-9a-fA-F]{40}$/.test(init.registry)) throw new InvalidInputError(`--registry must be a 0x-prefixed 20-byte address, got ${JSON.stringify(init.registry)}`)
  const source = new ChainSource({ rpcUrls: init.rpc, chainId: init.chainId, finality: { kind: 'confirmations', confirmations: 0 } })
  const registry = init.registry as `0x${string}`
  return {
    describe: (c) => `ArkRegistry ${registry} at block ${c.body.blockNumber}`,
    prepare: (signal) => source.checkChainId(signal),
    operatorsFor: (c, signal) => readOperatorSet(source, registry, c.body.blockHash, signal),
  }
}

/** verifyCertificate against the trust root, with a message that names it. */
export async function verifyAgainst(trust: TrustRoot, certificate: Certificate, signal?: AbortSignal): Promise<{ weight: bigint; set: OperatorSet }> {
  const set = await trust.operatorsFor(certificate, signal)
  try {
    const { weight } = await verifyCertificate(certificate, set)
    return { weight, set }
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError(err.reason, `certificate does not verify against ${trust.describe(certificate)}: ${err.message}`, { cause: err })
    throw err
  }
}
