import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'
import { closeSources, fetchLocated, locateCertified, type FetchOptions } from './fetch.ts'
import { openReusable, reusableFrom, type ReusableBlocks } from './incremental.ts'
import { followCertificates } from './mirror-gossip.ts'
import { lockMirror } from './mirror-lock.ts'
import { pruneMirror, readLatest, switchLatest } from './mirror-dir.ts'
import { writeSnapshotDir } from './snapshot-dir.ts'
import type { FetchSource } from './source.ts'
import type { TrustRoot } from './trust.ts'

export const MIRROR_DEFAULTS = Object.freeze({
  keep: 3,
  pollMs: 10_000,
  /** a gossiped certificate the sources do not serve yet is asked for again after this long, at most hintTries times */
  hintRetryMs: 500,
  hintTries: 20,
})

export interface MirrorOptions {
  /** fresh, untrusted sources for one round (closed after it): the same kinds `ark fetch` takes */
  sources: () => FetchSource[]
  chainId: bigint
  adapterId: string
  trust: TrustRoot
  /** the mirror directory (layout: mirror-dir.ts) */
  dir: string
  /** complete checkpoint directories kept, newest first (emergency checkpoints beside them) */
  keep?: number
  /** how often the sources are asked for a newer certified checkpoint */
  pollMs?: number
  stallMs?: number
  signal: AbortSignal
  /** one call per checkpoint mirrored */
  onCheckpoint?: (s: MirroredCheckpoint) => void
  /** sources dropped, rounds that failed, a held directory that did not check out */
  onNotice?: (message: string) => void
  /** stop after the first round that finds nothing newer than what is held (e.g. cron) */
  once?: boolean
  /**
   * archive nodes' libp2p addresses to follow certificates from over gossip
   * (one long-lived client for the mirror's life, mirror-gossip.ts): a
   * certificate heard starts a round at once; polling stays the fallback
   */
  gossipPeers?: string[]
}

export interface MirroredCheckpoint {
  block: bigint
  kind: number
  snapshot: string
  certificate: string
  /** D/<block> */
  path: string
  downloaded: { blocks: number; bytes: number }
  reused: { blocks: number; bytes: number }
  /** from the staging dir of an interrupted earlier run */
  resumed: { blocks: number; bytes: number }
  ms: number
  pruned: string[]
}

