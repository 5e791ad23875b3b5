import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadNodeConfig } from '../../archive/config.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { required, UsageError, type Command } from '../command.ts'

const USAGE = 'ark node restitution --config FILE --before BLOCK --after BLOCK --exclude FILE [--url URL] [--json]'

/** An exclusion file: a JSON array of addresses, or one address per line (blank lines and # comments ignored). */
export async function readExclusionFile(path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ArkError('IO', `cannot read the exclusion file ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check the path`, { cause })
  }
  if (text.trimStart().startsWith('[')) {
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch (cause) {
      throw new ArkError('INVALID_INPUT', `the exclusion file ${path} starts like JSON but does not parse; give a JSON array of addresses or one address per line`, { cause })
    }
    if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new ArkError('INVALID_INPUT', `the exclusion file ${path} must be a JSON array of address strings`)
    return v as string[]
  }
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l.length > 0)
}

function block(v: string, name: string): string {
  if (!/^[0-9]{1,20}$/.test(v)) throw new UsageError(`--${name} must be a block number, got ${JSON.stringify(v)}\n\nusage: ${USAGE}`)
  return v
}

/**
 * `ark node restitution`: ask the running node of this config (its admin HTTP route, bearer token
 * from {dataDir}/admin.token) to compute, store and attest the restitution table of two certified
 * checkpoints with an exclusion list (PROTOCOL §18).
 */
export const nodeRestitutionCommand: Command = {
  name: 'restitution',
  summary: 'compute, store and attest a restitution table (kind 2) on the running node',
  usage: USAGE,
  options: {
    config: { type: 'string', description: 'the node config file (dataDir holds admin.token; http.admin must be true)' },
    before: { type: 'string', description: 'certified checkpoint block before the incident' },
    after: { type: 'string', description: 'certified checkpoint block after the incident' },
    exclude: { type: 'string', description: 'exclusion list: JSON array of addresses or one per line (the same file on every operator)' },
    url: { type: 'string', description: 'the node\'s HTTP API (default http://{http.host}:{http.port} of the config)' },
  },
  async run({ values, json, io, signal }) {
    const config = await loadNodeConfig(required(values, 'config', this))
    const before = block(required(values, 'before', this), 'before')
    const after = block(required(values, 'after', this), 'after')
    const exclude = await readExclusionFile(required(values, 'exclude', this))
    if (!config.http.admin) throw new ArkError('INVALID_INPUT', 'the node\'s admin API is off; set "http": {"admin": true} in its config and restart it')
    const url = ((values.url as string | undefined) ?? `http://${config.http.host}:${config.http.port}`).replace(/\/+$/, '')
    if (values.url === undefined && config.http.port === 0) throw new UsageError(`the config's http.port is 0 (chosen at start); pass --url with the node's address\n\nusage: ${USAGE}`)
    const tokenPath = join(config.dataDir, 'admin.token')
    let token: string
    try {
      token = (await readFile(tokenPath, 'utf8')).trim()
    } catch (cause) {
      throw new ArkError('IO', `cannot read the admin token ${tokenPath}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; start the node with http.admin true first`, { cause })
    }
    let res: Response
    try {
      res = await fetch(`${url}/v1/admin/restitution`, { method: 'POST', signal, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ before, after, exclude }) })
    } catch (cause) {
      throw new ArkError('IO', `cannot reach the node at ${url}: ${(cause as Error).message}; is it running?`, { cause, retryable: true })
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown> & { error?: { message?: string } }
    if (!res.ok) throw new ArkError(res.status === 400 ? 'INVALID_INPUT' : 'IO', `the node refused the restitution run (HTTP ${res.status}): ${body.error?.message ?? 'no message'}`)
    if (json) io.stdout(`${JSON.stringify(body)}\n`)
    else {
      const b = body as { restitution: string; root: string; entries: number; exclusions: { count: number; hash: string } }
      io.stdout(`restitution ${b.restitution}\nroot ${b.root}\nrows ${b.entries}, ${b.exclusions.count} excluded (hash ${b.exclusions.hash})\nattested; the quorum certifies it when enough operators ran the same inputs (GET /v1/checkpoints shows kind "restitution")\n`)
    }
  },
}
