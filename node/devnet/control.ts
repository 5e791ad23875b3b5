import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { connect } from 'node:net'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DevnetNodeError, NODE_ACTIONS, type NodeAction } from './cluster.ts'

/** The control socket of a running devnet: a unix socket in its --dir (only its owner can reach it: mode 0600). */
export const CONTROL_SOCKET = 'control.sock'
/** sun_path is 108 bytes on Linux, 104 on macOS */
const MAX_SOCKET_PATH = 100
const MAX_BODY = 64 * 1024

export interface ControlHandlers {
  /** the devnet's state, for `ark devnet node status` */
  status: () => Record<string, unknown>
  node: (i: number, action: NodeAction) => Promise<Record<string, unknown>>
}

export function controlSocketPath(dir: string): string {
  const path = join(dir, CONTROL_SOCKET)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new DevnetNodeError('USAGE', `the devnet's control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes, the limit for unix sockets; use a shorter --dir`)
  return path
}

const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(path)
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })

const reply = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`)
}

/** Throws when a devnet runs in `dir` (its control socket answers); the socket path otherwise. */
export async function ensureNoDevnetRunning(dir: string): Promise<string> {
  const path = controlSocketPath(dir)
  if (await answers(path)) throw new DevnetNodeError('USAGE', `another devnet is running in ${dir} (its control socket ${path} answers); stop it, or use another --dir`)
  return path
}

/**
 * Serve POST /nodes/{i}/{stop|kill|pause|resume|restart} and GET /status on
 * the control socket. A socket left by a devnet that died is replaced; one
 * that answers means another devnet runs in this directory.
 */
export async function serveControl(dir: string, h: ControlHandlers): Promise<{ close: () => Promise<void> }> {
  const path = await ensureNoDevnetRunning(dir)
  await rm(path, { force: true })
  const server: Server = createServer((req, res) => {
    const m = /^\/nodes\/([0-9]{1,3})\/([a-z]+)$/.exec(req.url ?? '')
    req.resume()
    if (req.method === 'GET' && req.url === '/status') return reply(res, 200, h.status())
    if (req.method !== 'POST' || m === null || !NODE_ACTIONS.includes(m[2] as NodeAction)) return reply(res, 404, { error: { code: 'USAGE', message: `unknown request ${req.method ?? ''} ${req.url ?? ''}; expected POST /nodes/{i}/{${NODE_ACTIONS.join('|')}}` } })
    void h.node(Number(m[1]), m[2] as NodeAction).then(
      (r) => reply(res, 200, r),
      (err: unknown) => reply(res, err instanceof DevnetNodeError && err.code === 'USAGE' ? 400 : 500, { error: { code: err instanceof DevnetNodeError ? err.code : 'IO', message: (err as Error).message } }),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // umask for the bind: the socket file is created 0600
    const old = process.umask(0o177)
    try {
      server.listen(path, () => resolve())
    } finally {
      process.umask(old)
    }
  })
  return {
    close: async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await rm(path, { force: true })
    },
  }
}

/** One request to the devnet running in `dir`; a clear error when none runs there. */
export async function controlRequest(dir: string, method: 'GET' | 'POST', path: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const socketPath = controlSocketPath(dir)
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs }, resolve)
    req.on('timeout', () => req.destroy(new DevnetNodeError('IO', `the devnet in ${dir} did not answer within ${timeoutMs / 1000} s`, { retryable: true })))
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new DevnetNodeError('USAGE', `no devnet is running in ${dir} (no control socket answers at ${socketPath}); start one with "ark devnet start --dir ${dir}", or pass the --dir it runs in`) : err),
    )
    req.end()
  })
  let body = ''
  for await (const chunk of res) {
    body += String(chunk)
    if (body.length > MAX_BODY) throw new DevnetNodeError('IO', `the devnet's control answer is larger than ${MAX_BODY} bytes`)
  }
  const j = JSON.parse(body) as Record<string, unknown> & { error?: { code: string; message: string } }
  if (j.error !== undefined) throw new DevnetNodeError(res.statusCode === 400 || res.statusCode === 404 ? 'USAGE' : 'IO', j.error.message)
  return j
}