/** What the mirror holds verified: the newest checkpoint directory and its blocks. */
interface Held {
  block: bigint
  name: string
  reuse: ReusableBlocks
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** One line for a person: what a checkpoint cost. */
export function statusLine(s: MirroredCheckpoint): string {
  const mib = (b: number): string => (b / 2 ** 20).toFixed(2)
  return `mirror: block ${s.block}${s.kind === 0 ? '' : ' (emergency)'} verified in ${s.ms} ms: downloaded ${mib(s.downloaded.bytes)} MiB (${s.downloaded.blocks} blocks), reused ${mib(s.reused.bytes)} MiB (${s.reused.blocks} blocks)${s.resumed.blocks > 0 ? `, resumed ${s.resumed.blocks} blocks` : ''}; latest -> ${s.path}${s.pruned.length > 0 ? `; pruned ${s.pruned.join(' ')}` : ''}\n`
}

/**
 * `ark mirror`: follow the certified checkpoints of (chain, adapter) by
 * polling the sources, and keep the newest as ready-to-use recovery
 * directories. Each new checkpoint is located and fetched by the same code as
 * `ark fetch` (locateCertified + fetchLocated: certificate against the trust
 * root, every block hash-checked, the whole snapshot verified against the
 * certificate), reusing every block of the newest held one, then written as
 * `ark fetch --out` writes it (writeSnapshotDir) and only then named by
 * `latest` (an atomic rename). A crash at any point leaves `latest` on a
 * complete directory; a restart checks that directory again against the
 * trust root, reuses its blocks and resumes a staged fetch. A source that
 * lags behind can never move `latest` back: only a higher block replaces it.
 * One mirror per directory: `D/.mirror.lock` (mirror-lock.ts) is taken
 * first, a stale one (its process gone) taken over with a notice. Returns
 * when `signal` aborts (or after one idle round with `once`).
 */
export async function runMirror(o: MirrorOptions): Promise<void> {
  const keep = o.keep ?? MIRROR_DEFAULTS.keep
  const pollMs = o.pollMs ?? MIRROR_DEFAULTS.pollMs
  try {
    await mkdir(o.dir, { recursive: true, mode: 0o755 })
  } catch (err) {
    throw new ArkError('IO', `cannot create ${o.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; pass a --dir you can write to`, { cause: err })
  }
  const lock = await lockMirror(o.dir, o.onNotice)
  try {
    await follow(o, keep, pollMs)
  } finally {
    await lock.release()
  }
}

async function follow(o: MirrorOptions, keep: number, pollMs: number): Promise<void> {
  let held = await openHeld(o)
  if (o.signal.aborted) return
  await pruneMirror(o.dir, keep, held?.name)
  // gossip: a certificate heard for a newer block wakes the loop (an untrusted hint: the round verifies);
  // a hint the sources cannot answer yet (a node indexes a certificate once its blocks are stored) is retried briefly
  let hint: bigint | undefined
  let hintTries = 0
  let wake = new AbortController()
  const peers = o.gossipPeers ?? []
  const gossip =
    peers.length === 0 || o.once === true
      ? undefined
      : await followCertificates({
          peers,
          chainId: o.chainId,
          adapterId: o.adapterId,
          onNotice: (m) => o.onNotice?.(m),
          onCertificate: (block) => {
            if ((held !== undefined && block <= held.block) || (hint !== undefined && block <= hint)) return
            hint = block
            hintTries = 0
            wake.abort()
          },
        })
  try {
    await poll(o, held, keep, pollMs, {
      next: (h) => (held = h),
      pause: async () => {
        const pending = hint !== undefined && (held === undefined || hint > held.block) && hintTries++ < MIRROR_DEFAULTS.hintTries
        if (!pending) hint = undefined
        await sleep(pending ? Math.min(pollMs, MIRROR_DEFAULTS.hintRetryMs) : pollMs, AbortSignal.any([o.signal, wake.signal]))
        wake = new AbortController()
      },
    })
  } finally {
    await gossip?.stop()
  }
}

/** The polling loop: a round, then (if nothing newer) a pause, until aborted. */
async function poll(o: MirrorOptions, start: Held | undefined, keep: number, pollMs: number, hooks: { next(h: Held): void; pause(): Promise<void> }): Promise<void> {
  let held = start
  // the same source failing every poll is said once, until it recovers or fails differently
  let said = new Set<string>()
  while (!o.signal.aborted) {
    const notices = new Set<string>()
    const notice = (m: string): void => {
      notices.add(m)
      if (!said.has(m)) o.onNotice?.(m)
    }
    let newer: Held | undefined
    try {
      newer = await mirrorRound(o, held, keep, notice)
    } catch (err) {
      if (o.signal.aborted) break
      notice(`round failed: ${(err as Error).message}; trying again in ${pollMs} ms`)
    }
    said = notices
    if (newer !== undefined) hooks.next((held = newer))
    else if (o.once === true) return
    else await hooks.pause()
  }
}

/** The directory `latest` names, checked again as `ark fetch --from` checks one; undefined if none or it fails. */
async function openHeld(o: MirrorOptions): Promise<Held | undefined> {
  const name = await readLatest(o.dir)
  if (name === undefined) return undefined
  try {
    const reuse = await openReusable(join(o.dir, name), o.trust, o.chainId, o.adapterId, o.signal)
    return { block: reuse.block, name, reuse }
  } catch (err) {
    if (o.signal.aborted) return undefined
    o.onNotice?.(`${join(o.dir, name)} (named by latest) does not check out, so its blocks are not reused: ${(err as Error).message}`)
    return undefined
  }
}

/** Locate the newest certified checkpoint; if newer than `held`, fetch, write and switch `latest` to it. */
async function mirrorRound(o: MirrorOptions, held: Held | undefined, keep: number, notice: (m: string) => void): Promise<Held | undefined> {
  const sources = o.sources()
  try {
    const fo: FetchOptions = { sources, chainId: o.chainId, adapterId: o.adapterId, query: { kind: 'latest' }, trust: o.trust, staging: '', signal: o.signal, onNotice: notice, ...(o.stallMs === undefined ? {} : { stallMs: o.stallMs }) }
    const at = await locateCertified(fo)
    const b = at.certificate.body
    if (held !== undefined && b.blockNumber <= held.block) return undefined
    const name = b.blockNumber.toString()
    const out = join(o.dir, name)
    const t0 = performance.now()
    if (await exists(out)) {
      // written before a crash, never named by latest: checked again like any held directory
      const reuse = await openReusable(out, o.trust, o.chainId, o.adapterId, o.signal)
      if (reuse.block !== b.blockNumber || !reuse.has(b.snapshotCid)) throw new ArkError('IO', `${out} does not hold the certified snapshot ${b.snapshotCid.toString()} of block ${name}; move it out of ${o.dir}`)
      await switchLatest(o.dir, name)
      return { block: b.blockNumber, name, reuse }
    }
    const r = await fetchLocated({ ...fo, staging: join(o.dir, `.${name}.partial`), ...(held === undefined ? {} : { reuse: held.reuse }) }, at)
    try {
      await writeSnapshotDir(out, r, o.trust.describe(r.certificate))
    } catch (err) {
      await r.staging.close().catch(() => {})
      throw err
    }
    await switchLatest(o.dir, name)
    await r.staging.remove()
    const pruned = await pruneMirror(o.dir, keep, name)
    const st = r.stats
    o.onCheckpoint?.({
      block: b.blockNumber,
      kind: b.kind,
      snapshot: b.snapshotCid.toString(),
      certificate: r.certificateCid.toString(),
      path: out,
      downloaded: { blocks: st.fetchedBlocks, bytes: st.fetchedBytes },
      reused: { blocks: st.reusedBlocks, bytes: st.reusedBytes },
      resumed: { blocks: st.resumedBlocks, bytes: st.resumedBytes },
      ms: Math.round(performance.now() - t0),
      pruned,
    })
    // the verified blocks stay in memory for the next checkpoint: no second read of the directory
    return { block: b.blockNumber, name, reuse: await reusableFrom(r, out) }
  } finally {
    await closeSources(sources)
  }
}
