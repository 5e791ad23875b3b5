import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { Address } from '../../protocol/operator-set.ts'
import type { ChainSource } from '../../snapshot/chain/source.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import type { NodeConfig } from '../archive/config.ts'
import { checkPrivateFile, loadOperatorKey, passwordEnvOf } from '../archive/operator-key.ts'
import type { WatchdogOptions } from './options.ts'
import { watchdogService, type Watchdog, type WatchdogComponents } from './service.ts'

export interface NodeWatchdogInit {
  config: NodeConfig
  /** the watchdog section, parsed (NodeConfig.watchdog) */
  watchdog: { options: WatchdogOptions; secretFiles: { index: number; file: string }[] }
  adapterId: string
  adapterConfig: unknown
  configHash: Hex
  source: ChainSource
  logger: Logger
  devKey: boolean
  env?: NodeJS.ProcessEnv
}

/**
 * Build a node's watchdog from its config: webhook secrets from their 0600
 * files, the guardian key (keystore unlocked by ARK_GUARDIAN_PASSWORD,
 * ARK_GUARDIAN_PASSWORD_FILE or the breaker's passwordFile; a plain key file
 * only with --dev-key), the exchange from `watchdog.exchange` or the
 * perp-reference adapter's config.
 */
export async function createNodeWatchdog(init: NodeWatchdogInit, components: WatchdogComponents): Promise<Watchdog> {
  const options: WatchdogOptions = { ...init.watchdog.options, webhooks: init.watchdog.options.webhooks.map((w) => ({ ...w })) }
  for (const s of init.watchdog.secretFiles) {
    await checkPrivateFile(s.file, 'webhook secret file')
    const secret = (await readFile(s.file, 'utf8')).trim()
    if (secret.length < 16) throw new InvalidInputError(`webhook secret file ${s.file} must hold at least 16 characters`)
    options.webhooks[s.index]!.secret = secret
  }
  const exchange = options.exchange ?? (init.adapterId === 'perp-reference' ? ((init.adapterConfig as { exchange?: string }).exchange as Address | undefined) : undefined)
  if (exchange === undefined) throw new InvalidInputError('config "watchdog.exchange" is required for adapters other than perp-reference (the exchange the protocol monitors watch)')
  let guardian: PrivateKeyAccount | undefined
  if (options.breaker !== undefined) {
    guardian = await loadOperatorKey(options.breaker.key, { devKey: init.devKey, env: passwordEnvOf(init.env ?? process.env, 'ARK_GUARDIAN') })
  }
  return watchdogService({
    options,
    chainId: init.config.chain.chainId,
    adapterId: init.adapterId,
    configHash: init.configHash,
    exchange: exchange.toLowerCase() as Address,
    source: init.source,
    dataDir: init.config.dataDir,
    logger: init.logger,
    ...(guardian === undefined ? {} : { guardian }),
  })(components)
}
