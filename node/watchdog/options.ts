import * as dagCbor from '@ipld/dag-cbor'
import type { Hex } from 'viem'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'

type Address = `0x${string}`

/**
 * Watchdog thresholds (PROTOCOL.md §12.1). The `oracle`, `engine` and
 * `emergency.cooldownBlocks` values decide whether an emergency condition
 * holds and where it began: they are hashed into every alert (`paramsHash`)
 * and MUST be identical on every node of a network, like the adapter config.
 * The rest (polling, chain liveness, webhooks, breaker) is local.
 */
export interface WatchdogOptions {
  /** how often the chain is observed */
  pollMs: number
  /** the exchange the protocol monitors watch (default: the perp-reference adapter's `exchange`) */
  exchange?: Address
  chain: {
    /** chain-stall: no new block for this long (wall clock, ms) */
    maxBlockGapMs: number
    /** rpc-disagreement: endpoints' latest heads further apart than this many blocks (a hash mismatch at a common height always counts) */
    maxHeadSpreadBlocks: number
    /** head-lag: the node's own finalized head this many blocks behind the chain's */
    maxHeadLagBlocks: number
  }
  oracle: {
    /** oracle-stale: a feed's last update older than this (seconds of block time) */
    heartbeatSec: number
    /** per-feed heartbeat overrides (lower-case feed address → seconds) */
    heartbeats: Record<string, number>
    /** oracle-deviation: a round-to-round move beyond this, in basis points of the previous answer */
    maxDeviationBps: number
    /** oracle-disagreement: pairs of feeds for one market and their bound in basis points of the lower answer */
    pairs: { feeds: [Address, Address]; maxBps: number }[]
    /** feeds watched besides the exchange's market feeds */
    extraFeeds: Address[]
  }
  engine: {
    /** liquidation-backlog: an account below maintenance margin for more than this many blocks */
    backlogBlocks: number
    /** funding-stale: a market with open interest whose funding index was not accrued for this long (seconds) */
    fundingPeriodSec: number
    /** accounts (most under water first) confirmed on chain per poll */
    backlogCandidates: number
    /** how far back the start of an account's run below margin is searched */
    maxLookbackBlocks: number
  }
  emergency: {
    /** take emergency checkpoints at all */
    enabled: boolean
    /** per (kind, subject): no second emergency whose block is within this many blocks of the previous one (deterministic rate limit) */
    cooldownBlocks: number
    /** local safety cap: emergencies started per hour of wall clock */
    maxPerHour: number
  }
  webhooks: { url: string; secret: string }[]
  webhook: { queue: number; maxAttempts: number; backoffMs: number; maxBackoffMs: number; timeoutMs: number }
  /** circuit breaker: with a guardian key, call pause() on the exchange once an emergency is quorum-confirmed */
  breaker?: { key: { keystore: string; passwordFile?: string } | { devPrivateKeyFile: string }; exchange?: Address }
}

export const WATCHDOG_DEFAULTS: Readonly<WatchdogOptions> = Object.freeze({
  pollMs: 1_000,
  chain: { maxBlockGapMs: 60_000, maxHeadSpreadBlocks: 3, maxHeadLagBlocks: 64 },
  oracle: { heartbeatSec: 3_600, heartbeats: {}, maxDeviationBps: 2_000, pairs: [], extraFeeds: [] },
  engine: { backlogBlocks: 20, fundingPeriodSec: 8 * 3_600, backlogCandidates: 16, maxLookbackBlocks: 256 },
  emergency: { enabled: true, cooldownBlocks: 100, maxPerHour: 6 },
  webhooks: [],
  webhook: { queue: 1_000, maxAttempts: 8, backoffMs: 500, maxBackoffMs: 30_000, timeoutMs: 5_000 },
})

/** keccak256 of the consensus thresholds (dag-cbor, sorted keys): equal hashes ⇔ equal rules. */
export function paramsHash(o: WatchdogOptions): Hex {
  const heartbeats = Object.entries(o.oracle.heartbeats).map(([f, s]) => [f.toLowerCase(), s] as const).sort(([a], [b]) => (a < b ? -1 : 1))
  const pairs = o.oracle.pairs.map((p) => [p.feeds[0].toLowerCase(), p.feeds[1].toLowerCase(), p.maxBps] as const).sort((a, b) => (a.join() < b.join() ? -1 : 1))
  return bytesToHex(
    keccak256(
      dagCbor.encode({
        v: 1,
        heartbeatSec: o.oracle.heartbeatSec,
        heartbeats,
        maxDeviationBps: o.oracle.maxDeviationBps,
        pairs,
        backlogBlocks: o.engine.backlogBlocks,
        fundingPeriodSec: o.engine.fundingPeriodSec,
        cooldownBlocks: o.emergency.cooldownBlocks,
      }),
    ),
  )
}

