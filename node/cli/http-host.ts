import { isIP } from 'node:net'
import type { NodeConfig } from '../archive/config.ts'
import { UsageError } from './command.ts'

const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

/**
 * ARK_HTTP_HOST overrides the config's http.host (containers bind 0.0.0.0 without editing the file).
 * TODO(merge): belongs in node/archive/config.ts beside ARK_HTTP_PORT once its owner takes it.
 */
export function withHttpHostFromEnv(config: NodeConfig, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const host = env.ARK_HTTP_HOST
  if (host === undefined || host === '') return config
  if (isIP(host) === 0 && !HOSTNAME.test(host)) throw new UsageError(`ARK_HTTP_HOST ${JSON.stringify(host.slice(0, 60))} is not an IP address or host name; use e.g. 127.0.0.1 or 0.0.0.0`)
  return { ...config, http: { ...config.http, host } }
}
