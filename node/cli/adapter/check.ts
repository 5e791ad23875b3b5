import { readFile } from 'node:fs/promises'
import { ChainSource, type Finality } from '../../../snapshot/chain/source.ts'
import { RpcEndpoint } from '../../../snapshot/chain/rpc.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { checkConformance } from '../../adapters/conformance.ts'
import { loadAdapter } from '../../adapters/load.ts'
import { required, UsageError, type Command } from '../command.ts'

const block = (v: string, flag: string): bigint => {
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`${flag} must be a block number, got ${JSON.stringify(v)}`)
  return BigInt(v)
}

export const adapterCheckCommand: Command = {
  name: 'check',
  summary: 'Conformance kit for an adapter: spot checks at every checkpoint, determinism, incremental == from scratch, round trips, canonical rejects; each failure names account and field.',
  usage: 'ark adapter check --module ID|MODULE --config adapter.json --rpc URL --from BLOCK --to BLOCK [--checkpoints N] [--confirmations N] [--json]',
  options: {
    module: { type: 'string', description: 'the adapter: a built-in id, an installed package name or a module path' },
    config: { type: 'string', description: 'adapter config JSON file' },
    rpc: { type: 'string', multiple: true, description: 'JSON-RPC endpoint (repeat for several)' },
    from: { type: 'string', description: 'first checkpoint block (at or after the adapter start block)' },
    to: { type: 'string', description: 'last checkpoint block' },
    checkpoints: { type: 'string', description: 'checkpoints between --from and --to, inclusive (default 3)' },
    confirmations: { type: 'string', description: 'finality by confirmations instead of the "finalized" tag (default 0: a devnet)' },
  },
  async run({ values, json, io, signal }) {
    const rpcUrls = (values.rpc as string[] | undefined) ?? []
    if (rpcUrls.length === 0) throw new UsageError(`--rpc is required\n\nusage: ${this.usage}`)
    const adapter = await loadAdapter(required(values, 'module', this))
    const configPath = required(values, 'config', this)
    let configJson: unknown
    try {
      configJson = JSON.parse(await readFile(configPath, 'utf8'))
    } catch (cause) {
      throw new InvalidInputError(`cannot read adapter config ${configPath}: ${(cause as Error).message}; pass a JSON file`, { cause })
    }
    const config = adapter.parseConfig(configJson)
    const from = block(required(values, 'from', this), '--from')
    const to = block(required(values, 'to', this), '--to')
    if (to < from) throw new UsageError('--to must not be before --from')
    const n = values.checkpoints === undefined ? undefined : Number(block(values.checkpoints as string, '--checkpoints'))
    const conf = values.confirmations === undefined ? 0 : Number(block(values.confirmations as string, '--confirmations'))
    const finality: Finality = { kind: 'confirmations', confirmations: conf }
    const chainId = BigInt(await new RpcEndpoint(rpcUrls[0]!).request<string>('eth_chainId', [], signal))
    const source = new ChainSource({ rpcUrls, chainId, finality })
    const report = await checkConformance({ adapter: adapter as never, config, source, from, to, ...(n === undefined ? {} : { checkpoints: n }), signal })
    if (json) io.stdout(`${JSON.stringify(report)}\n`)
    else {
      const lines = [`adapter ${report.adapter} ${report.version} (schema ${report.schema}): ${report.ok ? 'conforms' : `${report.failures.length} failure(s)`}`]
      for (const c of report.checkpoints) lines.push(`  block ${c.block}: ${c.accounts} accounts, ${c.snapshot}`)
      for (const f of report.failures) lines.push(`  FAIL ${f.check} at block ${f.block}${f.account === undefined ? '' : ` account ${f.account}`}${f.field === undefined ? '' : ` field ${f.field}`}: ${f.message}`)
      io.stdout(`${lines.join('\n')}\n`)
    }
    if (!report.ok) throw new ArkError('INVALID_INPUT', `adapter ${report.adapter} does not conform: ${report.failures.length} failure(s), each listed with its block, account and field; fix the adapter (SPEC §7)`)
  },
}
