import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'

/**
 * Certificate catch-up over a libp2p request/response protocol: "give me your
 * certificates for blocks >= from". The answer is untrusted: the caller
 * verifies every certificate against its operator set before keeping it.
 */
export const CATCHUP_PROTOCOL = '/ark/certificates/1.0.0'
export const CATCHUP_LIMITS = Object.freeze({ maxRequestBytes: 256, maxCertificates: 256, maxResponseBytes: 8 * 1024 * 1024 })

async function readAll(stream: Stream, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let n = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    n += bytes.length
    if (n > max) throw new Error(`catch-up message over ${max} bytes`)
    parts.push(bytes)
  }
  return Buffer.concat(parts)
}

export async function serveCatchup(libp2p: Libp2p, certificatesFrom: (from: bigint, limit: number) => Uint8Array[]): Promise<void> {
  await libp2p.handle(CATCHUP_PROTOCOL, async (stream) => {
    try {
      const req = dagCbor.decode(await readAll(stream, CATCHUP_LIMITS.maxRequestBytes)) as { from?: unknown }
      const from = typeof req?.from === 'number' || typeof req?.from === 'bigint' ? BigInt(req.from) : 0n
      stream.send(dagCbor.encode({ certificates: certificatesFrom(from, CATCHUP_LIMITS.maxCertificates) }))
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  })
}

export async function requestCertificates(libp2p: Libp2p, peer: PeerId, from: bigint, signal: AbortSignal): Promise<Uint8Array[]> {
  const stream = await libp2p.dialProtocol(peer, CATCHUP_PROTOCOL, { signal })
  stream.send(dagCbor.encode({ from }))
  await stream.close({ signal })
  const res = dagCbor.decode(await readAll(stream, CATCHUP_LIMITS.maxResponseBytes)) as { certificates?: unknown }
  if (!Array.isArray(res?.certificates) || !res.certificates.every((c) => c instanceof Uint8Array)) throw new Error('malformed catch-up response')
  return (res.certificates as Uint8Array[]).slice(0, CATCHUP_LIMITS.maxCertificates)
}
