import { readFile, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ArkError } from '../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { CID } from 'multiformats/cid'
import { closeSources, FETCH_DEFAULTS, fetchLocated, locateCertified, parseBlockQuery, type BlockQuery, type FetchOptions } from '../recovery/fetch.ts'
import { gatewaySource } from '../recovery/gateway-source.ts'
import { openReusable } from '../recovery/incremental.ts'
import { peerSource } from '../recovery/peer-source.ts'
import { progressLine } from '../recovery/progress.ts'
import { routingProviders } from '../recovery/routing-providers.ts'
import type { FetchSource } from '../recovery/source.ts'
import { writeSnapshotDir } from '../recovery/snapshot-dir.ts'
import { stagingPathFor } from '../recovery/staging.ts'
import { positiveInt, required, UsageError, type Command } from './command.ts'
import { sourceOptions } from './recovery/source-options.ts'
import { TRUST_OPTIONS, trustRootFromOptions } from './recovery/trust-options.ts'


/** What an existing --out holds: nothing, an earlier fetch's output (its summary), or something else. */
async function existingOut(out: string): Promise<'absent' | { snapshot: string; block: string }> {
  try {
    await stat(out)
  } catch {
    return 'absent'
  }
  try {
    const s = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { snapshot?: unknown; block?: unknown }
    if (typeof s.snapshot === 'string') return { snapshot: s.snapshot, block: String(s.block) }
  } catch {
    // not a fetch output
  }
  throw new InvalidInputError(`${out} already exists and is not the output of an earlier "ark fetch"; choose a new --out directory (fetch never mixes two snapshots in one directory)`)
}

