/**
 * The one JSON replacer for bigints: decimal strings, exact at any size (JSON numbers lose
 * precision past 2^53). Every JSON Ark writes for people and tools (API, CLI files, devnet state)
 * uses it, so amounts read the same everywhere.
 */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
