import type { FetchProgress } from './fetch.ts'

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

/** One status line for a fetch in progress: phase, blocks, bytes, rate, source. */
export function progressText(p: FetchProgress, elapsedMs: number): string {
  if (p.phase === 'locate') return `locating the certificate at ${p.source} …`
  const rate = elapsedMs > 0 ? (p.fetchedBytes * 1000) / elapsedMs : 0
  const accounts = p.accounts === undefined ? '' : ` of a ${p.accounts.toLocaleString('en-US')}-account snapshot`
  const resumed = p.blocks > p.fetchedBlocks ? ` (${(p.blocks - p.fetchedBlocks).toLocaleString('en-US')} resumed)` : ''
  const head = p.phase === 'verify' ? 'verifying' : 'fetching'
  return `${head}: ${p.blocks.toLocaleString('en-US')} blocks${resumed}${accounts}, ${size(p.bytes)}, ${size(rate)}/s from ${p.source}`
}

/**
 * A progress line redrawn in place on a terminal (carriage return, clear to
 * end of line). `done()` erases it, so what follows starts on a clean line.
 */
export function progressLine(write: (s: string) => void, columns = 120): { update(p: FetchProgress): void; done(): void } {
  let start: number | undefined
  let shown = false
  return {
    update(p) {
      if (p.phase !== 'locate') start ??= performance.now()
      const text = progressText(p, start === undefined ? 0 : performance.now() - start)
      write(`\r${text.length > columns - 1 ? `${text.slice(0, columns - 2)}…` : text}\x1b[K`)
      shown = true
    },
    done() {
      if (shown) write('\r\x1b[K')
      shown = false
    },
  }
}