export const fetchCommand: Command = {
  name: 'fetch',
  summary: 'Fetch a certified snapshot by block from untrusted peers or gateways, verify certificate, blocks and stateRoot, and write it out.',
  usage: 'ark fetch --chain ID --adapter ID (--block N|latest|before:N | --cid CERTIFICATE_CID) (--trust operators.json | --registry ADDRESS --rpc URL) (--peer MULTIADDR ... | --gateway URL ... | --routing URL ...) --out DIR [--from EARLIER_DIR] [--stall-timeout SECONDS] [--json]',
  options: {
    chain: { type: 'string', description: 'chain id' },
    adapter: { type: 'string', description: 'adapter id, e.g. perp-reference' },
    block: { type: 'string', description: 'N, latest, or before:N (the last certified checkpoint strictly before N)' },
    cid: { type: 'string', description: 'instead of --block: the certificate CID (from a citation, an ArkRegistry CertificateSubmitted event or another node)' },
    routing: { type: 'string', multiple: true, description: 'with --cid: a Delegated Routing V1 endpoint (an archive node\'s HTTP API, someguy, Kubo); the providers it names are tried as --peer sources' },
    ...TRUST_OPTIONS,
    peer: { type: 'string', multiple: true, description: 'archive node libp2p multiaddr (catch-up protocol + bitswap); peers are tried first, in order' },
    gateway: { type: 'string', multiple: true, description: 'archive node HTTP API / trustless gateway URL; tried after the peers, in order' },
    out: { type: 'string', description: 'output directory, written by rename when complete; an interrupted fetch resumes from .<name>.partial beside it' },
    from: { type: 'string', description: 'an earlier "ark fetch --out" directory (checked again against the same trust root): its blocks are reused, only the others are downloaded' },
    'stall-timeout': { type: 'string', description: `drop a source that sends nothing for this many seconds (default ${FETCH_DEFAULTS.stallMs / 1000})` },
  },
  async run({ values, json, io, signal }) {
    const query = fetchQuery(values, this)
    const routing = (values.routing as string[] | undefined) ?? []
    if (routing.length > 0) {
      if (query.kind !== 'cid') throw new UsageError('--routing finds providers of a CID: give --cid')
      const found = (await Promise.all(routing.map((r) => routingProviders(r, query.cid, signal).catch((err: unknown) => (io.stderr(`routing: ${(err as Error).message}\n`), []))))).flat()
      if (found.length === 0) io.stderr(`routing: no provider of ${query.cid.toString()} found\n`)
      values.peer = [...((values.peer as string[] | undefined) ?? []), ...found]
    }
    const { peers, gateways, chainId, adapterId } = sourceOptions(values, this)
    const stallMs = positiveInt(values['stall-timeout'] as string | undefined, 'stall-timeout', FETCH_DEFAULTS.stallMs / 1000) * 1000
    const trust = (await trustRootFromOptions(values, { required: true, chainId, usage: this.usage }))!
    const out = resolve(required(values, 'out', this))
    const previous = await existingOut(out)
    const from = values.from as string | undefined
    const reuse = from === undefined ? undefined : await openReusable(resolve(from), trust, chainId, adapterId, signal)
    const staging = stagingPathFor(out)
    const sources: FetchSource[] = [...peers.map((p) => peerSource(p)), ...gateways.map((g) => gatewaySource(g))]
    const progress = !json && process.stderr.isTTY === true ? progressLine((s) => io.stderr(s), process.stderr.columns ?? 120) : undefined
    const notice = (m: string): void => {
      if (json) return
      progress?.done()
      io.stderr(`${m}\n`)
    }
    const o: FetchOptions = { sources, chainId, adapterId, query, trust, staging, stallMs, signal, onNotice: notice, ...(reuse === undefined ? {} : { reuse }), ...(progress === undefined ? {} : { onProgress: (p) => progress.update(p) }) }
    const interrupted = (err: unknown): unknown => (signal.aborted ? new ArkError('IO', `interrupted; verified blocks so far are kept in ${staging}: rerun the same command to resume`, { cause: err, retryable: true }) : err)
    try {
      const at = await locateCertified(o)
      const b = at.certificate.body
      if (previous !== 'absent') {
        await rm(staging, { recursive: true, force: true })
        if (previous.snapshot !== b.snapshotCid.toString()) throw new InvalidInputError(`${out} already holds snapshot ${previous.snapshot} (block ${previous.block}), but the certificate found is for ${b.snapshotCid.toString()} (block ${b.blockNumber}); choose a new --out directory (fetch never mixes two snapshots in one directory)`)
        progress?.done()
        io.stdout(json ? `${JSON.stringify({ out, upToDate: true, block: b.blockNumber.toString(), snapshot: b.snapshotCid.toString(), certificate: at.certificateCid.toString() })}\n` : `${out} already holds snapshot ${b.snapshotCid.toString()} of block ${b.blockNumber}; nothing to fetch (check it with "ark verify ${out}")\n`)
        return
      }
      const r = await fetchLocated(o, at)
      progress?.done()
      try {
        const summary = await writeSnapshotDir(out, r, trust.describe(r.certificate))
        await r.staging.remove()
        const st = r.stats
        io.stdout(
          json
            ? `${JSON.stringify({ out, ...summary, fetched: { blocks: st.fetchedBlocks, bytes: st.fetchedBytes }, resumed: { blocks: st.resumedBlocks, bytes: st.resumedBytes }, reused: { blocks: st.reusedBlocks, bytes: st.reusedBytes }, ms: st.ms })}\n`
            : `verified snapshot of block ${summary.block} (${summary.accounts} accounts, weight ${summary.weight}) from ${summary.source}\n  certificate ${summary.certificate}\n  snapshot    ${summary.snapshot}\n  stateRoot   ${summary.stateRoot}\n  blocks      ${st.blocks} (${st.fetchedBlocks} fetched, ${st.resumedBlocks} resumed${reuse === undefined ? '' : `, ${st.reusedBlocks} reused from ${reuse.describe}`})\n  downloaded  ${st.fetchedBytes} bytes of ${st.bytes}\nwrote ${out}\n`,
        )
      } catch (err) {
        await r.staging.close().catch(() => {})
        throw err
      }
    } catch (err) {
      progress?.done()
      throw interrupted(err)
    } finally {
      await closeSources(sources)
    }
  },
}

/** --block or --cid (exactly one). */
function fetchQuery(values: Record<string, unknown>, cmd: Command): BlockQuery {
  const block = values.block as string | undefined
  const cid = values.cid as string | undefined
  if ((block === undefined) === (cid === undefined)) throw new UsageError(`give exactly one of --block and --cid\n\nusage: ${cmd.usage}`)
  try {
    if (cid !== undefined) return { kind: 'cid', cid: CID.parse(cid) }
    return parseBlockQuery(block!)
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError(cid !== undefined ? `--cid ${JSON.stringify(cid.slice(0, 80))} is not a CID` : (err as Error).message)
  }
}
