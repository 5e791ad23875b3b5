import { UsageError } from './command.ts'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The log level from --log-level, else ARK_LOG_LEVEL, else info; anything else is a usage error (exit 2). */
export function logLevel(flag: unknown, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const fromEnv = env.ARK_LOG_LEVEL !== undefined && env.ARK_LOG_LEVEL !== ''
  const v = typeof flag === 'string' ? flag : fromEnv ? env.ARK_LOG_LEVEL! : 'info'
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel
  const where = typeof flag === 'string' ? '--log-level' : 'ARK_LOG_LEVEL'
  throw new UsageError(`${where} ${JSON.stringify(v.slice(0, 40))} is not a log level; use one of ${LOG_LEVELS.join(', ')}`)
}
