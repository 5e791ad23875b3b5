import { stat } from 'node:fs/promises'
import { openCar } from '../open-car.ts'
import type { Command } from '../command.ts'
import { assetInfo, marketTables } from '../recovery/tables.ts'
import { LABEL_RPC_OPTION, labelsFromChain } from '../recovery/token-labels.ts'

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show a snapshot CAR: root fields, counts and sizes (every block is hash-checked on load); on a terminal also its collateral assets and markets.',
  usage: 'ark snapshot inspect state.car [--verify] [--json] [--rpc URL]',
  options: { verify: { type: 'boolean', description: 'also recompute the tree layout, account count and stateRoot' }, ...LABEL_RPC_OPTION },
  positionals: [1, 1],
  async run({ values, positionals, json, io, signal }) {
    const path = positionals[0]!
    const s = await openCar(path)
    if (values.verify === true) await s.verify()
    const index = await s.treeIndex()
    let blocks = 0
    let bytes = 0
    for await (const cid of s.blockCids()) {
      blocks++
      bytes += (await s.store.get(cid)).length
    }
    const decoded = await s.markets()
    const markets = s.schema.markets.toJSON(decoded) as { markets?: unknown[]; assets?: unknown[] }
    const r = s.root
    const info = {
      file: path,
      fileBytes: (await stat(path)).size,
      root: s.cid.toString(),
      specVersion: r.version,
      block: { chainId: r.block.chainId.toString(), number: r.block.number.toString(), hash: r.block.hash, timestamp: r.block.timestamp.toString() },
      adapter: r.adapter,
      schema: r.schema,
      accountCount: r.accountCount,
      stateRoot: r.stateRoot,
      markets: markets.markets?.length ?? null,
      assets: markets.assets?.length ?? null,
      tree: { root: r.accounts?.toString() ?? null, height: index.levels.length, nodesPerLevel: index.levels.map((l) => l.refs.length) },
      blocks,
      blockBytes: bytes,
      verified: values.verify === true,
    }
    if (json) io.stdout(`${JSON.stringify(info)}\n`)
    else {
      io.stdout(
        [
          `snapshot   ${info.root}${info.verified ? '  (verified)' : ''}`,
          `spec       v${info.specVersion}   schema ${r.schema.id} v${r.schema.version}`,
          `block      chain ${info.block.chainId}  #${info.block.number}  ${info.block.hash}  t=${info.block.timestamp}`,
          `adapter    ${r.adapter.id} ${r.adapter.version}  config ${r.adapter.configHash}`,
          `accounts   ${info.accountCount}`,
          `stateRoot  ${info.stateRoot}`,
          `markets    ${info.markets ?? '-'}   assets ${info.assets ?? '-'}`,
          `tree       height ${info.tree.height}, nodes per level ${info.tree.nodesPerLevel.join('/')}`,
          `blocks     ${info.blocks} (${info.blockBytes} bytes; file ${info.fileBytes} bytes)`,
          '',
        ].join('\n'),
      )
      if (io.tty) {
        const info = assetInfo(decoded)
        const warning = await labelsFromChain(info, [...info.keys()], r, values, signal)
        if (warning !== undefined) io.stderr(warning)
        io.stdout(marketTables(decoded, info))
      }
    }
  },
}
