import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { dirname, resolve } from 'node:path'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { parseWatchdogConfig } from '../watchdog/options.ts'
import { checkSchema } from './check-schema.ts'
import { NODE_CONFIG_SCHEMA } from './config-schema.ts'

/**
 * The node's one config file (JSON). Relative paths are resolved against the
 * file's directory. Environment variables override secrets and paths:
 * ARK_DATA_DIR, ARK_RPC_URLS (comma-separated), ARK_KEYSTORE_PASSWORD,
 * ARK_KEYSTORE_PASSWORD_FILE, ARK_HTTP_PORT, ARK_HTTP_HOST. Its shape is NODE_CONFIG_SCHEMA
 * (config-schema.ts; deploy/node.schema.json).
 */
export interface NodeConfig {
  dataDir: string
  chain: { chainId: bigint; rpc: string[]; finality: { kind: 'finalized' } | { kind: 'confirmations'; confirmations: number } }
  /** a built-in adapter (`id`) or a module exporting one (`module`, loaded by the sdk's loader); at least one */
  adapter: { id?: string; module?: string; config: unknown }
  checkpoint: { interval: bigint; quorumTimeoutMs: number; pollMs: number; firstBlock?: bigint }
  operators: { file: string } | { registry: `0x${string}` }
  /** remote: a JSON-RPC signer (eth_signTypedData_v4) signs for `address`; its URL may carry credentials, never logged */
  key: { keystore: string; passwordFile?: string } | { devPrivateKeyFile: string } | { remote: { url: string; address: `0x${string}` } }
  /** announce: the addresses peers are told to dial (behind NAT, a proxy or a load balancer); default the listen addresses */
  p2p: { listen: string[]; bootstrap: string[]; announce?: string[] }
  http: { host: string; port: number; admin: boolean }
  retention: { keepLast: number; keepEvery: number }
  /** optional watchdog (node/watchdog/options.ts, PROTOCOL.md §12) */
  watchdog?: ReturnType<typeof parseWatchdogConfig>
  /** optional anchoring relayer (node/archive/relayer.ts): a funded key that submits certificates to `registry` */
  relayer?: { key: { keystore: string; passwordFile?: string } | { devPrivateKeyFile: string }; delayMs: number; registry: `0x${string}` }
}

export const NODE_DEFAULTS = Object.freeze({
  quorumTimeoutMs: 30_000,
  pollMs: 500,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  http: { host: '127.0.0.1', port: 8545 + 1000, admin: false },
  retention: { keepLast: 64, keepEvery: 1000 },
})

type Obj = Record<string, unknown>
const SECTIONS = NODE_CONFIG_SCHEMA.properties as Record<string, Obj & { properties: Record<string, Obj> }>

/** Check one value (an environment override, a file value standing in for one) against its place in the schema. */
function checkAt(v: unknown, section: string, key: string | undefined, name: string): void {
  const s = key === undefined ? SECTIONS[section]! : SECTIONS[section]!.properties[key]!
  checkSchema(v, s, name)
}

/**
 * Parse a node config: the whole file is checked against NODE_CONFIG_SCHEMA
 * (config-schema.ts, published as deploy/node.schema.json) first, so what
 * follows only reads values the schema allowed; then environment overrides
 * are applied (each checked against the same schema entry) and paths resolved.
 */
