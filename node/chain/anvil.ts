import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { AnvilError, AnvilPortInUseError } from './anvil-error.ts'

/**
 * Starts a local anvil (from the @foundry-rs/anvil npm package) on 127.0.0.1 and makes sure it never
 * outlives this process: stop() kills it and waits for the exit; a process 'exit' hook and
 * SIGINT/SIGTERM/SIGHUP hooks kill whatever is still running.
 */

export const ANVIL_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  chainId: 31337,
  accounts: 10,
  /** ETH per dev account. */
  balance: 10_000,
  mnemonic: 'test test test test test test test test test test test junk',
  silent: true,
  startupTimeoutMs: 30_000,
  stopTimeoutMs: 5_000,
  /** Attempts with a fresh port when the probed port was taken before anvil bound it. */
  portAttempts: 5,
})

export interface StartAnvilOptions {
  chainId?: number
  /** Interval mining in seconds; default is automine. */
  blockTime?: number
  /** Start with automine off (mine with evm_mine). */
  noMining?: boolean
  accounts?: number
  balance?: number
  mnemonic?: string
  /** Genesis block timestamp (seconds). */
  timestamp?: number | bigint
  /** Passes --silent (default true); otherwise anvil's stdout goes to onOutput. */
  silent?: boolean
  onOutput?: (chunk: string) => void
  gasLimit?: number | bigint
  disableBlockGasLimit?: boolean
  /** Initial base fee per gas in wei. */
  baseFee?: number | bigint
  order?: 'fees' | 'fifo'
  hardfork?: string
  /** A fixed port instead of a free one (no retry). */
  port?: number
  extraArgs?: readonly string[]
  /** Path of the anvil binary; default: the platform package of @foundry-rs/anvil. */
  binary?: string
  signal?: AbortSignal
  startupTimeoutMs?: number
}

export interface AnvilInstance {
  rpcUrl: string
  port: number
  stop(): Promise<void>
  process: ChildProcess
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }

/** Resolves the anvil binary shipped by the @foundry-rs/anvil-<platform>-<arch> package. */
export function anvilBinary(): string {
  const arch = ARCH[process.arch]
  if (arch === undefined || !['linux', 'darwin', 'win32'].includes(process.platform)) {
    throw new AnvilError(`no @foundry-rs/anvil build for ${process.platform}/${process.arch}`)
  }
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  const require = createRequire(import.meta.url)
  let manifest: string
  try {
    manifest = require.resolve(`${pkg}/package.json`)
  } catch {
    throw new AnvilError(`${pkg} is not installed (optional dependency of @foundry-rs/anvil)`)
  }
  return join(dirname(manifest), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
}

// ---------------------------------------------------------------- orphan protection

const live = new Set<ChildProcess>()
let hooked = false

function killAllNow(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

function installHooks(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Prepended so it runs before other listeners (and before `once` wrappers remove themselves),
    // which lets it see whether anyone else handles the signal.
    const onSignal = (): void => {
      killAllNow()
      if (process.listenerCount(sig) === 1) {
        // Nobody else handles it: restore the default action (terminate) as if we were not here.
        process.removeListener(sig, onSignal)
        process.kill(process.pid, sig)
      }
    }
    process.prependListener(sig, onSignal)
  }
}

// ---------------------------------------------------------------- start

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function buildArgs(o: StartAnvilOptions, port: number): string[] {
  const args = [
    '--host', ANVIL_DEFAULTS.host,
    '--port', String(port),
    '--chain-id', String(o.chainId ?? ANVIL_DEFAULTS.chainId),
    '--accounts', String(o.accounts ?? ANVIL_DEFAULTS.accounts),
    '--balance', String(o.balance ?? ANVIL_DEFAULTS.balance),
    '--mnemonic', o.mnemonic ?? ANVIL_DEFAULTS.mnemonic,
  ]
  if (o.blockTime !== undefined) args.push('--block-time', String(o.blockTime))
  if (o.noMining === true) args.push('--no-mining')
  if (o.timestamp !== undefined) args.push('--timestamp', String(o.timestamp))
  if (o.silent ?? ANVIL_DEFAULTS.silent) args.push('--silent')
  if (o.gasLimit !== undefined) args.push('--gas-limit', String(o.gasLimit))
  if (o.disableBlockGasLimit === true) args.push('--disable-block-gas-limit')
  if (o.baseFee !== undefined) args.push('--base-fee', String(o.baseFee))
  if (o.order !== undefined) args.push('--order', o.order)
  if (o.hardfork !== undefined) args.push('--hardfork', o.hardfork)
  if (o.extraArgs !== undefined) args.push(...o.extraArgs)
  return args
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error }


const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason as Error) }, { once: true })
  })

