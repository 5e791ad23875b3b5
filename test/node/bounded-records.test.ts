/**
 * Issue 10 item 14: the node's per-checkpoint records (`own` signatures, `noQuorum` reports,
 * `divergences`) stay bounded over 10,000 checkpoints and are pruned with retention.
 *
 * Fails on the code before this change: `own` was a Map and `noQuorum`/`divergences` arrays on
 * ArchiveNode that grew by one entry per checkpoint forever (10,000 entries here).
 */
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Aggregator } from '../../protocol/aggregator.ts'
import { Attester } from '../../node/archive/attester.ts'
import { RECORD_LIMITS, ReportLog } from '../../node/archive/bounded.ts'
import type { Divergence } from '../../node/archive/certified.ts'
import type { SignLog } from '../../node/signlog/signlog.ts'
import type { Checkpoint } from '../../snapshot/derive/derive.ts'
import type { BlockHeader } from '../../snapshot/chain/source.ts'
import { privateKeyToAccount } from 'viem/accounts'
import { localSigner } from '../../node/keys/remote-signer.ts'
import { testBody } from './fixtures/signlog-body.ts'

describe('per-checkpoint records over 10,000 checkpoints', () => {
  it('own signatures and no-quorum reports stay under their caps and are pruned below the retention floor', async () => {
    // a sign log that always returns one signature (the bound under test is the attester's, not the log's)
    const signLog = { sign: async () => `0x${'11'.repeat(64)}1b`, get: () => undefined } as unknown as SignLog
    const attester = new Attester({
      chainId: 31337n,
      adapterId: 'perp-reference',
      configHash: `0x${'22'.repeat(32)}`,
      account: localSigner(privateKeyToAccount(`0x${'42'.repeat(32)}`)),
      signLog,
      aggregator: { add: () => [], tally: () => [] } as unknown as Aggregator,
      quorumTimeoutMs: 1,
      log: pino({ level: 'silent' }),
      publish: async () => {},
      onEvents: () => {},
      certified: () => false,
      threshold: () => 3n,
      fatal: () => {},
      counters: { attestationsSent: 0, noQuorum: 0 },
    })
    const body = testBody(1n)
    const cp = { snapshot: { cid: body.snapshotCid, root: { stateRoot: body.stateRoot } } } as unknown as Checkpoint
    for (let i = 1; i <= 10_000; i++) {
      await attester.attest(cp, { number: BigInt(i) * 10n, hash: body.blockHash } as BlockHeader)
      if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await new Promise((r) => setTimeout(r, 50))
    expect(attester.own.size).toBe(RECORD_LIMITS.own)
    expect(attester.noQuorum.items.length).toBe(RECORD_LIMITS.noQuorum)
    // the newest are kept
    expect(attester.own.get(100_000n)).toBeDefined()
    expect(attester.noQuorum.items.at(-1)?.block).toBe('100000')

    attester.pruneBelow(99_500n)
    expect(attester.own.size).toBe(51)
    expect(attester.noQuorum.items.length).toBe(51)
    attester.stop()
  })

  it('divergence reports stay under their cap and are pruned below the retention floor', () => {
    const log = new ReportLog<Divergence>(RECORD_LIMITS.divergences)
    for (let i = 1; i <= 10_000; i++) log.push({ block: String(i * 10), ours: 'a', certified: 'b', accounts: [] })
    expect(log.items.length).toBe(RECORD_LIMITS.divergences)
    log.pruneBelow(99_990n)
    expect(log.items.map((d) => d.block)).toEqual(['99990', '100000'])
  })
})
