import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { acquireDataDirLock } from '../../fs/data-dir-lock.ts'
import { SignLog } from '../../signlog/signlog.ts'
import { required, type Command } from '../command.ts'

export const signlogExportCommand: Command = {
  name: 'export',
  summary: "Export a node's sign log (its signing history), to move the node without resetting its slashing protection. Stop the node first.",
  usage: 'ark signlog export --data-dir DIR --out history.json [--json]',
  options: { 'data-dir': { type: 'string', description: 'the node data directory' }, out: { type: 'string', description: 'output file (mode 0600)' } },
  async run({ values, json, io }) {
    const dir = resolve(required(values, 'data-dir', this))
    // opening the log may cut a torn tail: no node may run on this directory meanwhile
    const lock = await acquireDataDirLock(dir)
    const log = new SignLog(join(dir, 'signlog.jsonl'))
    try {
      log.open()
      const data = log.export()
      const out = resolve(required(values, 'out', this))
      await writeFileAtomic(out, [`${JSON.stringify(data, null, 2)}\n`])
      const { chmod } = await import('node:fs/promises')
      await chmod(out, 0o600)
      io.stdout(json ? `${JSON.stringify({ out, entries: data.entries.length })}\n` : `exported ${data.entries.length} entries to ${out}\n`)
    } finally {
      log.close()
      await lock.release()
    }
  },
}

export const signlogImportCommand: Command = {
  name: 'import',
  summary: "Merge an exported signing history into a node's sign log; refuses (and writes nothing) if any entry conflicts. Stop the node first.",
  usage: 'ark signlog import --data-dir DIR --in history.json [--json]',
  options: { 'data-dir': { type: 'string', description: 'the node data directory' }, in: { type: 'string', description: 'file written by "ark signlog export"' } },
  async run({ values, json, io }) {
    let data: { version: number; entries: never[] }
    try {
      data = JSON.parse(await readFile(required(values, 'in', this), 'utf8')) as typeof data
    } catch (cause) {
      throw new InvalidInputError(`cannot read the history file: ${(cause as Error).message}; pass a file written by "ark signlog export"`, { cause })
    }
    const dir = resolve(required(values, 'data-dir', this))
    // a running node on this directory could sign a content the import is about to forbid
    const lock = await acquireDataDirLock(dir)
    const log = new SignLog(join(dir, 'signlog.jsonl'))
    try {
      log.open()
      const added = log.import(data)
      io.stdout(json ? `${JSON.stringify({ added })}\n` : `imported ${added} new entries\n`)
    } finally {
      log.close()
      await lock.release()
    }
  },
}
