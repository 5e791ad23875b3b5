import { parseArgs } from 'node:util'
import { ArkError } from '../../snapshot/ark-error.ts'

export class UsageError extends ArkError {
  override readonly name = 'UsageError'
  constructor(message: string) {
    super('USAGE', message)
  }
}

export interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  /** stream many chunks to stdout with backpressure */
  pipe: (chunks: AsyncIterable<string>) => Promise<void>
  /** stdout is a terminal (progress and colour allowed) */
  tty: boolean
}

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  description?: string
}

export type Options = Record<string, OptionSpec>

export interface Command {
  name: string
  summary: string
  usage: string
  options: Options
  /** positional arguments allowed: [min, max] */
  positionals?: [number, number]
  run(args: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; json: boolean; io: Io; signal: AbortSignal }): Promise<void>
}

export const COMMON_OPTIONS: Options = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
}

export function parse(cmd: Command, argv: string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  let parsed
  try {
    const options = Object.fromEntries(Object.entries({ ...COMMON_OPTIONS, ...cmd.options }).map(([k, { description: _d, ...o }]) => [k, o]))
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '')}\n\nusage: ${cmd.usage}`)
  }
  const [min, max] = cmd.positionals ?? [0, 0]
  if (parsed.values.help !== true && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    throw new UsageError(`expected ${min === max ? min : `${min}-${max}`} positional argument(s), got ${parsed.positionals.length}\n\nusage: ${cmd.usage}`)
  }
  return parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
}

export function required(values: Record<string, unknown>, name: string, cmd: Command): string {
  const v = values[name]
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required\n\nusage: ${cmd.usage}`)
  return v
}

export function positiveInt(v: string | undefined, name: string, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`)
    return fallback
  }
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`)
  return Number(v)
}

export function helpText(cmd: Command): string {
  const lines = [`${cmd.summary}\n`, `usage: ${cmd.usage}\n`, 'options:']
  for (const [name, o] of Object.entries({ ...cmd.options, ...COMMON_OPTIONS })) {
    const desc = o.description ?? (name === 'json' ? 'machine-readable JSON output' : name === 'help' ? 'show this help' : '')
    lines.push(`  --${name}${o.type === 'string' ? ' VALUE' : ''}${o.short !== undefined ? `, -${o.short}` : ''}  ${desc}`)
  }
  return `${lines.join('\n')}\n`
}
