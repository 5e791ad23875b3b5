import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isArkError } from '../../snapshot/ark-error.ts'
import { helpText, parse, UsageError, type Command, type Io } from './command.ts'
import { devnetCommands } from './devnet/index.ts'
import { keysNewCommand } from './node/keys.ts'
import { nodeCheckConfigCommand } from './node/check-config.ts'
import { nodeStartCommand } from './node/start.ts'
import { nodeRestitutionCommand } from './node/restitution.ts'
import { signlogExportCommand, signlogImportCommand } from './node/signlog.ts'
import { fetchCommand } from './recovery.ts'
import { citeCommand } from './recovery/cite.ts'
import { mirrorCommand } from './recovery/mirror.ts'
import { recoveryProveCommand } from './recovery/prove.ts'
import { recoveryDiffCommand } from './recovery/diff.ts'
import { riskCommand } from './recovery/risk.ts'
import { restitutionCommand } from './recovery/restitution.ts'
import { verifyCommand } from './recovery/verify.ts'
import { snapshotCommands } from './snapshot/index.ts'
import { buildInfo } from '../version.ts'
import { adapterCommands } from './adapter/index.ts'

/** Command groups: `ark <group> <command> ...`. */
const groups: Record<string, { summary: string; commands: Command[] }> = {
  snapshot: { summary: 'build, inspect, export, diff and prove deterministic snapshots', commands: snapshotCommands },
  adapter: { summary: 'check an adapter module against the conformance kit (SPEC §7)', commands: adapterCommands },
  node: { summary: 'run an archive node', commands: [nodeStartCommand, nodeCheckConfigCommand, nodeRestitutionCommand] },
  recovery: { summary: 'fetch and verify certified snapshots from untrusted sources', commands: [fetchCommand, mirrorCommand, verifyCommand, recoveryProveCommand, recoveryDiffCommand, riskCommand, citeCommand, restitutionCommand] },
  keys: { summary: 'operator keys', commands: [keysNewCommand] },
  signlog: { summary: 'export or import a node\'s signing history (slashing protection)', commands: [signlogExportCommand, signlogImportCommand] },
  devnet: { summary: 'a local chain with the reference protocol, a workload and checkpoints', commands: devnetCommands },
}

function topHelp(): string {
  const lines = ['ark: deterministic, quorum-certified snapshots of DeFi protocol state\n', 'usage: ark <group> <command> [options]   (every command takes --help and --json; ark --version)\n']
  for (const [g, { summary, commands }] of Object.entries(groups)) {
    lines.push(`${g}: ${summary}`)
    for (const c of commands) lines.push(`  ark ${g} ${c.name.padEnd(13)} ${c.summary}`)
  }
  return `${lines.join('\n')}\n`
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  pipe: (chunks) => pipeline(Readable.from(chunks), process.stdout, { end: false }),
  tty: process.stdout.isTTY === true,
}

/** Runs one CLI invocation and returns the exit code: 0 ok, 1 failed, 2 usage. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const json = argv.includes('--json')
  const controller = new AbortController()
  const onSignal = (): void => controller.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    // the recovery desk's commands (`ark fetch`, `ark verify`, …) are one word
    const recoveryNames = new Set(groups.recovery!.commands.map((c) => c.name))
    const [group, name, ...rest] = argv[0] !== undefined && recoveryNames.has(argv[0]) ? ['recovery', ...argv] : argv
    if (group === '--version' || group === '-V') {
      const b = buildInfo()
      io.stdout(json ? `${JSON.stringify(b)}\n` : `ark ${b.version}${b.commit === '' ? '' : ` (${b.commit})`}\n`)
      return 0
    }
    if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
      io.stdout(topHelp())
      return group === undefined ? 2 : 0
    }
    const g = groups[group]
    if (g === undefined) throw new UsageError(`unknown command group ${JSON.stringify(group)}; run "ark --help" for the list`)
    if (name === undefined || name === '--help' || name === '-h') {
      io.stdout(topHelp())
      return name === undefined ? 2 : 0
    }
    const cmd = g.commands.find((c) => c.name === name)
    if (cmd === undefined) throw new UsageError(`unknown command "ark ${group} ${name}"; known: ${g.commands.map((c) => c.name).join(', ')}`)
    const { values, positionals } = parse(cmd, rest)
    if (values.help === true) {
      io.stdout(helpText(cmd))
      return 0
    }
    await cmd.run({ values, positionals, json, io, signal: controller.signal })
    return 0
  } catch (err) {
    const usage = err instanceof UsageError
    if (json) {
      io.stderr(`${JSON.stringify({ error: { name: (err as Error).name, code: isArkError(err) ? err.code : 'INTERNAL', message: (err as Error).message, retryable: isArkError(err) ? err.retryable : false } })}\n`)
    } else if (isArkError(err)) {
      io.stderr(`error [${err.code}]: ${err.message}\n`)
    } else {
      io.stderr(`internal error: ${(err as Error)?.stack ?? String(err)}\nthis is a bug in ark; please report it with the command you ran\n`)
    }
    return usage ? 2 : 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
