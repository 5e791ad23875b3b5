/**
 * Issue 10 item 12: a sign-log append that does not reach the disk in full (a short write, ENOSPC)
 * fails closed before anything is published: no signature leaves, the node stops, and a restart
 * reads a consistent log (the torn line is gone) and can sign the checkpoint once.
 *
 * Fails on the code before this change: SignLog ignored writeSync's return (and had no way to
 * inject the write), so a short write returned the signature and the attester published it.
 */
import { readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { privateKeyToAccount } from 'viem/accounts'
import { localSigner } from '../../node/keys/remote-signer.ts'
import { describe, expect, it, vi } from 'vitest'
import type { Aggregator } from '../../protocol/aggregator.ts'
import { Attester } from '../../node/archive/attester.ts'
import { SignLog, SignLogWriteError, type WriteFn } from '../../node/signlog/signlog.ts'
import type { Checkpoint } from '../../snapshot/derive/derive.ts'
import type { BlockHeader } from '../../snapshot/chain/source.ts'
import { testBody } from './fixtures/signlog-body.ts'
import { useTempDirs } from './fixtures/temp-dirs.ts'

const KEY = `0x${'42'.repeat(32)}` as const
const tempDir = useTempDirs('ark-signlog-fail-')
const logPath = async (): Promise<string> => join(await tempDir(), 'signlog.jsonl')

const enospcError = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
/** The disk fills mid-line: the first write lands half the bytes, the next fails. */
function shortWrite(): WriteFn {
  let calls = 0
  return (fd, data, offset, length) => {
    if (calls++ > 0) throw enospcError()
    return writeSync(fd, data, offset, Math.max(1, Math.floor(length / 2)))
  }
}
const enospc = (): WriteFn => () => {
  throw enospcError()
}

function attesterWith(signLog: SignLog) {
  const published: Uint8Array[] = []
  const fatal = vi.fn()
  const attester = new Attester({
    chainId: 31337n,
    adapterId: 'perp-reference',
    configHash: `0x${'22'.repeat(32)}`,
    account: localSigner(privateKeyToAccount(KEY)),
    signLog,
    aggregator: { add: () => [] } as unknown as Aggregator,
    quorumTimeoutMs: 60_000,
    log: pino({ level: 'silent' }),
    publish: async (bytes) => void published.push(bytes),
    onEvents: () => {},
    certified: () => true,
    threshold: () => 1n,
    fatal,
    counters: { attestationsSent: 0, noQuorum: 0 },
  })
  return { attester, published, fatal }
}

function checkpointOf(block: bigint): { cp: Checkpoint; target: BlockHeader } {
  const body = testBody(block)
  const cp = { snapshot: { cid: body.snapshotCid, root: { stateRoot: body.stateRoot } } } as unknown as Checkpoint
  return { cp, target: { number: block, hash: body.blockHash } as BlockHeader }
}

describe('sign log write failures fail closed', () => {
  for (const [name, write] of [
    ['a short write (writeSync returns fewer bytes)', shortWrite],
    ['ENOSPC', enospc],
  ] as const) {
    it(`${name}: no signature published, the node stops, restart is consistent`, async () => {
      const path = await logPath()
      const log = new SignLog(path, { write: write() })
      log.open()
      const { attester, published, fatal } = attesterWith(log)
      const { cp, target } = checkpointOf(2000n)
      await expect(attester.attest(cp, target)).rejects.toBeInstanceOf(SignLogWriteError)
      expect(published).toHaveLength(0)
      expect(fatal).toHaveBeenCalledTimes(1)
      expect(fatal.mock.calls[0]![0]).toBeInstanceOf(SignLogWriteError)
      expect(attester.own.size).toBe(0)
      // fail closed: nothing more is signed by this process
      await expect(attester.attest(...Object.values(checkpointOf(3000n)) as [Checkpoint, BlockHeader])).rejects.toBeInstanceOf(SignLogWriteError)
      expect(published).toHaveLength(0)
      log.close()
      // the file was cut back: no torn line
      expect(readFileSync(path, 'utf8')).toBe('')

      // restart: a consistent log, and the checkpoint can be signed (once)
      const again = new SignLog(path)
      again.open()
      expect(again.get(testBody(2000n))).toBeUndefined()
      const r = attesterWith(again)
      await r.attester.attest(cp, target)
      expect(r.published).toHaveLength(1)
      again.close()
      expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(1)
    })
  }
})
