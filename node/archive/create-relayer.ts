import type { Logger } from 'pino'
import type { NodeConfig } from './config.ts'
import { loadOperatorKey, passwordEnvOf } from './operator-key.ts'
import { AnchorRelayer, type RelayerMetrics } from './relayer.ts'

/**
 * The node's anchoring relayer from its config: the key is a keystore unlocked by
 * ARK_RELAYER_PASSWORD, ARK_RELAYER_PASSWORD_FILE or the relayer's passwordFile (a plain key file
 * only with --dev-key); transactions go to the first RPC endpoint.
 */
export async function createRelayer(init: { relayer: NonNullable<NodeConfig['relayer']>; chainId: bigint; rpcUrl: string; devKey: boolean; env: NodeJS.ProcessEnv; metrics: RelayerMetrics; log: Logger; signal: AbortSignal }): Promise<AnchorRelayer> {
  const account = await loadOperatorKey(init.relayer.key, { devKey: init.devKey, env: passwordEnvOf(init.env, 'ARK_RELAYER') })
  const relayer = new AnchorRelayer({ account, registry: init.relayer.registry, chainId: init.chainId, rpcUrl: init.rpcUrl, delayMs: init.relayer.delayMs, metrics: init.metrics, log: init.log, signal: init.signal })
  init.log.info({ relayer: relayer.address, registry: init.relayer.registry, delayMs: init.relayer.delayMs }, 'anchoring relayer on')
  return relayer
}
