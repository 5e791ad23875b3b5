import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { encodeAlert, signAlert } from '../../protocol/alert.ts'
import { encodeFunctionData, parseAbi, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { Address } from '../../protocol/operator-set.ts'
import { makeOperatorSet } from '../../protocol/operator-set.ts'
import { perpReferenceAdapter } from '../../snapshot/adapters/perp-reference/adapter.ts'
import { configHash } from '../../snapshot/derive/derive.ts'
import { normalizeV } from '../../protocol/attestation.ts'
import { WATCHDOG_DEFAULTS, type WatchdogOptions } from '../../node/watchdog/options.ts'
import { Watchdog, type WatchdogComponents } from '../../node/watchdog/service.ts'
import { operatorKey } from './archive-cluster.ts'
import type { ChainFixture } from './chain.ts'

const feedWriteAbi = parseAbi(['function updateAnswer(int256 answer)'])

/** Options for tests: defaults with overrides per section. */
export function watchdogOptions(over: { [K in keyof WatchdogOptions]?: Partial<WatchdogOptions[K]> | WatchdogOptions[K] } = {}): WatchdogOptions {
  const d = WATCHDOG_DEFAULTS
  return {
    ...d,
    ...(over as Partial<WatchdogOptions>),
    chain: { ...d.chain, ...over.chain },
    oracle: { ...d.oracle, ...over.oracle },
    engine: { ...d.engine, ...over.engine },
    emergency: { ...d.emergency, ...over.emergency },
    webhook: { ...d.webhook, ...over.webhook },
    webhooks: (over.webhooks as WatchdogOptions['webhooks'] | undefined) ?? [],
  }
}

/** A watchdog on its own (no archive node): real chain reads; published alerts are collected. */
export function standaloneWatchdog(f: ChainFixture, options: WatchdogOptions, dataDir: string, extra: Partial<WatchdogComponents> = {}): { wd: Watchdog; published: Uint8Array[] } {
  const key = operatorKey(0)
  const account = privateKeyToAccount(key)
  const operators = makeOperatorSet(new Map([0, 1, 2, 3].map((i) => [privateKeyToAccount(operatorKey(i)).address.toLowerCase() as Address, 1n])))
  const published: Uint8Array[] = []
  const source = f.source()
  const wd = new Watchdog(
    { options, chainId: 31337n, adapterId: 'perp-reference', configHash: configHash(perpReferenceAdapter, f.config), exchange: f.deployment.exchange.toLowerCase() as Address, source, dataDir, logger: pino({ level: process.env.ARK_TEST_LOG ?? 'silent' }) },
    {
      operator: () => account.address.toLowerCase() as Address,
      sign: async (d) => normalizeV(await account.sign({ hash: d })),
      publish: async (b) => void published.push(b),
      context: () => ({ chainId: 31337n, adapterId: 'perp-reference', configHash: configHash(perpReferenceAdapter, f.config), operators, finalizedHead: 1n << 62n, maxAheadBlocks: 0n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } }),
      emergencyCheckpoint: async () => {},
      ...extra,
    },
  )
  return { wd, published }
}

/** The reference deployment's price updater writes a new answer (one transaction, mined if automine is on). */
export async function setPrice(f: ChainFixture, feed: string, answer: bigint): Promise<void> {
  const hash = await f.rpc<Hex>('eth_sendTransaction', [{ from: f.deployment.updater, to: feed, data: encodeFunctionData({ abi: feedWriteAbi, functionName: 'updateAnswer', args: [answer] }), gas: '0x30000' }])
  for (let i = 0; i < 100; i++) {
    if ((await f.rpc<unknown>('eth_getTransactionReceipt', [hash])) !== null) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('price update not mined')
}

/** Advance block time by `seconds` and mine one block. */
export async function mineAfter(f: ChainFixture, seconds: number): Promise<void> {
  await f.rpc('evm_increaseTime', [seconds])
  await f.rpc('evm_mine')
}

/** Signed alerts from one operator key, each a distinct condition (random subjects), sinceBlock in [fromBlock, fromBlock + spread). */
export async function floodAlerts(o: { count: number; key: Hex; configHash: Hex; paramsHash: Hex; fromBlock: bigint; spread: bigint }): Promise<Uint8Array[]> {
  const account = privateKeyToAccount(o.key)
  const signer = account.address.toLowerCase() as Address
  const out: Uint8Array[] = []
  for (let i = 0; i < o.count; i++) {
    const subject = `0x${randomBytes(20).toString('hex')}` as Address
    const a = await signAlert({ chainId: 31337n, adapterId: 'perp-reference', configHash: o.configHash, paramsHash: o.paramsHash, kind: 'oracle-stale', subject, sinceBlock: o.fromBlock + (BigInt(i) % o.spread), block: o.fromBlock, values: [] }, signer, (d) => account.sign({ hash: d }))
    out.push(encodeAlert(a))
  }
  return out
}
