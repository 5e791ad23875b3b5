import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureNoDevnetRunning } from './control.ts'

/** What an earlier devnet left in its directory: all of it describes a chain that no longer exists. */
const STALE = [/^node\d+$/, /^checkpoint-\d+\.car$/, /^recovered-\d+$/, /^(deployment|adapter|operators)\.json$/, /^control\.sock$/]

export interface FreshStart {
  /** names removed from the directory (empty: nothing was left from an earlier run) */
  removed: string[]
  /** how many of them were node data directories */
  nodeDirs: number
}

/**
 * Every devnet starts a new anvil chain at block 0, so it starts fresh: node data directories (sign logs,
 * certificates, blocks), checkpoint CARs, recovered snapshots and the deployment files of an earlier run
 * in `dir` are removed first (refused while a devnet runs there). Kept, they describe the old chain at the same block numbers: nodes would show
 * its certificates, `ark fetch` lines would point at contracts that no longer exist, and the sign logs would
 * refuse to sign the new chain's blocks until it passed the old height. Anything else in `dir` is left alone.
 */
export async function startFresh(dir: string): Promise<FreshStart> {
  // a devnet still running here owns these files: never pull them from under it
  await ensureNoDevnetRunning(dir)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { removed: [], nodeDirs: 0 }
    throw err
  }
  const removed = names.filter((n) => STALE.some((re) => re.test(n))).sort()
  for (const n of removed) await rm(join(dir, n), { recursive: true, force: true })
  return { removed, nodeDirs: removed.filter((n) => /^node\d+$/.test(n)).length }
}

/** One line for the devnet's output. */
export function freshLine(dir: string, f: FreshStart): string {
  if (f.removed.length === 0) return `fresh start: a new chain from block 0 (${dir} held no earlier devnet)`
  const cars = f.removed.filter((n) => n.endsWith('.car')).length
  const parts = [f.nodeDirs > 0 ? `${f.nodeDirs} node data director${f.nodeDirs === 1 ? 'y' : 'ies'}` : '', cars > 0 ? `${cars} checkpoint CAR${cars === 1 ? '' : 's'}` : ''].filter((p) => p !== '')
  return `fresh start: a new chain from block 0; removed the earlier devnet's ${parts.length === 0 ? 'files' : parts.join(' and ')} from ${dir} (they described the old chain)`
}
