import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ArkError } from '../../snapshot/ark-error.ts'
import { writeClusterFiles, type ClusterConfigOptions, type ClusterNodeFiles } from './cluster-config.ts'

export { CLUSTER_DEFAULTS, devnetOperatorKey } from './cluster-config.ts'

const BIN = fileURLToPath(new URL('../cli/bin.js', import.meta.url))
/** how long a node gets to stop after SIGTERM before SIGKILL */
const STOP_GRACE_MS = 10_000

export type NodeState = 'starting' | 'running' | 'paused' | 'stopping' | 'exited'
export type NodeAction = 'stop' | 'kill' | 'pause' | 'resume' | 'restart'
export const NODE_ACTIONS: readonly NodeAction[] = ['stop', 'kill', 'pause', 'resume', 'restart']

export interface ClusterOptions extends ClusterConfigOptions {
  /** called with every JSON line a node writes to stdout */
  onLog?: (node: number, line: Record<string, unknown>) => void
  /** called when a node process exits, except while the whole cluster stops */
  onExit?: (e: NodeExit) => void
  signal: AbortSignal
  /** the nodes' --log-level (default info); each node's output also goes to <dir>/node<i>/node.log */
  logLevel?: string
}

export interface ClusterNode extends ClusterNodeFiles {
  /** the current process (restart replaces it) */
  process: ChildProcess
  multiaddrs: string[]
  httpUrl: string | null
  /** the exit code of the current process (128 + signal number when killed by a signal) */
  exited: Promise<number>
  state: NodeState
}

export interface NodeExit {
  node: number
  code: number
  signal: NodeJS.Signals | null
  /** the last line the node wrote to stderr (its error), or '' */
  reason: string
  /** asked for through `control` (stop, kill, restart) rather than a crash */
  requested: boolean
}

export interface Cluster {
  /** the current state of each node */
  nodes: ClusterNode[]
  /** start node i again from its config and data dir (stopping it first if it runs); resolves once it is up */
  restart: (i: number) => Promise<ClusterNode>
  /** stop (SIGTERM), kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT) or restart node i */
  control: (i: number, action: NodeAction) => Promise<ClusterNode>
  /** how many nodes run and are not paused */
  live: () => number
  stop: () => Promise<void>
}

export class DevnetNodeError extends ArkError {
  override readonly name = 'DevnetNodeError'
}

const alive = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null

/**
 * Write the configs and start the archive nodes as separate processes, all at
 * once (the mesh is decided up front). A node that exits is reported through
 * onExit and the others keep running: the cluster stops only through stop().
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const files = await writeClusterFiles(o)
  const nodes: ClusterNode[] = []
  const all = new Set<ChildProcess>()
  const requested = new Set<ChildProcess>()
  let stopping = false

  const spawnNode = async (f: ClusterNodeFiles): Promise<ClusterNode> => {
    // stdin is the lifeline: if this process dies, the pipe closes and the node stops itself
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', f.configPath, '--dev-key', '--stdin-lifeline', '--log-level', o.logLevel ?? 'info'], { stdio: ['pipe', 'pipe', 'pipe'] })
    all.add(child)
    const log = createWriteStream(join(f.dataDir, 'node.log'), { flags: 'a' })
    log.on('error', () => {})
    const tail: string[] = []
    const exited = new Promise<number>((resolve) =>
      child.on('exit', (code, sig) => {
        all.delete(child)
        const c = code ?? 128 + (sig === null ? 0 : constants.signals[sig])
        const n = nodes[f.index]
        if (n?.process === child) n.state = 'exited'
        if (!stopping) o.onExit?.({ node: f.index, code: c, signal: sig, reason: tail.at(-1) ?? '', requested: requested.has(child) })
        log.end()
        resolve(c)
      }),
    )
    const node: ClusterNode = { ...f, process: child, multiaddrs: [], httpUrl: null, exited, state: 'starting' }
    const started = new Promise<Record<string, unknown>>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        log.write(`${l}\n`)
        let j: Record<string, unknown>
        try {
          j = JSON.parse(l) as Record<string, unknown>
        } catch {
          return
        }
        if (j.event === 'started') resolve(j)
        o.onLog?.(f.index, j)
      })
      createInterface({ input: child.stderr! }).on('line', (l) => {
        log.write(`${l}\n`)
        if (l.trim() === '') return
        tail.push(l)
        if (tail.length > 20) tail.shift()
      })
      exited.then((code) => reject(new DevnetNodeError('IO', `archive node ${f.index} exited with code ${code} before starting:\n${tail.join('\n')}\n(its output: ${join(f.dataDir, 'node.log')})`)), reject)
    })
    nodes[f.index] = node
    const s = await started
    node.multiaddrs = s.addrs as string[]
    node.httpUrl = (s.http as string | undefined) ?? null
    node.state = 'running'
    return node
  }

  const terminate = async (n: ClusterNode, sig: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const p = n.process
    if (!alive(p)) return
    requested.add(p)
    n.state = 'stopping'
    p.kill(sig)
    // a paused process holds a SIGTERM until it runs again
    p.kill('SIGCONT')
    const grace = setTimeout(() => alive(p) && p.kill('SIGKILL'), STOP_GRACE_MS)
    await n.exited
    clearTimeout(grace)
  }

  const nodeAt = (i: number): ClusterNode => {
    const n = nodes[i]
    if (!Number.isInteger(i) || n === undefined) throw new DevnetNodeError('USAGE', `no devnet node ${i}; the nodes are 0 to ${nodes.length - 1}`)
    return n
  }

  const restart = async (i: number): Promise<ClusterNode> => {
    const n = nodeAt(i)
    if (n.state === 'starting') throw new DevnetNodeError('USAGE', `node ${i} is starting already`)
    await terminate(n, 'SIGTERM')
    return spawnNode(files[i]!)
  }

  const control = async (i: number, action: NodeAction): Promise<ClusterNode> => {
    const n = nodeAt(i)
    if (action === 'restart') return restart(i)
    if (!alive(n.process) || n.state === 'stopping') throw new DevnetNodeError('USAGE', `node ${i} is not running (${n.state}); start it with "ark devnet node restart ${i}"`)
    if (action === 'stop' || action === 'kill') await terminate(n, action === 'stop' ? 'SIGTERM' : 'SIGKILL')
    else if (action === 'pause') {
      if (n.state !== 'running') throw new DevnetNodeError('USAGE', `node ${i} is ${n.state}; only a running node can be paused`)
      n.process.kill('SIGSTOP')
      n.state = 'paused'
    } else {
      if (n.state !== 'paused') throw new DevnetNodeError('USAGE', `node ${i} is ${n.state}, not paused`)
      n.process.kill('SIGCONT')
      n.state = 'running'
    }
    return n
  }

  const stop = async (): Promise<void> => {
    stopping = true
    const running = nodes.filter((n) => n !== undefined && alive(n.process))
    for (const n of [...running].reverse()) {
      n.process.kill('SIGTERM')
      n.process.kill('SIGCONT')
    }
    const grace = setTimeout(() => [...all].forEach((p) => alive(p) && p.kill('SIGKILL')), STOP_GRACE_MS)
    await Promise.all(running.map((n) => n.exited))
    clearTimeout(grace)
  }

  try {
    await Promise.all(files.map(spawnNode))
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, restart, control, live: () => nodes.filter((n) => n.state === 'running').length, stop }
}
