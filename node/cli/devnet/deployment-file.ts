import { readFile } from 'node:fs/promises'
import type { ReferenceDeployment } from '../../devnet/deploy.ts'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'

/** deployment.json: the devnet's contract addresses, bigints as decimal strings. */
export async function writeDeployment(path: string, d: ReferenceDeployment): Promise<void> {
  await writeFileAtomic(path, [`${JSON.stringify(d, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`])
}

export async function readDeployment(path: string): Promise<ReferenceDeployment> {
  let j: Record<string, unknown>
  try {
    j = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch (cause) {
    throw new InvalidInputError(`cannot read deployment ${path}: ${(cause as Error).message}; it is written by "ark devnet start"`, { cause })
  }
  const markets = (j.markets as Record<string, unknown>[] | undefined) ?? []
  return {
    ...(j as unknown as ReferenceDeployment),
    deployBlock: BigInt(j.deployBlock as string),
    markets: markets.map((m) => ({ ...(m as unknown as ReferenceDeployment['markets'][number]), initialMarginRatio: BigInt(m.initialMarginRatio as string), maintenanceMarginRatio: BigInt(m.maintenanceMarginRatio as string), liquidationFee: BigInt(m.liquidationFee as string), fundingFactor: BigInt(m.fundingFactor as string) })),
  }
}
