/**
 * EIP-712 definitions of everything an operator signs (PROTOCOL.md §2).
 * The domain is bound to the chain being snapshotted, so a signature for one
 * chain can never count on another; `verifyingContract` is left out so the
 * same signature verifies against a file-based operator set and on-chain.
 */
export const EIP712_NAME = 'Ark'
export const EIP712_VERSION = '1'

export function arkDomain(chainId: bigint): { name: string; version: string; chainId: bigint } {
  return { name: EIP712_NAME, version: EIP712_VERSION, chainId }
}

export const ATTESTATION_TYPES = {
  Attestation: [
    { name: 'chainId', type: 'uint256' },
    { name: 'adapterId', type: 'string' },
    { name: 'configHash', type: 'bytes32' },
    { name: 'blockNumber', type: 'uint64' },
    { name: 'blockHash', type: 'bytes32' },
    { name: 'snapshotCid', type: 'bytes' },
    { name: 'stateRoot', type: 'bytes32' },
    { name: 'specVersion', type: 'uint32' },
    { name: 'kind', type: 'uint8' },
  ],
} as const

/** Watchdog alerts (PROTOCOL.md §12.3). */
export const ALERT_TYPES = {
  Alert: [
    { name: 'chainId', type: 'uint256' },
    { name: 'adapterId', type: 'string' },
    { name: 'configHash', type: 'bytes32' },
    { name: 'paramsHash', type: 'bytes32' },
    { name: 'kind', type: 'uint8' },
    { name: 'subject', type: 'address' },
    { name: 'sinceBlock', type: 'uint64' },
    { name: 'block', type: 'uint64' },
    { name: 'values', type: 'int256[]' },
  ],
} as const

export const EIP712_DOMAIN_TYPE = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
] as const
