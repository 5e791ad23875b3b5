import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { parseWatchdogConfig } from '../watchdog/options.ts'
import { isAddress } from '../../snapshot/codec/address.ts'

/**
 * The node's one config file (JSON). Relative paths are resolved against the
 * file's directory. Environment variables override secrets and paths:
 * ARK_DATA_DIR, ARK_RPC_URLS (comma-separated), ARK_KEYSTORE_PASSWORD,
 * ARK_KEYSTORE_PASSWORD_FILE, ARK_HTTP_PORT.
 */
export interface NodeConfig {
  dataDir: string
  chain: { chainId: bigint; rpc: string[]; finality: { kind: 'finalized' } | { kind: 'confirmations'; confirmations: number } }
  /** module: a package name or path (relative to this file) of an adapter module (SPEC §7); default the built-in adapter `id` */
  adapter: { id: string; module?: string; config: unknown }
  checkpoint: { interval: bigint; quorumTimeoutMs: number; pollMs: number; firstBlock?: bigint }
  operators: { file: string } | { registry: `0x${string}` }
  key: { keystore: string; passwordFile?: string } | { devPrivateKeyFile: string }
  /** announce: the addresses peers are told to dial (behind NAT, a proxy or a load balancer); default the listen addresses */
  p2p: { listen: string[]; bootstrap: string[]; announce?: string[] }
  http: { host: string; port: number; admin: boolean }
  retention: { keepLast: number; keepEvery: number }
  /** optional watchdog (node/watchdog/options.ts, PROTOCOL.md §12) */
  watchdog?: ReturnType<typeof parseWatchdogConfig>
}

export const NODE_DEFAULTS = Object.freeze({
  quorumTimeoutMs: 30_000,
  pollMs: 500,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  http: { host: '127.0.0.1', port: 8545 + 1000, admin: false },
  retention: { keepLast: 64, keepEvery: 1000 },
})

type Obj = Record<string, unknown>

function obj(v: unknown, key: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidInputError(`config "${key}" must be an object`)
  return v as Obj
}

function only(o: Obj, key: string, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidInputError(`config "${key}" has unknown key "${k}"; allowed: ${allowed.join(', ')}`)
}

function str(v: unknown, key: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidInputError(`config "${key}" must be a non-empty string`)
  return v
}

function int(v: unknown, key: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidInputError(`config "${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`)
  return v
}

function port(v: unknown, key: string): number {
  const p = int(v, key)
  if (p > 65535) throw new InvalidInputError(`config "${key}" must be a TCP port (0-65535; 0 picks a free one), got ${p}`)
  return p
}

/** A relative module path is relative to the config file; a package name stays a name. */
function adapterModule(spec: string, baseDir: string): string {
  return spec.startsWith('./') || spec.startsWith('../') ? resolve(baseDir, spec) : spec
}