export function parseNodeConfig(json: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): NodeConfig {
  checkSchema(json, NODE_CONFIG_SCHEMA)
  const root = json as Obj
  const path = (p: string): string => resolve(baseDir, p)
  const chain = root.chain as Obj
  const envRpc = env.ARK_RPC_URLS !== undefined && env.ARK_RPC_URLS !== ''
  const rpc = envRpc ? env.ARK_RPC_URLS!.split(',') : chain.rpc
  checkAt(rpc, 'chain', 'rpc', envRpc ? 'ARK_RPC_URLS' : 'chain.rpc')
  const fin = chain.finality ?? 'finalized'
  const finality = fin === 'finalized' ? ({ kind: 'finalized' } as const) : { kind: 'confirmations' as const, confirmations: (fin as Obj).confirmations as number }
  const adapter = root.adapter as Obj
  const cp = root.checkpoint as Obj
  const ops = root.operators as Obj
  const operators: NodeConfig['operators'] = typeof ops.file === 'string' ? { file: path(ops.file) } : { registry: (ops.registry as string).toLowerCase() as `0x${string}` }
  const key = root.key as Obj
  let keyCfg: NodeConfig['key']
  if (typeof key.keystore === 'string') keyCfg = { keystore: path(key.keystore), ...(typeof key.passwordFile === 'string' ? { passwordFile: path(key.passwordFile) } : {}) }
  else if (typeof key.devPrivateKeyFile === 'string') keyCfg = { devPrivateKeyFile: path(key.devPrivateKeyFile) }
  else {
    const remote = key.remote as { url: string; address: string }
    keyCfg = { remote: { url: remote.url, address: remote.address.toLowerCase() as `0x${string}` } }
  }
  const p2p = (root.p2p ?? {}) as { listen?: string[]; bootstrap?: string[]; announce?: string[] }
  const http = (root.http ?? {}) as { host?: string; port?: number; admin?: boolean }
  const ret = (root.retention ?? {}) as { keepLast?: number; keepEvery?: number }
  const httpHost = hostFromEnv(env) ?? http.host ?? NODE_DEFAULTS.http.host
  const envPort = env.ARK_HTTP_PORT !== undefined && env.ARK_HTTP_PORT !== ''
  const httpPort = envPort ? (/^\d+$/.test(env.ARK_HTTP_PORT!) ? Number(env.ARK_HTTP_PORT) : env.ARK_HTTP_PORT) : (http.port ?? NODE_DEFAULTS.http.port)
  checkAt(httpPort, 'http', 'port', envPort ? 'ARK_HTTP_PORT' : 'http.port')
  const dataDir = env.ARK_DATA_DIR ?? root.dataDir
  checkAt(dataDir, 'dataDir', undefined, env.ARK_DATA_DIR === undefined ? 'dataDir' : 'ARK_DATA_DIR')
  return {
    dataDir: path(dataDir as string),
    chain: { chainId: BigInt(chain.chainId as number), rpc: rpc as string[], finality },
    adapter: { ...(adapter.id === undefined ? {} : { id: adapter.id as string }), ...(adapter.module === undefined ? {} : { module: /^\.{0,2}\//.test(adapter.module as string) ? path(adapter.module as string) : (adapter.module as string) }), config: adapter.config },
    checkpoint: {
      interval: BigInt(cp.interval as number),
      quorumTimeoutMs: (cp.quorumTimeoutMs as number | undefined) ?? NODE_DEFAULTS.quorumTimeoutMs,
      pollMs: (cp.pollMs as number | undefined) ?? NODE_DEFAULTS.pollMs,
      ...(cp.firstBlock === undefined ? {} : { firstBlock: BigInt(cp.firstBlock as number) }),
    },
    operators,
    key: keyCfg,
    p2p: { listen: p2p.listen ?? [...NODE_DEFAULTS.listen], bootstrap: p2p.bootstrap ?? [], ...(p2p.announce === undefined ? {} : { announce: p2p.announce }) },
    http: { host: httpHost, port: httpPort as number, admin: http.admin === true },
    retention: { keepLast: ret.keepLast ?? NODE_DEFAULTS.retention.keepLast, keepEvery: ret.keepEvery ?? NODE_DEFAULTS.retention.keepEvery },
    ...(root.watchdog === undefined ? {} : { watchdog: parseWatchdogConfig(root.watchdog, path, env) }),
    ...(root.relayer === undefined ? {} : { relayer: parseRelayer(root.relayer as Obj, operators, path) }),
  }
}

function parseRelayer(r: Obj, operators: NodeConfig['operators'], path: (p: string) => string): NonNullable<NodeConfig['relayer']> {
  const registry = typeof r.registry === 'string' ? (r.registry.toLowerCase() as `0x${string}`) : 'registry' in operators ? operators.registry : undefined
  if (registry === undefined) throw new InvalidInputError('config "relayer" needs the ArkRegistry to anchor in: set "relayer.registry" (operators come from a file here)')
  const key = typeof r.keystore === 'string' ? { keystore: path(r.keystore), ...(typeof r.passwordFile === 'string' ? { passwordFile: path(r.passwordFile) } : {}) } : { devPrivateKeyFile: path(r.devPrivateKeyFile as string) }
  return { key, delayMs: (r.delayMs as number | undefined) ?? 0, registry }
}

const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

/** ARK_HTTP_HOST overrides http.host (containers bind 0.0.0.0 without editing the file). */
function hostFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const host = env.ARK_HTTP_HOST
  if (host === undefined || host === '') return undefined
  if (isIP(host) === 0 && !HOSTNAME.test(host)) throw new InvalidInputError(`ARK_HTTP_HOST ${JSON.stringify(host.slice(0, 60))} is not an IP address or host name; use e.g. 127.0.0.1 or 0.0.0.0`)
  return host
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