export function heartbeatOf(o: WatchdogOptions, feed: string): number {
  return o.oracle.heartbeats[feed.toLowerCase()] ?? o.oracle.heartbeatSec
}

type Obj = Record<string, unknown>
const ADDRESS = /^0x[0-9a-fA-F]{40}$/

function obj(v: unknown, key: string): Obj {
  if (v === undefined) return {}
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidInputError(`config "${key}" must be an object`)
  return v as Obj
}
function only(o: Obj, key: string, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidInputError(`config "${key}" has unknown key "${k}"; allowed: ${allowed.join(', ')}`)
}
function int(v: unknown, key: string, d: number, min = 0): number {
  if (v === undefined) return d
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidInputError(`config "${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`)
  return v
}
function address(v: unknown, key: string): Address {
  if (typeof v !== 'string' || !ADDRESS.test(v)) throw new InvalidInputError(`config "${key}" must be a 0x-prefixed 20-byte address`)
  return v.toLowerCase() as Address
}

/**
 * Parse the node config's `watchdog` section. Secrets: a webhook's `secretFile`
 * (read by the caller, mode 0600) or `secretEnv` (an environment variable name);
 * paths are resolved with `path`.
 */
export function parseWatchdogConfig(json: unknown, path: (p: string) => string, env: NodeJS.ProcessEnv = {}): { options: WatchdogOptions; secretFiles: { index: number; file: string }[] } {
  const root = obj(json, 'watchdog')
  only(root, 'watchdog', ['exchange', 'pollMs', 'chain', 'oracle', 'engine', 'emergency', 'webhooks', 'webhook', 'breaker'])
  const D = WATCHDOG_DEFAULTS
  const chain = obj(root.chain, 'watchdog.chain')
  only(chain, 'watchdog.chain', ['maxBlockGapMs', 'maxHeadSpreadBlocks', 'maxHeadLagBlocks'])
  const oracle = obj(root.oracle, 'watchdog.oracle')
  only(oracle, 'watchdog.oracle', ['heartbeatSec', 'heartbeats', 'maxDeviationBps', 'pairs', 'extraFeeds'])
  const engine = obj(root.engine, 'watchdog.engine')
  only(engine, 'watchdog.engine', ['backlogBlocks', 'fundingPeriodSec', 'backlogCandidates', 'maxLookbackBlocks'])
  const em = obj(root.emergency, 'watchdog.emergency')
  only(em, 'watchdog.emergency', ['enabled', 'cooldownBlocks', 'maxPerHour'])
  const wh = obj(root.webhook, 'watchdog.webhook')
  only(wh, 'watchdog.webhook', ['queue', 'maxAttempts', 'backoffMs', 'maxBackoffMs', 'timeoutMs'])
  const heartbeats: Record<string, number> = {}
  for (const [f, s] of Object.entries(obj(oracle.heartbeats, 'watchdog.oracle.heartbeats'))) heartbeats[address(f, `watchdog.oracle.heartbeats key ${f}`)] = int(s, `watchdog.oracle.heartbeats.${f}`, 0, 1)
  const pairsRaw = oracle.pairs ?? []
  if (!Array.isArray(pairsRaw)) throw new InvalidInputError('config "watchdog.oracle.pairs" must be a list of {"feeds": ["0x…", "0x…"], "maxBps": N}')
  const pairs = pairsRaw.map((p: unknown, i: number) => {
    const o = obj(p, `watchdog.oracle.pairs[${i}]`)
    only(o, `watchdog.oracle.pairs[${i}]`, ['feeds', 'maxBps'])
    if (!Array.isArray(o.feeds) || o.feeds.length !== 2) throw new InvalidInputError(`config "watchdog.oracle.pairs[${i}].feeds" must list exactly two feed addresses`)
    return { feeds: [address(o.feeds[0], `watchdog.oracle.pairs[${i}].feeds[0]`), address(o.feeds[1], `watchdog.oracle.pairs[${i}].feeds[1]`)] as [Address, Address], maxBps: int(o.maxBps, `watchdog.oracle.pairs[${i}].maxBps`, 200, 1) }
  })
  const extra = oracle.extraFeeds ?? []
  if (!Array.isArray(extra)) throw new InvalidInputError('config "watchdog.oracle.extraFeeds" must be a list of feed addresses')
  const hooksRaw = root.webhooks ?? []
  if (!Array.isArray(hooksRaw)) throw new InvalidInputError('config "watchdog.webhooks" must be a list of {"url": "https://…", "secretFile" | "secretEnv": …}')
  const secretFiles: { index: number; file: string }[] = []
  const webhooks = hooksRaw.map((h: unknown, i: number) => {
    const o = obj(h, `watchdog.webhooks[${i}]`)
    only(o, `watchdog.webhooks[${i}]`, ['url', 'secretFile', 'secretEnv'])
    if (typeof o.url !== 'string' || !/^https?:\/\//.test(o.url)) throw new InvalidInputError(`config "watchdog.webhooks[${i}].url" must be an http(s) URL`)
    let secret = ''
    if (typeof o.secretEnv === 'string') {
      secret = env[o.secretEnv] ?? ''
      if (secret.length < 16) throw new InvalidInputError(`webhook ${i}: environment variable ${o.secretEnv} must hold a secret of at least 16 characters`)
    } else if (typeof o.secretFile === 'string') secretFiles.push({ index: i, file: path(o.secretFile) })
    else throw new InvalidInputError(`config "watchdog.webhooks[${i}]" needs "secretFile" (mode 0600) or "secretEnv": receivers authenticate deliveries with it`)
    return { url: o.url, secret }
  })
  let breaker: WatchdogOptions['breaker']
  if (root.breaker !== undefined) {
    const b = obj(root.breaker, 'watchdog.breaker')
    only(b, 'watchdog.breaker', ['keystore', 'passwordFile', 'devPrivateKeyFile', 'exchange'])
    const key = typeof b.keystore === 'string' ? { keystore: path(b.keystore), ...(typeof b.passwordFile === 'string' ? { passwordFile: path(b.passwordFile) } : {}) } : typeof b.devPrivateKeyFile === 'string' ? { devPrivateKeyFile: path(b.devPrivateKeyFile) } : undefined
    if (key === undefined) throw new InvalidInputError('config "watchdog.breaker" needs the guardian key: {"keystore": "guardian.json", "passwordFile"?: …} (or "devPrivateKeyFile" with --dev-key)')
    breaker = { key, ...(b.exchange === undefined ? {} : { exchange: address(b.exchange, 'watchdog.breaker.exchange') }) }
  }
  const options: WatchdogOptions = {
    pollMs: int(root.pollMs, 'watchdog.pollMs', D.pollMs, 50),
    ...(root.exchange === undefined ? {} : { exchange: address(root.exchange, 'watchdog.exchange') }),
    chain: {
      maxBlockGapMs: int(chain.maxBlockGapMs, 'watchdog.chain.maxBlockGapMs', D.chain.maxBlockGapMs, 100),
      maxHeadSpreadBlocks: int(chain.maxHeadSpreadBlocks, 'watchdog.chain.maxHeadSpreadBlocks', D.chain.maxHeadSpreadBlocks),
      maxHeadLagBlocks: int(chain.maxHeadLagBlocks, 'watchdog.chain.maxHeadLagBlocks', D.chain.maxHeadLagBlocks, 1),
    },
    oracle: {
      heartbeatSec: int(oracle.heartbeatSec, 'watchdog.oracle.heartbeatSec', D.oracle.heartbeatSec, 1),
      heartbeats,
      maxDeviationBps: int(oracle.maxDeviationBps, 'watchdog.oracle.maxDeviationBps', D.oracle.maxDeviationBps, 1),
      pairs,
      extraFeeds: extra.map((f: unknown, i: number) => address(f, `watchdog.oracle.extraFeeds[${i}]`)),
    },
    engine: {
      backlogBlocks: int(engine.backlogBlocks, 'watchdog.engine.backlogBlocks', D.engine.backlogBlocks, 1),
      fundingPeriodSec: int(engine.fundingPeriodSec, 'watchdog.engine.fundingPeriodSec', D.engine.fundingPeriodSec, 1),
      backlogCandidates: int(engine.backlogCandidates, 'watchdog.engine.backlogCandidates', D.engine.backlogCandidates),
      maxLookbackBlocks: int(engine.maxLookbackBlocks, 'watchdog.engine.maxLookbackBlocks', D.engine.maxLookbackBlocks, 1),
    },
    emergency: {
      enabled: em.enabled === undefined ? D.emergency.enabled : em.enabled === true,
      cooldownBlocks: int(em.cooldownBlocks, 'watchdog.emergency.cooldownBlocks', D.emergency.cooldownBlocks),
      maxPerHour: int(em.maxPerHour, 'watchdog.emergency.maxPerHour', D.emergency.maxPerHour, 1),
    },
    webhooks,
    webhook: {
      queue: int(wh.queue, 'watchdog.webhook.queue', D.webhook.queue, 1),
      maxAttempts: int(wh.maxAttempts, 'watchdog.webhook.maxAttempts', D.webhook.maxAttempts, 1),
      backoffMs: int(wh.backoffMs, 'watchdog.webhook.backoffMs', D.webhook.backoffMs, 1),
      maxBackoffMs: int(wh.maxBackoffMs, 'watchdog.webhook.maxBackoffMs', D.webhook.maxBackoffMs, 1),
      timeoutMs: int(wh.timeoutMs, 'watchdog.webhook.timeoutMs', D.webhook.timeoutMs, 100),
    },
    ...(breaker === undefined ? {} : { breaker }),
  }
  return { options, secretFiles }
}
