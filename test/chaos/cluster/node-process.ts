import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { track } from './cleanup.ts'

const BIN = fileURLToPath(new URL('../../../node/cli/bin.js', import.meta.url))

export type LogLine = Record<string, unknown>

/** One running `ark node start` process: its JSON log lines, its ports, and signals to send it. */
export interface NodeProcess {
  index: number
  child: ChildProcess
  pid: number
  /** the real libp2p listen port (the proxies forward to it) */
  p2pPort: number
  httpUrl: string
  exited: Promise<number>
  /** the last stderr lines, for failure messages */
  stderr: string[]
}

export interface SpawnOptions {
  index: number
  configPath: string
  onLog: (index: number, line: LogLine) => void
  logLevel?: string
  startTimeoutMs?: number
  /** the caller's set of its children, filled at spawn (before the node started), for its own cleanup */
  children?: Set<ChildProcess>
}

/** Start a node process and resolve once it printed its `started` line (or reject with its stderr). */
export async function spawnNode(o: SpawnOptions): Promise<NodeProcess> {
  // stdin is the lifeline: if the harness dies without cleaning up, the pipe closes and the node stops
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', o.configPath, '--dev-key', '--stdin-lifeline', '--log-level', o.logLevel ?? 'info'], { stdio: ['pipe', 'pipe', 'pipe'] })
  track(child)
  o.children?.add(child)
  child.once('exit', () => o.children?.delete(child))
  const stderr: string[] = []
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig === null ? 1 : 128))))
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l)
    if (stderr.length > 40) stderr.shift()
  })
  const started = new Promise<LogLine>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      let j: LogLine
      try {
        j = JSON.parse(l) as LogLine
      } catch {
        return
      }
      if (j.event === 'started') resolve(j)
      o.onLog(o.index, j)
    })
    void exited.then((code) => reject(new Error(`node ${o.index} exited with code ${code} before starting:\n${stderr.join('\n')}`)))
    const t = setTimeout(() => reject(new Error(`node ${o.index} did not start within ${o.startTimeoutMs ?? 180_000} ms:\n${stderr.join('\n')}`)), o.startTimeoutMs ?? 180_000)
    t.unref()
    void exited.finally(() => clearTimeout(t))
  })
  let s: LogLine
  try {
    s = await started
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  const addr = (s.addrs as string[]).find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr === undefined) throw new Error(`node ${o.index} listens on no 127.0.0.1 TCP address: ${JSON.stringify(s.addrs)}`)
  return { index: o.index, child, pid: child.pid!, p2pPort: Number(addr.split('/')[4]), httpUrl: s.http as string, exited, stderr }
}

/** Ask a running node to stop (SIGTERM), SIGKILL after a grace period. */
export async function stopNode(p: NodeProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill('SIGCONT')
  p.child.kill('SIGTERM')
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs)
  await p.exited
  clearTimeout(t)
}
