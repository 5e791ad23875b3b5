import type { CID } from 'multiformats/cid'
import { decodeCertificate, type Certificate } from '../../protocol/certificate.ts'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { checkBlock } from '../../snapshot/codec/block.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import type { Snapshot } from '../../snapshot/state/snapshot.ts'
import type { MemoryBlockStore } from '../../snapshot/store.ts'
import { SourceError, SourceStalledError, Watchdog, type BlockQuery, type FetchSource } from './source.ts'
import { Staging } from './staging.ts'
import { fetchReusing, type ReusableBlocks } from './incremental.ts'
import { asTrustRoot, verifyAgainst, type TrustRoot } from './trust.ts'
import { openCertifiedSnapshot } from './verify.ts'
import { verifyIncrementally } from './verify-incremental.ts'
import { WaitingStore } from './waiting-store.ts'

export type { BlockQuery } from './source.ts'

export function parseBlockQuery(s: string): BlockQuery {
  if (s === 'latest') return { kind: 'latest' }
  if (/^before:[0-9]+$/.test(s)) return { kind: 'before', block: BigInt(s.slice(7)) }
  if (/^[0-9]+$/.test(s)) return { kind: 'number', block: BigInt(s) }
  throw new ArkError('USAGE', `--block must be N, latest or before:N, got ${JSON.stringify(s)}`)
}

export const FETCH_DEFAULTS = Object.freeze({
  /** a source that sends nothing for this long is dropped */
  stallMs: 30_000,
  /** progress callbacks at most this often */
  progressMs: 200,
})

export interface FetchProgress {
  phase: 'locate' | 'blocks' | 'verify'
  source: string
  /** blocks and bytes held (resumed + fetched in this run) */
  blocks: number
  bytes: number
  /** of which fetched in this run */
  fetchedBlocks: number
  fetchedBytes: number
  /** accounts in the snapshot (known once its root block is held) */
  accounts?: number
}

export interface FetchOptions {
  /** untrusted sources, tried in order; a source that fails any check is dropped */
  sources: FetchSource[]
  chainId: bigint
  adapterId: string
  query: BlockQuery
  /** an operator set, or a trust root that gives one per certificate (e.g. the registry at its block) */
  trust: OperatorSet | TrustRoot
  /** staging directory: verified blocks are kept there, so a rerun resumes (see stagingPathFor) */
  staging: string
  signal?: AbortSignal
  /** drop a source that sends nothing for this long (default FETCH_DEFAULTS.stallMs) */
  stallMs?: number
  /** drop a source after this long in total, progress or not (default: no limit) */
  sourceTimeoutMs?: number
  onProgress?: (p: FetchProgress) => void
  /**
   * blocks of an earlier verified snapshot (`ark fetch --from`, see openReusable):
   * only blocks it does not hold are fetched; with its verified snapshot
   * (`previous`) only what changed is verified (verify-incremental.ts)
   */
  reuse?: ReusableBlocks
  /** human-readable notes: resuming, discarding an old staging dir, a source dropped */
  onNotice?: (message: string) => void
}

/** A certificate located and verified against the trust root. */
export interface CertifiedLocation {
  certificate: Certificate
  certificateCid: CID
  certificateBytes: Uint8Array
  weight: bigint
  /** which source located it */
  source: string
  /** sources[index] located it; later phases start there */
  index: number
  /** sources dropped so far, and why */
  reasons: string[]
}

export interface Fetched {
  certificate: Certificate
  certificateCid: CID
  certificateBytes: Uint8Array
  snapshot: Snapshot<unknown, unknown>
  /** every block of the snapshot, verified */
  store: MemoryBlockStore
  weight: bigint
  /** the source that delivered the last missing blocks (or located the certificate, if none were missing) */
  source: string
  /** the source the certificate came from */
  certificateSource: string
  /** holds the blocks until the caller has written its output; remove() it then */
  staging: Staging
  stats: { blocks: number; bytes: number; fetchedBlocks: number; fetchedBytes: number; resumedBlocks: number; resumedBytes: number; reusedBlocks: number; reusedBytes: number; ms: { locate: number; blocks: number; verify: number } }
}

