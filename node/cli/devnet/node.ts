import { resolve } from 'node:path'
import { NODE_ACTIONS, type NodeAction } from '../../devnet/cluster.ts'
import { controlRequest } from '../../devnet/control.ts'
import { UsageError, type Command } from '../command.ts'
import { DEVNET_DEFAULTS } from './start.ts'

const SIGNALS: Record<NodeAction, string> = { stop: 'SIGTERM', kill: 'SIGKILL', pause: 'SIGSTOP', resume: 'SIGCONT', restart: 'SIGTERM, then start again with the same data directory' }

export const nodeCommand: Command = {
  name: 'node',
  summary: 'Act on one node of the devnet running in --dir: stop (SIGTERM), kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT), restart (same data directory); status lists the nodes.',
  usage: `ark devnet node stop|kill|pause|resume|restart N [--dir DIR] [--json]\n       ark devnet node status [--dir DIR] [--json]`,
  options: {
    dir: { type: 'string', description: `the running devnet's --dir (default ${DEVNET_DEFAULTS.dir})` },
  },
  positionals: [1, 2],
  async run({ values, positionals, json, io }) {
    const dir = resolve((values.dir as string | undefined) ?? DEVNET_DEFAULTS.dir)
    const [action, index] = positionals as [string, string | undefined]
    if (action === 'status') {
      if (index !== undefined) throw new UsageError(`"status" takes no node number\n\nusage: ${this.usage}`)
      const s = (await controlRequest(dir, 'GET', '/status')) as { nodes: { index: number; state: string; pid?: number; http: string | null }[]; text: string }
      io.stdout(json ? `${JSON.stringify(s)}\n` : `${s.nodes.map((n) => `node ${n.index}  ${n.state.padEnd(8)}  pid ${n.pid ?? '-'}  ${n.http ?? ''}`).join('\n')}\n${s.text}\n`)
      return
    }
    if (!NODE_ACTIONS.includes(action as NodeAction)) throw new UsageError(`unknown action ${JSON.stringify(action)}; expected one of ${NODE_ACTIONS.join(', ')}, status\n\nusage: ${this.usage}`)
    if (index === undefined || !/^[0-9]{1,3}$/.test(index)) throw new UsageError(`"${action}" needs a node number, e.g. "ark devnet node ${action} 0"\n\nusage: ${this.usage}`)
    const r = (await controlRequest(dir, 'POST', `/nodes/${Number(index)}/${action}`)) as { state: string; pid?: number; text?: string; live: number; needed: number; quorumReachable: boolean }
    io.stdout(json ? `${JSON.stringify(r)}\n` : `node ${index}: ${SIGNALS[action as NodeAction]} → ${r.state}${r.pid === undefined ? '' : ` (pid ${r.pid})`}; ${r.live} operator(s) running, quorum ${r.quorumReachable ? 'reachable' : `NOT reachable (needs ${r.needed})`}\n`)
  },
}
