/** A 0x-prefixed 20-byte hex address, any case (checksums are not required in configs and flags). */
export const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/

export function isAddress(v: unknown): v is `0x${string}` {
  return typeof v === 'string' && ADDRESS_PATTERN.test(v)
}