function why(err: unknown, watch: Watchdog): string {
  // a source's own stall report says more (what it was waiting for) than the watchdog's
  if (err instanceof SourceStalledError) return err.message
  if (watch.signal.aborted && watch.signal.reason instanceof Error) return watch.signal.reason.message
  return (err as Error)?.message ?? String(err)
}

function label(s: FetchSource): string {
  return `${s.kind} ${s.name}`
}

function failure(reasons: string[], what: string): ArkError {
  return new ArkError('IO', `no source delivered ${what}:\n  ${reasons.join('\n  ')}\ntry other --peer or --gateway sources`, { retryable: true, details: { reasons } })
}

/**
 * Ask the sources for the certificate answering the query: a certificate
 * block that hash-checks, is for the asked chain, adapter and block, and
 * carries enough signatures of the trust root. A source that fails
 * (unreachable, stalled, wrong or forged certificate) is dropped.
 *
 * For a block number or `before:N` the sources are asked in order until one
 * answers. For `latest` every source is asked (a stale source must not roll
 * the desk back, issue 10 item 8) and the highest verified certificate wins;
 * sources that lag behind it are reported. When the trust root knows a newer
 * anchored certificate (the registry's CertificateSubmitted events), that
 * block is asked for, and a fetch that cannot get it fails.
 */
export async function locateCertified(o: FetchOptions): Promise<CertifiedLocation> {
  const trust = asTrustRoot(o.trust)
  await trust.prepare?.(o.signal)
  const reasons: string[] = []
  if (o.query.kind !== 'latest') {
    for (let index = 0; index < o.sources.length; index++) {
      const found = await locateAt(o, trust, index, o.query, reasons)
      if (found !== undefined) return found
    }
    throw failure(reasons, 'a certificate that verifies')
  }
  const answers = await Promise.all(o.sources.map((_, index) => locateAt(o, trust, index, { kind: 'latest' }, reasons)))
  let best: CertifiedLocation | undefined
  for (const a of answers) if (a !== undefined && (best === undefined || a.certificate.body.blockNumber > best.certificate.body.blockNumber)) best = a
  if (best === undefined) throw failure(reasons, 'a certificate that verifies')
  const anchored = await trust.newestAnchored?.(best.certificate, o.signal)
  if (anchored !== undefined && anchored > best.certificate.body.blockNumber) {
    o.onNotice?.(`${trust.describe(best.certificate)} anchors a certificate for block ${anchored}, newer than any source's latest (${best.certificate.body.blockNumber}); asking the sources for it`)
    let newer: CertifiedLocation | undefined
    for (let index = 0; index < o.sources.length && newer === undefined; index++) newer = await locateAt(o, trust, index, { kind: 'number', block: anchored }, reasons)
    if (newer === undefined) throw failure(reasons, `the certificate of block ${anchored}, the newest the trust root anchors (every source lags: the newest they serve is block ${best.certificate.body.blockNumber})`)
    best = newer
  }
  const top = best.certificate.body.blockNumber
  answers.forEach((a, index) => {
    if (a !== undefined && a.certificate.body.blockNumber < top) o.onNotice?.(`${label(o.sources[index]!)} lags: its latest certificate is for block ${a.certificate.body.blockNumber}, block ${top} is certified`)
  })
  return { ...best, reasons }
}