async function chainIdOf(rpcUrl: string, signal: AbortSignal): Promise<number | undefined> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]),
    })
    const body = (await res.json()) as { result?: string }
    return body.result === undefined ? undefined : Number(body.result)
  } catch (err) {
    if (signal.aborted) throw signal.reason
    void err // not listening yet
    return undefined
  }
}

async function launch(o: StartAnvilOptions, port: number, binary: string, signal: AbortSignal): Promise<AnvilInstance> {
  const silent = o.silent ?? ANVIL_DEFAULTS.silent
  const child = spawn(binary, buildArgs(o, port), { stdio: ['ignore', silent ? 'ignore' : 'pipe', 'pipe'], windowsHide: true })
  live.add(child)
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-8_192) })
  if (!silent) {
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => o.onOutput?.(chunk))
  }
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }))
    child.once('exit', (code, sig) => resolve({ code, signal: sig }))
  })
  exited.then(() => live.delete(child), () => live.delete(child))

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), ANVIL_DEFAULTS.stopTimeoutMs)
        await exited
        clearTimeout(timer)
      } else {
        await exited
      }
      live.delete(child)
    })()
    return stopping
  }

  const rpcUrl = `http://${ANVIL_DEFAULTS.host}:${port}`
  const expected = o.chainId ?? ANVIL_DEFAULTS.chainId
  const settled = new AbortController()
  const polling = AbortSignal.any([signal, settled.signal])
  const exitedEarly = exited.then((e) => {
    if (settled.signal.aborted) return
    const msg = e.error?.message ?? stderr.trim()
    if (/address already in use|addrinuse|os error 98|os error 48/i.test(msg)) throw new AnvilPortInUseError(msg)
    throw new AnvilError(`anvil exited during startup (code ${e.code}, signal ${e.signal}): ${msg || '(no output)'}`)
  })
  const ready = (async () => {
    for (;;) {
      const id = await chainIdOf(rpcUrl, polling)
      if (id !== undefined) {
        if (id !== expected) throw new AnvilError(`anvil on ${rpcUrl} reports chain id ${id}, expected ${expected}`)
        return
      }
      await sleep(25, polling)
    }
  })()
  try {
    await Promise.race([ready, exitedEarly])
  } catch (err) {
    await stop()
    throw err
  } finally {
    settled.abort()
    ready.catch(() => {})
    exitedEarly.catch(() => {})
  }
  return { rpcUrl, port, stop, process: child }
}

/**
 * Spawns anvil on 127.0.0.1 on a free port and resolves once it answers eth_chainId. `--port 0` is not
 * supported by anvil, so a port is probed by binding a server to port 0, and the start is retried
 * with a new port if anvil finds it taken.
 */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  installHooks()
  const binary = options.binary ?? anvilBinary()
  const timeoutMs = options.startupTimeoutMs ?? ANVIL_DEFAULTS.startupTimeoutMs
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  const attempts = options.port === undefined ? ANVIL_DEFAULTS.portAttempts : 1
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted()
    const port = options.port ?? (await freePort(ANVIL_DEFAULTS.host))
    try {
      return await launch(options, port, binary, signal)
    } catch (err) {
      if (err instanceof AnvilPortInUseError && attempt < attempts) continue
      if (timeout.aborted && !(options.signal?.aborted ?? false)) {
        throw new AnvilError(`anvil did not answer eth_chainId within ${timeoutMs} ms`, { cause: err })
      }
      throw err
    }
  }
}
