/**
 * The sign log (node/signlog/signlog.ts): slashing protection for
 * attestations. One checkpoint, one content, forever: across restarts,
 * torn appends, export/import and a SIGKILL right after signing.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Hex } from 'viem'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { checkpointKey, contentKey } from '../../protocol/attestation.ts'
import { SignConflictError, SignLog } from '../../node/signlog/signlog.ts'
import { testBody } from './fixtures/signlog-body.ts'

const SIGNER = '0x00000000000000000000000000000000000000AA'
const sig = (byte: number): Hex => `0x${byte.toString(16).padStart(2, '0').repeat(64)}1b`

const dirs: string[] = []
const logs: SignLog[] = []
afterEach(async () => {
  for (const l of logs.splice(0)) l.close()
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function logPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ark-signlog-'))
  dirs.push(dir)
  return join(dir, 'signlog.jsonl')
}

function openLog(path: string): SignLog {
  const l = new SignLog(path)
  l.open()
  logs.push(l)
  return l
}

function lines(path: string): unknown[] {
  const text = readFileSync(path, 'utf8')
  expect(text.endsWith('\n')).toBe(true)
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)
}

describe('SignLog', () => {
  it('signs once, re-publishes the logged signature, and refuses a second content', async () => {
    const path = await logPath()
    const log = openLog(path)
    const a = testBody(1000n, 1)
    const signer = vi.fn(async () => sig(1))
    expect(log.get(a)).toBeUndefined()

    expect(await log.sign(a, SIGNER, signer)).toBe(sig(1))
    expect(signer).toHaveBeenCalledTimes(1)
    expect(log.get(a)).toEqual({ checkpoint: checkpointKey(a), content: contentKey(a), signer: SIGNER.toLowerCase(), signature: sig(1) })
    expect(lines(path)).toEqual([{ checkpoint: checkpointKey(a), content: contentKey(a), signer: SIGNER.toLowerCase(), signature: sig(1) }])

    // same checkpoint, same content: the logged signature, no new signing
    const again = vi.fn(async () => sig(2))
    expect(await log.sign(testBody(1000n, 1), SIGNER, again)).toBe(sig(1))
    expect(again).not.toHaveBeenCalled()

    // same checkpoint, different content: refused, signer never called
    const other = vi.fn(async () => sig(3))
    const err = await log.sign(testBody(1000n, 2), SIGNER, other).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SignConflictError)
    expect((err as SignConflictError).code).toBe('INVALID_INPUT')
    expect((err as Error).message).toContain(checkpointKey(a))
    expect((err as SignConflictError).details).toEqual({ checkpoint: checkpointKey(a), had: contentKey(a), wanted: contentKey(testBody(1000n, 2)) })
    expect(other).not.toHaveBeenCalled()
    expect(lines(path)).toHaveLength(1)

    // another checkpoint is independent
    expect(await log.sign(testBody(1010n, 2), SIGNER, async () => sig(4))).toBe(sig(4))
    expect(lines(path)).toHaveLength(2)
  })

  it('checkpoint identity ignores hex case; any content field (block hash, snapshot, state root) is a different content', async () => {
    const log = openLog(await logPath())
    const a = testBody(1000n, 1)
    await log.sign(a, SIGNER, async () => sig(1))
    const upper = { ...a, configHash: a.configHash.toUpperCase().replace('0X', '0x') as Hex, blockHash: a.blockHash.toUpperCase().replace('0X', '0x') as Hex }
    expect(await log.sign(upper, SIGNER, async () => sig(9))).toBe(sig(1))
    for (const changed of [{ ...a, blockHash: `0x${'12'.repeat(32)}` as Hex }, { ...a, snapshotCid: testBody(1000n, 2).snapshotCid }, { ...a, stateRoot: `0x${'44'.repeat(32)}` as Hex }]) {
      await expect(log.sign(changed, SIGNER, async () => sig(9))).rejects.toBeInstanceOf(SignConflictError)
    }
    // a different kind (emergency) at the same block is a different checkpoint
    expect(await log.sign({ ...a, kind: 1, stateRoot: `0x${'44'.repeat(32)}` }, SIGNER, async () => sig(5))).toBe(sig(5))
  })

  it('a signer that fails logs nothing', async () => {
    const path = await logPath()
    const log = openLog(path)
    await expect(log.sign(testBody(1000n, 1), SIGNER, async () => Promise.reject(new Error('hsm offline')))).rejects.toThrow('hsm offline')
    expect(log.get(testBody(1000n, 1))).toBeUndefined()
    expect(readFileSync(path, 'utf8')).toBe('')
    expect(await log.sign(testBody(1000n, 2), SIGNER, async () => sig(2))).toBe(sig(2))
  })

  it('creates the file with mode 0600', async () => {
    const path = await logPath()
    openLog(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it('persists across close and a new SignLog on the same path', async () => {
    const path = await logPath()
    const first = openLog(path)
    await first.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    await first.sign(testBody(1010n, 1), SIGNER, async () => sig(2))
    first.close()

    const second = openLog(path)
    expect(second.get(testBody(1000n))?.signature).toBe(sig(1))
    const signer = vi.fn(async () => sig(7))
    expect(await second.sign(testBody(1010n, 1), SIGNER, signer)).toBe(sig(2))
    await expect(second.sign(testBody(1000n, 2), SIGNER, signer)).rejects.toBeInstanceOf(SignConflictError)
    expect(signer).not.toHaveBeenCalled()
    expect(second.export().entries.map((e) => e.signature)).toEqual([sig(1), sig(2)])
  })

  it('drops and truncates a torn final line; earlier entries survive and signing continues', async () => {
    const path = await logPath()
    const first = openLog(path)
    await first.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    await first.sign(testBody(1010n, 1), SIGNER, async () => sig(2))
    first.close()
    const intact = readFileSync(path)
    const torn = JSON.stringify({ checkpoint: checkpointKey(testBody(1020n)), content: contentKey(testBody(1020n)), signer: SIGNER, signature: sig(3) })
    appendFileSync(path, torn.slice(0, Math.floor(torn.length / 2)))

    const second = openLog(path)
    expect(readFileSync(path)).toEqual(intact)
    expect(second.get(testBody(1000n))?.signature).toBe(sig(1))
    expect(second.get(testBody(1010n))?.signature).toBe(sig(2))
    expect(second.get(testBody(1020n))).toBeUndefined()
    // the torn checkpoint was never signed for good (the append did not finish): a new content is allowed
    expect(await second.sign(testBody(1020n, 2), SIGNER, async () => sig(4))).toBe(sig(4))
    expect(lines(path)).toHaveLength(3)
    second.close()
    expect(openLog(path).get(testBody(1020n))?.content).toBe(contentKey(testBody(1020n, 2)))
  })

  it('a complete JSON object without its newline is still a torn append', async () => {
    const path = await logPath()
    const first = openLog(path)
    await first.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    first.close()
    const intact = readFileSync(path)
    appendFileSync(path, JSON.stringify({ checkpoint: checkpointKey(testBody(1010n)), content: contentKey(testBody(1010n)), signer: SIGNER, signature: sig(2) }))
    const second = openLog(path)
    expect(second.get(testBody(1010n))).toBeUndefined()
    expect(readFileSync(path)).toEqual(intact)
  })

  // BUG (node/signlog/signlog.ts open(), the `catch { break }` + ftruncate): a damaged line in the
  // middle (disk corruption, a stray manual edit) makes open() stop there and truncate the file,
  // silently destroying every later (valid, already published) entry; the node may then sign a
  // different snapshot for those checkpoints. Slashing protection should fail closed: refuse to
  // open (or at least never truncate newline-terminated lines).
  it('a damaged line in the middle never deletes the valid entries after it', async () => {
    const path = await logPath()
    const first = openLog(path)
    await first.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    first.close()
    appendFileSync(path, '{"checkpoint": garbage}\n')
    const later = { checkpoint: checkpointKey(testBody(1010n)), content: contentKey(testBody(1010n, 1)), signer: SIGNER.toLowerCase(), signature: sig(2) }
    appendFileSync(path, `${JSON.stringify(later)}\n`)
    const before = readFileSync(path)

    let opened: SignLog | undefined
    try {
      opened = openLog(path)
    } catch {
      // refusing to open is an acceptable fix
    }
    expect(readFileSync(path)).toEqual(before)
    if (opened !== undefined) await expect(opened.sign(testBody(1010n, 2), SIGNER, async () => sig(3))).rejects.toBeInstanceOf(SignConflictError)
  })

  // BUG (node/signlog/signlog.ts sign()): the "already signed?" check happens before `await sign()`
  // and the entry is recorded only after it, so two overlapping calls for one checkpoint with
  // different contents both pass the check and BOTH get signed (equivocation) and both appended.
  // Fix: record a pending entry (or a per-checkpoint promise/lock) synchronously before awaiting.
  it('overlapping sign() calls for one checkpoint never sign two contents', async () => {
    const log = openLog(await logPath())
    const signer = vi.fn(async () => {
      await new Promise((r) => setTimeout(r, 5))
      return sig(1)
    })
    const results = await Promise.allSettled([log.sign(testBody(1000n, 1), SIGNER, signer), log.sign(testBody(1000n, 2), SIGNER, signer)])
    expect(signer).toHaveBeenCalledTimes(1)
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
  })

  it('export → import into a fresh log carries the history; a conflicting sign is then refused', async () => {
    const src = openLog(await logPath())
    await src.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    await src.sign(testBody(1010n, 1), SIGNER, async () => sig(2))
    const exported = JSON.parse(JSON.stringify(src.export())) as ReturnType<SignLog['export']>
    expect(exported.version).toBe(1)
    expect(exported.entries).toHaveLength(2)

    const path = await logPath()
    const dst = openLog(path)
    expect(dst.import(exported)).toBe(2)
    expect(lines(path)).toHaveLength(2)
    const signer = vi.fn(async () => sig(9))
    await expect(dst.sign(testBody(1000n, 2), SIGNER, signer)).rejects.toBeInstanceOf(SignConflictError)
    expect(await dst.sign(testBody(1010n, 1), SIGNER, signer)).toBe(sig(2))
    expect(signer).not.toHaveBeenCalled()
    // importing the same history again adds nothing
    expect(dst.import(exported)).toBe(0)
    expect(lines(path)).toHaveLength(2)
    // and it is durable
    dst.close()
    await expect(openLog(path).sign(testBody(1000n, 2), SIGNER, signer)).rejects.toBeInstanceOf(SignConflictError)
  })

  it('importing a conflicting history throws SignConflictError and writes nothing', async () => {
    const path = await logPath()
    const log = openLog(path)
    await log.sign(testBody(1000n, 1), SIGNER, async () => sig(1))
    const before = readFileSync(path)
    const incoming = {
      version: 1,
      entries: [
        // a new checkpoint first: it must not be written either
        { checkpoint: checkpointKey(testBody(1010n)), content: contentKey(testBody(1010n, 1)), signer: SIGNER.toLowerCase(), signature: sig(2) },
        { checkpoint: checkpointKey(testBody(1000n)), content: contentKey(testBody(1000n, 2)), signer: SIGNER.toLowerCase(), signature: sig(3) },
      ],
    }
    expect(() => log.import(incoming)).toThrow(SignConflictError)
    expect(readFileSync(path)).toEqual(before)
    expect(log.get(testBody(1010n))).toBeUndefined()
    expect(log.get(testBody(1000n))?.content).toBe(contentKey(testBody(1000n, 1)))
  })

  it('import rejects a document that is not an export', async () => {
    const path = await logPath()
    const log = openLog(path)
    for (const bad of [{ version: 2, entries: [] }, { version: 1 }, null, { version: 1, entries: {} }]) {
      expect(() => log.import(bad as never)).toThrow(/version.*1.*entries/)
    }
    expect(readFileSync(path, 'utf8')).toBe('')
  })

  it('survives a SIGKILL right after signing: a new SignLog sees the entry and refuses another content', async () => {
    const path = await logPath()
    const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/signlog-crash-child.ts', import.meta.url)), path, '1'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        if (out.includes('\n')) {
          child.kill('SIGKILL')
          resolve(out)
        }
      })
      child.on('exit', () => reject(new Error(`child exited before signing: ${stderr}`)))
    })
    expect(await exited).toBe('SIGKILL')
    expect(line).toBe(`signed 0x${'5a'.repeat(64)}1b\n`)

    const log = openLog(path)
    expect(log.get(testBody(1000n, 1))?.signature).toBe(`0x${'5a'.repeat(64)}1b`)
    const signer = vi.fn(async () => sig(9))
    await expect(log.sign(testBody(1000n, 2), SIGNER, signer)).rejects.toBeInstanceOf(SignConflictError)
    expect(await log.sign(testBody(1000n, 1), SIGNER, signer)).toBe(`0x${'5a'.repeat(64)}1b`)
    expect(signer).not.toHaveBeenCalled()
  })

  it('an empty existing file opens as an empty log', async () => {
    const path = await logPath()
    writeFileSync(path, '')
    const log = openLog(path)
    expect(log.export()).toEqual({ version: 1, entries: [] })
  })
})