/** One source's verified answer to `query`, or undefined (the reason is noted) when it fails. */
async function locateAt(o: FetchOptions, trust: TrustRoot, index: number, query: BlockQuery, reasons: string[]): Promise<CertifiedLocation | undefined> {
  const src = o.sources[index]!
  const watch = new Watchdog({ stallMs: o.stallMs ?? FETCH_DEFAULTS.stallMs, ...(o.sourceTimeoutMs === undefined ? {} : { timeoutMs: o.sourceTimeoutMs }), ...(o.signal === undefined ? {} : { parent: o.signal }) })
  try {
    o.onProgress?.({ phase: 'locate', source: src.name, blocks: 0, bytes: 0, fetchedBlocks: 0, fetchedBytes: 0 })
    const located = await src.locate({ query, chainId: o.chainId, adapterId: o.adapterId }, watch)
    checkBlock(located.cid, located.bytes)
    const certificate = decodeCertificate(located.bytes)
    const b = certificate.body
    if (b.chainId !== o.chainId || b.adapterId !== o.adapterId) throw new SourceError(`its certificate is for chain ${b.chainId} adapter ${b.adapterId}, not chain ${o.chainId} adapter ${o.adapterId}`)
    if (query.kind === 'number' && b.blockNumber !== query.block) throw new SourceError(`its certificate is for block ${b.blockNumber}, not ${query.block}`)
    if (query.kind === 'before' && b.blockNumber >= query.block) throw new SourceError(`its certificate is for block ${b.blockNumber}, not before ${query.block}`)
    if (query.kind === 'cid' && located.cid.toString() !== query.cid.toString()) throw new SourceError(`answered a request for certificate ${query.cid.toString()} with ${String(located.cid)}`)
    if (query.kind === 'cid' && b.kind > 1) throw new SourceError(`certificate ${query.cid.toString()} is a restitution table (kind ${b.kind}), not a snapshot: fetch it with "ark restitution --certificate"`)
    const { weight } = await verifyAgainst(trust, certificate, watch.signal)
    return { certificate, certificateCid: located.cid, certificateBytes: located.bytes, weight, source: src.name, index, reasons }
  } catch (err) {
    o.signal?.throwIfAborted()
    reasons.push(`${label(src)}: ${why(err, watch)}`)
    o.onNotice?.(`dropped ${label(src)}: ${why(err, watch)}`)
    return undefined
  } finally {
    watch.dispose()
  }
}

/**
 * Fetch every block of the certified snapshot into the staging dir (blocks
 * staged by an earlier run are not fetched again), from the source that
 * located the certificate and then the ones after it, and verify the whole
 * snapshot against the certificate. The staging dir is kept on failure (a
 * rerun resumes) and handed back on success (remove it once written out).
 */
