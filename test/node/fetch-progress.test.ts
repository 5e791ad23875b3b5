import { describe, expect, it } from 'vitest'
import { progressLine, progressText } from '../../node/recovery/progress.ts'

describe('fetch progress line', () => {
  it('shows phase, blocks (resumed ones too), accounts, bytes, rate and source', () => {
    expect(progressText({ phase: 'locate', source: 'http://a', blocks: 0, bytes: 0, fetchedBlocks: 0, fetchedBytes: 0 }, 0)).toBe('locating the certificate at http://a …')
    const p = { phase: 'blocks' as const, source: 'http://a', blocks: 1500, bytes: 3 * 1024 * 1024, fetchedBlocks: 1000, fetchedBytes: 2 * 1024 * 1024, accounts: 100000 }
    expect(progressText(p, 1000)).toBe('fetching: 1,500 blocks (500 resumed) of a 100,000-account snapshot, 3.0 MiB, 2.0 MiB/s from http://a')
    expect(progressText({ ...p, phase: 'verify' }, 2000)).toMatch(/^verifying: .* 1\.0 MiB\/s/)
  })

  it('redraws in place and erases itself when done', () => {
    let out = ''
    const line = progressLine((s) => void (out += s), 40)
    line.done()
    expect(out).toBe('')
    line.update({ phase: 'blocks', source: 'http://a-very-long-gateway-name.example', blocks: 1, bytes: 10, fetchedBlocks: 1, fetchedBytes: 10 })
    expect(out.startsWith('\r')).toBe(true)
    expect(out.endsWith('…\x1b[K')).toBe(true)
    expect(out.length).toBeLessThanOrEqual(40 + 4)
    line.done()
    expect(out.endsWith('\r\x1b[K')).toBe(true)
  })
})
