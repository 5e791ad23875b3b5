import { resolve } from 'node:path'
import { bigintReplacer } from '../../../snapshot/codec/json.ts'
import { FETCH_DEFAULTS } from '../../recovery/fetch.ts'
import { gatewaySource } from '../../recovery/gateway-source.ts'
import { MIRROR_DEFAULTS, runMirror, statusLine } from '../../recovery/mirror.ts'
import { peerSource } from '../../recovery/peer-source.ts'
import { positiveInt, required, UsageError, type Command } from '../command.ts'
import { sourceOptions } from './source-options.ts'
import { TRUST_OPTIONS, trustRootFromOptions } from './trust-options.ts'

/** Seconds, possibly fractional (e.g. 0.5), as whole milliseconds; at least 100 ms. */
function seconds(v: string | undefined, name: string, fallbackMs: number): number {
  if (v === undefined) return fallbackMs
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) * 1000 < 100 || Number(v) > 86_400) throw new UsageError(`--${name} must be a number of seconds between 0.1 and 86400, got ${JSON.stringify(v)}`)
  return Math.round(Number(v) * 1000)
}

export const mirrorCommand: Command = {
  name: 'mirror',
  summary: 'Follow certified checkpoints and keep the newest, verified, as ready-to-use recovery directories (incremental fetches).',
  usage: 'ark mirror --chain ID --adapter ID (--trust operators.json | --registry ADDRESS --rpc URL) (--peer MULTIADDR ... | --gateway URL ...) --dir DIR [--keep N] [--poll-interval SECONDS] [--stall-timeout SECONDS] [--once] [--json]',
  options: {
    chain: { type: 'string', description: 'chain id' },
    adapter: { type: 'string', description: 'adapter id, e.g. perp-reference' },
    ...TRUST_OPTIONS,
    peer: { type: 'string', multiple: true, description: 'archive node libp2p multiaddr (catch-up protocol + bitswap; certificates followed over gossip, polling as the fallback); peers are tried first' },
    gateway: { type: 'string', multiple: true, description: 'archive node HTTP API / trustless gateway URL, polled (/v1/checkpoints/latest)' },
    dir: { type: 'string', description: 'mirror directory: DIR/<block>/ per kept checkpoint (as "ark fetch --out" writes it), DIR/latest names the newest' },
    keep: { type: 'string', description: `checkpoint directories kept, newest first; emergency checkpoints are kept beside them (default ${MIRROR_DEFAULTS.keep})` },
    'poll-interval': { type: 'string', description: `seconds between asking the sources for a newer checkpoint (default ${MIRROR_DEFAULTS.pollMs / 1000})` },
    'stall-timeout': { type: 'string', description: `drop a source that sends nothing for this many seconds (default ${FETCH_DEFAULTS.stallMs / 1000})` },
    once: { type: 'boolean', description: 'mirror up to the newest certified checkpoint, then exit (for cron)' },
  },
  async run({ values, json, io, signal }) {
    const { peers, gateways, chainId, adapterId } = sourceOptions(values, this)
    const dir = resolve(required(values, 'dir', this))
    const keep = positiveInt(values.keep as string | undefined, 'keep', MIRROR_DEFAULTS.keep)
    const pollMs = seconds(values['poll-interval'] as string | undefined, 'poll-interval', MIRROR_DEFAULTS.pollMs)
    const stallMs = positiveInt(values['stall-timeout'] as string | undefined, 'stall-timeout', FETCH_DEFAULTS.stallMs / 1000) * 1000
    const trust = (await trustRootFromOptions(values, { required: true, chainId, usage: this.usage }))!
    await runMirror({
      sources: () => [...peers.map((p) => peerSource(p)), ...gateways.map((g) => gatewaySource(g))],
      gossipPeers: peers,
      chainId,
      adapterId,
      trust,
      dir,
      keep,
      pollMs,
      stallMs,
      signal,
      once: values.once === true,
      onNotice: (m) => io.stderr(`mirror: ${m}\n`),
      onCheckpoint: (s) => {
        io.stderr(statusLine(s))
        if (json) io.stdout(`${JSON.stringify(s, bigintReplacer)}\n`)
      },
    })
  },
}
