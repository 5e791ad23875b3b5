import { access, constants, mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadNodeConfig, type NodeConfig } from '../../archive/config.ts'
import { checkPrivateFile, loadOperatorSigner } from '../../archive/operator-key.ts'
import { OperatorSets } from '../../archive/operator-sets.ts'
import { adapterById } from '../../../snapshot/adapters/registry.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { redact } from '../../../snapshot/chain/errors.ts'
import { ChainSource } from '../../../snapshot/chain/source.ts'
import { type Command } from '../command.ts'

/**
 * `ark node check-config FILE`: everything `ark node start` would need,
 * checked without starting (no sign log opened, no port kept, nothing
 * written but the data directory if it is missing): the file against the
 * schema, the adapter config, the secret files (0600), the key (unlocked or
 * the remote signer asked), each RPC endpoint's chain id, the operator's
 * place in the operator set, the data directory, and the ports. Every
 * failure says what is wrong and how to fix it; exit 1 if any failed.
 */
export interface ConfigCheck {
  check: string
  ok: boolean
  /** what was found, or the problem and its fix */
  message: string
}

class ConfigCheckFailed extends ArkError {
  override readonly name = 'ConfigCheckFailed'
}

function portFree(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)))
  })
}

/** TCP listen addresses with a fixed port (port 0 is always free). */
function listenPorts(c: NodeConfig): { what: string; host: string; port: number }[] {
  const out: { what: string; host: string; port: number }[] = []
  if (c.http.port !== 0) out.push({ what: 'http', host: c.http.host, port: c.http.port })
  for (const a of c.p2p.listen) {
    const parts = multiaddr(a).getComponents()
    const host = parts.find((p) => p.name === 'ip4' || p.name === 'ip6')?.value
    const port = Number(parts.find((p) => p.name === 'tcp')?.value ?? 0)
    if (host !== undefined && port !== 0) out.push({ what: `p2p ${a}`, host, port })
  }
  return out
}

export async function checkNodeConfig(file: string, options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<ConfigCheck[]> {
  const env = options.env ?? process.env
  const results: ConfigCheck[] = []
  const run = async (check: string, fn: () => Promise<string>): Promise<boolean> => {
    try {
      results.push({ check, ok: true, message: await fn() })
      return true
    } catch (err) {
      results.push({ check, ok: false, message: (err as Error).message })
      return false
    }
  }
  let c: NodeConfig | undefined
  await run('config', async () => {
    c = await loadNodeConfig(file, env)
    return `${file} matches deploy/node.schema.json`
  })
  if (c === undefined) return results
  const cfg = c
  await run('adapter', async () => {
    if (cfg.adapter.id === undefined) return `module ${cfg.adapter.module} (loaded at start)`
    adapterById(cfg.adapter.id).parseConfig(cfg.adapter.config)
    return `${cfg.adapter.id}: its config parses`
  })
  const secrets = 'keystore' in cfg.key ? [['keystore', cfg.key.keystore], ...(cfg.key.passwordFile === undefined ? [] : [['password file', cfg.key.passwordFile]])] : 'devPrivateKeyFile' in cfg.key ? [['development key file', cfg.key.devPrivateKeyFile]] : []
  if (env.ARK_KEYSTORE_PASSWORD_FILE !== undefined && 'keystore' in cfg.key) secrets.push(['password file (ARK_KEYSTORE_PASSWORD_FILE)', env.ARK_KEYSTORE_PASSWORD_FILE])
  for (const s of cfg.watchdog?.secretFiles ?? []) secrets.push([`webhook ${s.index} secret`, s.file])
  const filesOk = await run('key files', async () => {
    for (const [what, path] of secrets) await checkPrivateFile(path!, what!)
    return secrets.length === 0 ? 'none (remote signer)' : `${secrets.map(([w]) => w).join(', ')}: readable, mode 0600`
  })
  let operator: string | undefined
  if (filesOk) {
    await run('key', async () => {
      const signer = await loadOperatorSigner(cfg.key, { devKey: true, env, ...(options.signal === undefined ? {} : { signal: options.signal }) })
      operator = signer.address
      return `${signer.describe} signs for ${signer.address}${'devPrivateKeyFile' in cfg.key ? ' (a plain development key: ark node start needs --dev-key)' : ''}`
    })
  }
  const rpcOk = await run('rpc', async () => {
    const source = new ChainSource({ rpcUrls: cfg.chain.rpc, chainId: cfg.chain.chainId, finality: cfg.chain.finality, rpc: { retries: 1, timeoutMs: 5_000 } })
    await source.checkChainId(options.signal)
    return `${cfg.chain.rpc.map(redact).join(', ')}: chain ${cfg.chain.chainId}`
  })
  if (rpcOk) {
    await run('operator set', async () => {
      const source = new ChainSource({ rpcUrls: cfg.chain.rpc, chainId: cfg.chain.chainId, finality: cfg.chain.finality, rpc: { retries: 1, timeoutMs: 5_000 } })
      const sets = await OperatorSets.open({ source, config: cfg.operators }, await source.finalizedHead(options.signal), options.signal)
      const where = 'file' in cfg.operators ? cfg.operators.file : `registry ${cfg.operators.registry}`
      if (operator === undefined) return `${where}: ${sets.latest.weights.size} operators (the key was not checked, so membership is unknown)`
      const weight = sets.latest.weights.get(operator as `0x${string}`)
      if (weight === undefined) throw new ConfigCheckFailed('INVALID_INPUT', `${operator} is not in the operator set (${where}): the node would archive and verify but its attestations would not count; register the key (ArkRegistry) or add it to the operators file, or fix the key`)
      return `${operator} has weight ${weight} of ${sets.latest.totalWeight} (threshold ${sets.latest.threshold}) in ${where}`
    })
  }
  await run('data directory', async () => {
    await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 })
    await access(cfg.dataDir, constants.W_OK)
    return `${cfg.dataDir} is writable (sign log ${join(cfg.dataDir, 'signlog.jsonl')})`
  })
  await run('ports', async () => {
    const ports = listenPorts(cfg)
    for (const p of ports) {
      const err = await portFree(p.host, p.port)
      if (err !== undefined) throw new ConfigCheckFailed('INVALID_INPUT', `${p.what} ${p.host}:${p.port} cannot be bound (${err}); stop what listens there (another node?) or choose another port`)
    }
    return ports.length === 0 ? 'all ports are chosen at start (0)' : ports.map((p) => `${p.host}:${p.port}`).join(', ') + ' free'
  })
  return results
}

export const nodeCheckConfigCommand: Command = {
  name: 'check-config',
  summary: 'Dry run: config, key files (0600), key, RPC chain id, operator set membership, data directory, ports.',
  usage: 'ark node check-config FILE [--json]',
  options: {},
  positionals: [1, 1],
  async run({ positionals, json, io, signal }) {
    const results = await checkNodeConfig(positionals[0]!, { signal })
    if (json) io.stdout(`${JSON.stringify({ ok: results.every((r) => r.ok), checks: results })}\n`)
    else for (const r of results) io.stdout(`${r.ok ? 'ok  ' : 'FAIL'} ${r.check.padEnd(15)} ${r.message}\n`)
    const failed = results.filter((r) => !r.ok)
    if (failed.length > 0) throw new ConfigCheckFailed('INVALID_INPUT', `${failed.length} check(s) failed: ${failed.map((r) => r.check).join(', ')}; fix them and run "ark node check-config" again`)
  },
}
