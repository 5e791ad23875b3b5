import { required, UsageError, type Command } from '../command.ts'

/** What `ark fetch` and `ark mirror` both read first: the sources, the chain and the adapter. */
export function sourceOptions(values: Record<string, unknown>, cmd: Command): { peers: string[]; gateways: string[]; chainId: bigint; adapterId: string } {
  const peers = (values.peer as string[] | undefined) ?? []
  const gateways = (values.gateway as string[] | undefined) ?? []
  if (peers.length + gateways.length === 0) throw new UsageError(`give at least one source: --peer MULTIADDR or --gateway URL\n\nusage: ${cmd.usage}`)
  const chain = required(values, 'chain', cmd)
  if (!/^[0-9]+$/.test(chain)) throw new UsageError('--chain must be a chain id (integer)')
  return { peers, gateways, chainId: BigInt(chain), adapterId: required(values, 'adapter', cmd) }
}
