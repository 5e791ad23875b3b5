import { getTypesForEIP712Domain, serializeTypedData, type Hex, type TypedDataDefinition } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { checkSignature, normalizeV } from '../../protocol/attestation.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { redact } from '../../snapshot/chain/errors.ts'
import { RpcEndpoint } from '../../snapshot/chain/rpc.ts'

type Address = `0x${string}`

/**
 * What signs for the operator: EIP-712 typed data whose digest the caller has
 * already computed. A local key signs the digest; a remote signer is given the
 * typed data (it hashes it itself, as signers that show what they sign must).
 * Every signature is checked here before it is returned, so a signer that
 * answers with another key, a malleable twin or garbage never reaches the
 * sign log or the network.
 */
export interface OperatorSigner {
  readonly address: Address
  /** where the key lives, for logs: never a secret */
  readonly describe: string
  /** a canonical 65-byte signature (v 27/28, low s) by `address` over `digest` = hashTypedData(typedData) */
  sign(digest: Hex, typedData: TypedDataDefinition): Promise<Hex>
}

export class RemoteSignerError extends ArkError {
  override readonly name = 'RemoteSignerError'
}

export function localSigner(account: PrivateKeyAccount, describe = 'local key'): OperatorSigner {
  const address = account.address.toLowerCase() as Address
  return {
    address,
    describe,
    sign: async (digest) => {
      const sig = normalizeV(await account.sign({ hash: digest }))
      await checkSignature(digest, sig, address)
      return sig
    },
  }
}

/**
 * A JSON-RPC signer (Web3Signer's eth1 API, Clef, a wallet service, anvil's
 * unlocked accounts) called with eth_signTypedData_v4. The URL may carry
 * credentials (user:pass moves to an Authorization header; a key in the path
 * stays in the request): only its scheme and host appear in messages and logs.
 */
export class RemoteSigner implements OperatorSigner {
  readonly address: Address
  readonly describe: string
  private readonly endpoint: RpcEndpoint

  constructor(init: { url: string; address: Address; timeoutMs?: number }) {
    this.address = init.address.toLowerCase() as Address
    this.endpoint = new RpcEndpoint(init.url, { timeoutMs: init.timeoutMs ?? 10_000, retries: 2 })
    this.describe = `remote signer ${redact(init.url)}`
  }

  /** Refuse to start unless the signer answers and holds the configured address. */
  async check(signal?: AbortSignal): Promise<void> {
    let accounts: unknown
    try {
      accounts = await this.endpoint.request<unknown>('eth_accounts', [], signal)
    } catch (cause) {
      throw new RemoteSignerError('IO', `the ${this.describe} does not answer eth_accounts (${(cause as Error).message}); check key.remote.url and that the signer is running`, { cause, retryable: true })
    }
    if (!Array.isArray(accounts) || !accounts.some((a) => typeof a === 'string' && a.toLowerCase() === this.address)) {
      throw new RemoteSignerError('INVALID_INPUT', `the ${this.describe} does not hold ${this.address} (eth_accounts lists ${Array.isArray(accounts) ? accounts.length : 0} other account(s)); fix key.remote.address or load the key into the signer`)
    }
  }

  async sign(digest: Hex, typedData: TypedDataDefinition): Promise<Hex> {
    // eth_signTypedData_v4 wants the domain's own type listed (viem's wallet client adds it the same way)
    const json = serializeTypedData({ ...typedData, types: { EIP712Domain: getTypesForEIP712Domain({ domain: typedData.domain }), ...typedData.types } } as unknown as TypedDataDefinition)
    let answer: unknown
    try {
      answer = await this.endpoint.request<unknown>('eth_signTypedData_v4', [this.address, json])
    } catch (cause) {
      throw new RemoteSignerError('IO', `the ${this.describe} did not sign (${(cause as Error).message}); check that it is running and allows ${this.address} to sign EIP-712 data`, { cause, retryable: true })
    }
    if (typeof answer !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(answer)) throw new RemoteSignerError('IO', `the ${this.describe} answered eth_signTypedData_v4 with something that is not a 65-byte signature`, { retryable: true })
    const sig = normalizeV(answer as Hex)
    try {
      await checkSignature(digest, sig, this.address)
    } catch (cause) {
      throw new RemoteSignerError('IO', `the ${this.describe} returned a signature that does not verify for ${this.address} (${(cause as Error).message}); it may hash typed data differently or sign with another key. Nothing was published`, { cause })
    }
    return sig
  }
}
