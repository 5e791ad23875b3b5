import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { CATCHUP_LIMITS, CATCHUP_PROTOCOL, catchupPage, decodeCatchupPage, decodeCatchupRequest, encodeCatchupPage, encodeCatchupRequest, encodeFrame, frameHeader, type CatchupLimits, type CatchupPage, type CertificatesFrom } from '../../protocol/catchup.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ArkError, type ArkErrorOptions } from '../../snapshot/ark-error.ts'

/**
 * Certificate catch-up over libp2p (PROTOCOL.md §8.9): the transport for the
 * pure messages of protocol/catchup.ts. One stream per page; each side reads
 * exactly one length-prefixed frame under a deadline. Used by the archive
 * node (serve, and its CatchUpClient) and by recovery's peer source.
 */
export class CatchupError extends ArkError {
  override readonly name = 'CatchupError'
  constructor(message: string, options: ArkErrorOptions = {}) {
    super('IO', message, { retryable: true, ...options })
  }
}

/** Read exactly one length-prefixed message; the signal aborts the stream (and so the read). */
async function readFrame(stream: Stream, max: number, signal: AbortSignal): Promise<Uint8Array> {
  signal.throwIfAborted()
  const onAbort = (): void => stream.abort(signal.reason instanceof Error ? signal.reason : new CatchupError('catch-up aborted'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    let buf: Uint8Array = new Uint8Array(0)
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      buf = buf.length === 0 ? bytes : Buffer.concat([buf, bytes])
      const h = frameHeader(buf, max)
      if (h === undefined) continue
      if (buf.length > h.offset + h.length) throw new ProtocolError('MALFORMED', 'catch-up peer sent bytes after its message')
      if (buf.length === h.offset + h.length) return buf.subarray(h.offset)
    }
    signal.throwIfAborted()
    throw new CatchupError('catch-up stream ended before a complete message')
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function writeFrame(stream: Stream, message: Uint8Array, signal: AbortSignal): Promise<void> {
  const frame = encodeFrame(message)
  for (let i = 0; i < frame.length; i += 64 * 1024) {
    signal.throwIfAborted()
    if (!stream.send(frame.subarray(i, i + 64 * 1024))) {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          stream.removeEventListener('drain', done)
          signal.removeEventListener('abort', done)
          if (signal.aborted) reject(signal.reason as Error)
          else resolve()
        }
        stream.addEventListener('drain', done, { once: true })
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }
}

/** Answer catch-up requests from this node's certificates. */
export async function serveCatchup(libp2p: Libp2p, certificatesFrom: CertificatesFrom, limits: Partial<CatchupLimits> = {}): Promise<void> {
  const l = { ...CATCHUP_LIMITS, ...limits }
  await libp2p.handle(CATCHUP_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(l.timeoutMs)
    try {
      const req = decodeCatchupRequest(await readFrame(stream, l.maxRequestBytes, signal), l.maxRequestBytes)
      const max = Math.min(req.limit ?? l.maxCertificates, l.maxCertificates)
      if (max < 1) throw new ProtocolError('MALFORMED', 'catch-up limit must be at least 1')
      const page = catchupPage(certificatesFrom(req.from, max + 1), req.from, { maxCertificates: max, maxResponseBytes: l.maxResponseBytes }, max + 1)
      await writeFrame(stream, encodeCatchupPage(page), signal)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

/** One page of a peer's certificates from `from` on, checked by decodeCatchupPage; the signal bounds the whole exchange. */
export async function requestCertificatePage(libp2p: Libp2p, peer: PeerId, from: bigint, signal: AbortSignal, options: { limit?: number; maxResponseBytes?: number } = {}): Promise<CatchupPage> {
  const stream = await libp2p.dialProtocol(peer, CATCHUP_PROTOCOL, { signal })
  try {
    await writeFrame(stream, encodeCatchupRequest(from, options.limit), signal)
    const maxBytes = options.maxResponseBytes ?? CATCHUP_LIMITS.maxResponseBytes
    const page = decodeCatchupPage(await readFrame(stream, maxBytes, signal), { from, limit: options.limit ?? CATCHUP_LIMITS.maxCertificates }, maxBytes)
    await stream.close({ signal }).catch(() => {})
    return page
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** The first page of a peer's certificates from `from` on (see requestCertificatePage, certificatePages). */
export async function requestCertificates(libp2p: Libp2p, peer: PeerId, from: bigint, signal: AbortSignal): Promise<Uint8Array[]> {
  return (await requestCertificatePage(libp2p, peer, from, signal)).certificates
}

/**
 * Every certificate a peer holds from `from` on, page by page (each page
 * bounded by `pageTimeoutMs` and the signal), at most `maxPages` pages. Each
 * page is checked (decodeCatchupPage): the cursor only moves forward, so no
 * page can repeat or go back to an earlier one.
 */
export async function* certificatePages(libp2p: Libp2p, peer: PeerId, from: bigint, options: { signal: AbortSignal; pageTimeoutMs?: number; maxPages?: number; limit?: number }): AsyncGenerator<Uint8Array[]> {
  let cursor: bigint | undefined = from
  for (let pages = 0; cursor !== undefined && pages < (options.maxPages ?? CATCHUP_LIMITS.maxPages); pages++) {
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.pageTimeoutMs ?? CATCHUP_LIMITS.timeoutMs)])
    const page = await requestCertificatePage(libp2p, peer, cursor, signal, options.limit === undefined ? {} : { limit: options.limit })
    yield page.certificates
    cursor = page.next
  }
}
