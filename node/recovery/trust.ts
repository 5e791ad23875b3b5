import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { parseOperatorSet, type OperatorSet } from '../../protocol/operator-set.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { ARK_REGISTRY_ABI, readOperatorSet, registryAdapterKey } from '../chain/registry.ts'
import { encodeEventTopics } from 'viem'
import { isAddress } from '../../snapshot/codec/address.ts'

/**
 * The one trust root of the recovery commands (issue 16): `fetch`, `verify`,
 * `prove` and `cite` all judge a certificate through a TrustRoot made here
 * (node/cli/recovery/trust-options.ts parses their options).
 */
export interface TrustRoot {
  /** for messages: "operators.json", "ArkRegistry 0x… at block N" */
  describe(certificate: Certificate): string
  /** checks the trust root itself (e.g. the RPC answers for the right chain) before any source is asked */
  prepare?(signal?: AbortSignal): Promise<void>
  operatorsFor(certificate: Certificate, signal?: AbortSignal): Promise<OperatorSet>
  /**
   * The newest block for which the trust root holds an anchored certificate of
   * this certificate's adapter instance (the registry's CertificateSubmitted
   * events), if it knows any: `--block latest` must not return an older one.
   */
  newestAnchored?(certificate: Certificate, signal?: AbortSignal): Promise<bigint | undefined>
}

/** A fixed operator set (an operator-set file). */
export function fixedTrust(set: OperatorSet, name: string): TrustRoot {
  return { describe: () => name, operatorsFor: async () => set }
}

/** A trust root as given: an operator set is taken as fixed. */
export function asTrustRoot(t: OperatorSet | TrustRoot): TrustRoot {
  return 'operatorsFor' in t ? t : fixedTrust(t, 'the trusted operator set')
}

/** An operator-set JSON file ({"operators": [...], "threshold"?: N}) as trust root. */
export async function fileTrust(path: string): Promise<TrustRoot> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ArkError('IO', `cannot read the trust file ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; pass an operator-set JSON ({"operators": [...], "threshold": N})`, { cause })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new InvalidInputError(`the trust file ${path} is not valid JSON; pass an operator-set JSON ({"operators": [...], "threshold": N})`, { cause })
  }
  return fixedTrust(parseOperatorSet(json), `operator-set file ${basename(path)}`)
}

export interface RegistryTrustInit {
  registry: string
  rpc: string[]
  /** the chain the RPC must serve; default: each certificate's own chain */
  chainId?: bigint
}

/**
 * The ArkRegistry contract as trust root: the operator set and threshold as
 * the chain had them at the certificate's block (eth_calls pinned to its
 * block hash, canonical only), so a certificate is judged by the set that was
 * in force when it was signed. The RPC endpoints are trusted; every one of
 * them must serve the expected chain and agree on the block's hash.
 *
 * Before any set is read, the canonical hash of the certificate's block
 * number (asked of every endpoint, cross-checked) must be the certificate's
 * blockHash (issue 10 item 7): otherwise a past operator set (retired or
 * compromised keys) could sign a certificate for block N that names an old
 * block where it still was the quorum.
 */
export function registryTrust(init: RegistryTrustInit): TrustRoot {
  if (!isAddress(init.registry)) throw new InvalidInputError(`--registry must be a 0x-prefixed 20-byte address, got ${JSON.stringify(init.registry)}`)
  const registry = init.registry as `0x${string}`
  const sources = new Map<bigint, { source: ChainSource; checked: Promise<void> | undefined }>()
  const chain = (chainId: bigint, signal?: AbortSignal): Promise<ChainSource> => {
    let s = sources.get(chainId)
    if (s === undefined) {
      s = { source: new ChainSource({ rpcUrls: init.rpc, chainId, finality: { kind: 'confirmations', confirmations: 0 } }), checked: undefined }
      sources.set(chainId, s)
    }
    const entry = s
    entry.checked ??= entry.source.checkChainId(signal).catch((err: unknown) => {
      entry.checked = undefined
      throw err
    })
    return entry.checked.then(() => entry.source)
  }
  return {
    describe: (c) => `ArkRegistry ${registry} at block ${c.body.blockNumber}`,
    prepare: async (signal) => {
      if (init.chainId !== undefined) await chain(init.chainId, signal)
    },
    async operatorsFor(c, signal) {
      const b = c.body
      if (init.chainId !== undefined && b.chainId !== init.chainId) throw new ProtocolError('WRONG_CHAIN', `the certificate is for chain ${b.chainId}, not chain ${init.chainId}`)
      const source = await chain(b.chainId, signal)
      const canonical = await source.agreedHeader(b.blockNumber, signal)
      if (canonical.hash !== b.blockHash.toLowerCase()) {
        throw new ProtocolError(
          'MISMATCH',
          `the certificate names block ${b.blockNumber} with hash ${b.blockHash}, but the chain's canonical block ${b.blockNumber} has hash ${canonical.hash}: it certifies a block that is not canonical (a forgery by a past operator set, or a reorged block); refused before reading any operator set`,
        )
      }
      return readOperatorSet(source, registry, canonical.hash, signal)
    },
    async newestAnchored(c, signal) {
      const source = await chain(c.body.chainId, signal)
      const head = await source.finalizedHead(signal)
      const key = registryAdapterKey(c.body.adapterId, c.body.configHash)
      const topics = encodeEventTopics({ abi: ARK_REGISTRY_ABI, eventName: 'CertificateSubmitted', args: { adapterKey: key } })
      let newest: bigint | undefined
      // a certificate for a block after c's can only be anchored in a later block (the registry checks
      // blockhash(blockNumber)): the logs after c's block are all that can name a newer one
      const from = c.body.blockNumber + 1n
      if (from > head.number) return undefined
      for (const log of await source.logs([registry], from, head.number, signal)) {
        if (log.topics[0] !== topics[0]!.toLowerCase() || log.topics[1] !== key.toLowerCase() || log.topics[2] === undefined) continue
        // only snapshots (kind 0 scheduled, 1 emergency) can be newer states; a restitution table (kind 2) is not one
        if (log.topics[3] !== undefined && BigInt(log.topics[3]) > 1n) continue
        const block = BigInt(log.topics[2])
        if (newest === undefined || block > newest) newest = block
      }
      return newest
    },
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