export async function fetchLocated(o: FetchOptions, at: CertifiedLocation): Promise<Fetched> {
  const reasons = [...at.reasons]
  const opened = await Staging.open(o.staging, at.certificateBytes)
  const staging = opened.staging
  if (opened.discarded !== undefined) o.onNotice?.(opened.discarded)
  if (opened.resumed.blocks > 0) o.onNotice?.(`resuming: ${opened.resumed.blocks} verified blocks (${opened.resumed.bytes} bytes) already staged in ${o.staging}`)
  const root = at.certificate.body.snapshotCid
  let current = at.source
  let phase: FetchProgress['phase'] = 'blocks'
  const report = (): void => {
    if (o.onProgress === undefined) return
    const p: FetchProgress = { phase, source: current, blocks: staging.size, bytes: opened.resumed.bytes + staging.added.bytes + staging.reused.bytes, fetchedBlocks: staging.added.blocks, fetchedBytes: staging.added.bytes }
    if (staging.has(root)) {
      const n = accountsOf(root, staging.get(root))
      if (n !== undefined) p.accounts = n
    }
    o.onProgress(p)
  }
  const ticker = o.onProgress === undefined ? undefined : setInterval(report, FETCH_DEFAULTS.progressMs)
  ticker?.unref()
  let done = false
  // verification runs while the blocks arrive: it reads the DAG in the order a CAR sends it, waiting for blocks not here yet
  const waiting = new WaitingStore(staging)
  let verifyFailure: { err: unknown } | undefined
  const verifyFailed = new AbortController()
  const noteFailure = (err: unknown): never => {
    if (verifyFailure === undefined && !waiting.failedWith(err)) {
      verifyFailure = { err }
      verifyFailed.abort(err)
    }
    throw err
  }
  // every block in staging was hash-checked on arrival (sources) or on resume (Staging.open): no second sha256 pass.
  // With a verified earlier snapshot the check waits for the blocks and does work in proportion to the change
  const previous = o.reuse?.previous
  const verifying = previous === undefined ? openCertifiedSnapshot(at.certificate, waiting, { blocksChecked: true }).catch(noteFailure) : undefined
  verifying?.catch(() => {})
  const verifyHeld = async (): Promise<Snapshot<unknown, unknown>> => {
    if (verifying !== undefined) return verifying
    const inc = await verifyIncrementally(at.certificate, staging, previous!).catch(noteFailure)
    // another record schema than the earlier snapshot's: verified in full
    return inc?.snapshot ?? openCertifiedSnapshot(at.certificate, staging, { blocksChecked: true }).catch(noteFailure)
  }
  const parent = o.signal === undefined ? verifyFailed.signal : AbortSignal.any([o.signal, verifyFailed.signal])
  try {
    for (let index = at.index; index < o.sources.length; index++) {
      const src = o.sources[index]!
      current = src.name
      const watch = new Watchdog({ stallMs: o.stallMs ?? FETCH_DEFAULTS.stallMs, ...(o.sourceTimeoutMs === undefined ? {} : { timeoutMs: o.sourceTimeoutMs }), parent })
      const tb = performance.now()
      try {
        const before = staging.added.blocks
        if (o.reuse === undefined) await src.fetchBlocks(root, staging, watch)
        else await fetchReusing(src, root, staging, o.reuse, watch)
        await staging.flush()
        const blocksMs = performance.now() - tb
        phase = 'verify'
        report()
        const tv = performance.now()
        const snapshot = await verifyHeld()
        const verifyMs = performance.now() - tv
        done = true
        const source = staging.added.blocks > before || index === at.index ? src.name : at.source
        return {
          certificate: at.certificate,
          certificateCid: at.certificateCid,
          certificateBytes: at.certificateBytes,
          snapshot,
          store: staging.memory,
          weight: at.weight,
          source,
          certificateSource: at.source,
          staging,
          stats: {
            blocks: staging.size,
            bytes: opened.resumed.bytes + staging.added.bytes + staging.reused.bytes,
            fetchedBlocks: staging.added.blocks,
            fetchedBytes: staging.added.bytes,
            resumedBlocks: opened.resumed.blocks,
            resumedBytes: opened.resumed.bytes,
            reusedBlocks: staging.reused.blocks,
            reusedBytes: staging.reused.bytes,
            ms: { locate: 0, blocks: Math.round(blocksMs), verify: Math.round(verifyMs) },
          },
        }
      } catch (err) {
        o.signal?.throwIfAborted()
        if (verifyFailure !== undefined) {
          // a record schema this installation lacks is ours to fix (install the adapter module), not the signers' fault
          if (verifyFailure.err instanceof ArkError && verifyFailure.err.code === 'UNSUPPORTED_VERSION') throw verifyFailure.err
          // every block hash-checked, yet the DAG is not the certified snapshot: no source can fix that
          const e = verifyFailure.err as Error
          throw new ArkError('ROOT_MISMATCH', `the certified snapshot ${root.toString()} does not verify: ${e.message}; its signers certified a snapshot that is not valid, report it to the operators`, { cause: e })
        }
        reasons.push(`${label(src)}: ${why(err, watch)}`)
        o.onNotice?.(`dropped ${label(src)}: ${why(err, watch)}`)
      } finally {
        watch.dispose()
      }
    }
    if (verifyFailure?.err instanceof ArkError && verifyFailure.err.code === 'UNSUPPORTED_VERSION') throw verifyFailure.err
    throw failure(reasons, `the blocks of snapshot ${root.toString()} (${staging.size} verified blocks are kept in ${o.staging}; rerun the same command to resume)`)
  } finally {
    if (!done) waiting.fail(new ArkError('IO', 'the fetch ended'))
    waiting.detach()
    if (ticker !== undefined) clearInterval(ticker)
    if (done) report()
    else await staging.close().catch(() => {})
  }
}

/** locateCertified then fetchLocated; closes the sources. */
export async function fetchCertified(o: FetchOptions): Promise<Fetched> {
  try {
    const t = performance.now()
    const at = await locateCertified(o)
    const locateMs = Math.round(performance.now() - t)
    const r = await fetchLocated(o, at)
    r.stats.ms.locate = locateMs
    return r
  } finally {
    await closeSources(o.sources)
  }
}

export async function closeSources(sources: FetchSource[]): Promise<void> {
  await Promise.all(sources.map((s) => s.close().catch(() => {})))
}

/** accountCount from the snapshot root block (progress display only: verified later). */
function accountsOf(root: CID, rootBytes: Uint8Array): number | undefined {
  try {
    return decodeRoot(root, rootBytes).accountCount
  } catch {
    return undefined
  }
}
