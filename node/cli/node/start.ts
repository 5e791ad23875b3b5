import { pino } from 'pino'
import { loadNodeConfig } from '../../archive/config.ts'
import { ArchiveNode } from '../../archive/node.ts'
import { required, type Command } from '../command.ts'
import { logLevel } from '../log-level.ts'
import { bigintReplacer } from '../../../snapshot/codec/json.ts'

export const nodeStartCommand: Command = {
  name: 'start',
  summary: 'Run an archive node: derive each checkpoint, attest, gossip, aggregate certificates, store and serve snapshots.',
  usage: 'ark node start --config node.json [--dev-key] [--log-level info]',
  options: {
    config: { type: 'string', description: 'node config file (see deploy/node.example.json)' },
    'dev-key': { type: 'boolean', description: 'accept a plain (unencrypted) development key file' },
    'log-level': { type: 'string', description: 'trace|debug|info|warn|error|fatal|silent (default ARK_LOG_LEVEL, else info)' },
    'stdin-lifeline': { type: 'boolean', description: 'stop when stdin closes (for supervisors such as the devnet: a dead parent never leaves an orphan node)' },
  },
  async run({ values, signal, io }) {
    // flags and environment first: a bad level is a usage error before any file is read
    const level = logLevel(values['log-level'])
    const config = await loadNodeConfig(required(values, 'config', this))
    const logger = pino({ level, base: { node: config.dataDir } })
    const node = new ArchiveNode({ config, devKey: values['dev-key'] === true, logger })
    await node.start()
    io.stdout(`${JSON.stringify({ event: 'started', ...node.status(), addrs: node.network.multiaddrs().map(String) }, bigintReplacer)}\n`)
    await new Promise<void>((resolve) => {
      if (values['stdin-lifeline'] === true) {
        process.stdin.on('end', () => resolve())
        process.stdin.on('close', () => resolve())
        process.stdin.resume()
      }
      if (signal.aborted) resolve()
      signal.addEventListener('abort', () => resolve(), { once: true })
      node.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await node.stop()
    // let go of the lifeline, or the open pipe keeps the process alive after the node stopped
    if (values['stdin-lifeline'] === true) process.stdin.destroy()
    if (node.fatal !== undefined) throw node.fatal
  },
}
