/**
 * The mirror directory (issue 18): `latest` is switched by an atomic rename
 * and only ever names a complete checkpoint directory; pruning keeps the
 * newest N, every emergency checkpoint and whatever `latest` names, removes
 * leftovers of interrupted writes, and keeps the staging dir of a fetch that
 * is still to be resumed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { certificateJSON } from '../../protocol/certificate.ts'
import { bigintReplacer } from '../../snapshot/codec/json.ts'
import { heldCheckpoints, pruneMirror, readLatest, switchLatest } from '../../node/recovery/mirror-dir.ts'
import { attestationBodyOf, buildTestSnapshot, certify, testOperators } from '../support/recovery.ts'
import { synthMeta } from '../../snapshot/synth/synth.ts'

let dir: string
const { ops } = testOperators()
let certJson: (kind: number) => Promise<string>

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-mirror-dir-'))
  const { snapshot } = await buildTestSnapshot(synthMeta({ accounts: 1, seed: 'mirror-dir' }, 0), [])
  certJson = async (kind) => `${JSON.stringify(certificateJSON(await certify({ ...attestationBodyOf(snapshot), kind }, ops.slice(0, 3))), bigintReplacer)}\n`
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A complete checkpoint directory as the mirror writes it (only the files pruning reads). */
async function held(block: number, kind = 0): Promise<void> {
  await mkdir(join(dir, String(block)))
  await writeFile(join(dir, String(block), 'certificate.json'), await certJson(kind))
  await writeFile(join(dir, String(block), 'summary.json'), '{}\n')
}

describe('mirror directory', () => {
  it('switches latest atomically: the link is replaced, never removed, and names only existing directories', async () => {
    expect(await readLatest(dir)).toBeUndefined()
    await held(10)
    await switchLatest(dir, '10')
    expect(await readLatest(dir)).toBe('10')
    await held(20)
    await switchLatest(dir, '20')
    expect(await readlink(join(dir, 'latest'))).toBe('20')
    // no temp link left behind
    expect((await readdir(dir)).sort()).toEqual(['10', '20', 'latest'])
    // a link to a directory that is gone is not a latest
    await rm(join(dir, '20'), { recursive: true })
    expect(await readLatest(dir)).toBeUndefined()
  })

  it('keeps the newest N, emergency checkpoints and latest; removes write-out leftovers and stale staging dirs', async () => {
    for (const b of [10, 20, 30, 40, 50]) await held(b)
    await held(25, 1) // emergency
    await mkdir(join(dir, '60')) // being written by hand or half-copied: no summary.json, not the mirror's to judge
    await mkdir(join(dir, '.45.tmp-1234')) // a write-out cut short by a crash
    await mkdir(join(dir, '.30.partial')) // a finished fetch's staging dir
    await mkdir(join(dir, '.70.partial')) // a fetch to resume
    await switchLatest(dir, '50')
    expect((await heldCheckpoints(dir)).map((h) => [h.name, h.emergency])).toEqual([['50', false], ['40', false], ['30', false], ['25', true], ['20', false], ['10', false]])
    const removed = await pruneMirror(dir, 2, '50')
    expect(removed.sort()).toEqual(['.30.partial', '.45.tmp-1234', '10', '20', '30'])
    expect((await readdir(dir)).sort()).toEqual(['.70.partial', '25', '40', '50', '60', 'latest'])
    // latest is kept even when it is not among the newest N (a lagging restart), and keep=1 keeps only it
    await held(90)
    expect(await pruneMirror(dir, 1, '50')).toEqual(['40'])
    expect((await readdir(dir)).sort()).toEqual(['.70.partial', '25', '50', '60', '90', 'latest'])
  })
})