export function parseNodeConfig(json: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const root = obj(json, '(root)')
  only(root, '(root)', ['dataDir', 'chain', 'adapter', 'checkpoint', 'operators', 'key', 'p2p', 'http', 'retention', 'watchdog'])
  const path = (p: string): string => resolve(baseDir, p)
  const chain = obj(root.chain, 'chain')
  only(chain, 'chain', ['chainId', 'rpc', 'finality'])
  const rpc = env.ARK_RPC_URLS !== undefined && env.ARK_RPC_URLS !== '' ? env.ARK_RPC_URLS.split(',') : chain.rpc
  if (!Array.isArray(rpc) || rpc.length === 0 || !rpc.every((u) => typeof u === 'string' && /^https?:\/\//.test(u))) throw new InvalidInputError('config "chain.rpc" must be a non-empty list of http(s) URLs (or set ARK_RPC_URLS)')
  const fin = chain.finality ?? 'finalized'
  const finality = fin === 'finalized' ? ({ kind: 'finalized' } as const) : { kind: 'confirmations' as const, confirmations: int(obj(fin, 'chain.finality').confirmations, 'chain.finality.confirmations') }
  const adapter = obj(root.adapter, 'adapter')
  only(adapter, 'adapter', ['id', 'module', 'config'])
  const cp = obj(root.checkpoint ?? {}, 'checkpoint')
  only(cp, 'checkpoint', ['interval', 'quorumTimeoutMs', 'pollMs', 'firstBlock'])
  const ops = obj(root.operators, 'operators')
  only(ops, 'operators', ['file', 'registry'])
  let operators: NodeConfig['operators']
  if (typeof ops.file === 'string') operators = { file: path(ops.file) }
  else if (isAddress(ops.registry)) operators = { registry: ops.registry.toLowerCase() as `0x${string}` }
  else throw new InvalidInputError('config "operators" must be {"file": "operators.json"} or {"registry": "0x…"}')
  const key = obj(root.key, 'key')
  only(key, 'key', ['keystore', 'passwordFile', 'devPrivateKeyFile'])
  let keyCfg: NodeConfig['key']
  if (typeof key.keystore === 'string') keyCfg = { keystore: path(key.keystore), ...(typeof key.passwordFile === 'string' ? { passwordFile: path(key.passwordFile) } : {}) }
  else if (typeof key.devPrivateKeyFile === 'string') keyCfg = { devPrivateKeyFile: path(key.devPrivateKeyFile) }
  else throw new InvalidInputError('config "key" must be {"keystore": "key.json", "passwordFile"?: "…"} (or {"devPrivateKeyFile": "…"} with --dev-key)')
  const p2p = obj(root.p2p ?? {}, 'p2p')
  only(p2p, 'p2p', ['listen', 'bootstrap', 'announce'])
  const http = obj(root.http ?? {}, 'http')
  only(http, 'http', ['host', 'port', 'admin'])
  const ret = obj(root.retention ?? {}, 'retention')
  only(ret, 'retention', ['keepLast', 'keepEvery'])
  const list = (v: unknown, k: string, d: string[]): string[] => {
    if (v === undefined) return d
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidInputError(`config "${k}" must be a list of multiaddr strings`)
    return v as string[]
  }
  const chainId = int(chain.chainId, 'chain.chainId', 1)
  return {
    dataDir: path(env.ARK_DATA_DIR ?? str(root.dataDir, 'dataDir')),
    chain: { chainId: BigInt(chainId), rpc: rpc as string[], finality },
    adapter: { id: str(adapter.id, 'adapter.id'), ...(adapter.module === undefined ? {} : { module: adapterModule(str(adapter.module, 'adapter.module'), baseDir) }), config: adapter.config },
    checkpoint: {
      interval: BigInt(int(cp.interval, 'checkpoint.interval', 1)),
      quorumTimeoutMs: cp.quorumTimeoutMs === undefined ? NODE_DEFAULTS.quorumTimeoutMs : int(cp.quorumTimeoutMs, 'checkpoint.quorumTimeoutMs', 100),
      pollMs: cp.pollMs === undefined ? NODE_DEFAULTS.pollMs : int(cp.pollMs, 'checkpoint.pollMs', 10),
      ...(cp.firstBlock === undefined ? {} : { firstBlock: BigInt(int(cp.firstBlock, 'checkpoint.firstBlock')) }),
    },
    operators,
    key: keyCfg,
    p2p: { listen: list(p2p.listen, 'p2p.listen', [...NODE_DEFAULTS.listen]), bootstrap: list(p2p.bootstrap, 'p2p.bootstrap', []), ...(p2p.announce === undefined ? {} : { announce: list(p2p.announce, 'p2p.announce', []) }) },
    http: {
      host: http.host === undefined ? NODE_DEFAULTS.http.host : str(http.host, 'http.host'),
      port: port(env.ARK_HTTP_PORT !== undefined && env.ARK_HTTP_PORT !== '' ? Number(env.ARK_HTTP_PORT) : http.port === undefined ? NODE_DEFAULTS.http.port : http.port, env.ARK_HTTP_PORT ? 'ARK_HTTP_PORT' : 'http.port'),
      admin: http.admin === true,
    },
    retention: { keepLast: ret.keepLast === undefined ? NODE_DEFAULTS.retention.keepLast : int(ret.keepLast, 'retention.keepLast', 1), keepEvery: ret.keepEvery === undefined ? NODE_DEFAULTS.retention.keepEvery : int(ret.keepEvery, 'retention.keepEvery', 1) },
    ...(root.watchdog === undefined ? {} : { watchdog: parseWatchdogConfig(root.watchdog, path, env) }),
  }
}

export async function loadNodeConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (cause) {
    throw new InvalidInputError(`cannot read node config ${file}: ${(cause as Error).message}; see deploy/node.example.json`, { cause })
  }
  return parseNodeConfig(json, dirname(resolve(file)), env)
}
