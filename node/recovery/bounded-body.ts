import { MAX_CAR_SECTION } from '../../snapshot/car/stream.ts'
import { readBodyCapped } from '../../snapshot/chain/rpc.ts'
import { SourceError } from './source.ts'

/**
 * Size limits per kind of answer from an untrusted gateway (issue 10 item 9),
 * enforced while the body streams in: nothing past the limit is buffered.
 * CAR bodies are bounded per section by the CAR reader (MAX_CAR_SECTION, the
 * spec's block cap) and in total by the certified DAG (every block must be
 * linked from an earlier one, each once).
 */
export const BODY_LIMITS = Object.freeze({
  /** a certificate block (raw) */
  certificate: 64 * 1024,
  /** one snapshot block (raw): the same cap as a CAR section */
  block: MAX_CAR_SECTION,
  /** one checkpoint (GET /v1/checkpoints/N or /latest): its certificate JSON and signer list */
  checkpoint: 256 * 1024,
  /** a checkpoint listing (GET /v1/checkpoints?…, at most 1000 entries) */
  listing: 8 * 1024 * 1024,
  /** the text of an HTTP error answer (a longer one is not shown) */
  error: 4 * 1024,
})

export type BodyKind = keyof typeof BODY_LIMITS

/**
 * The body of `res`, read chunk by chunk; over `BODY_LIMITS[kind]` the
 * transfer is cancelled and the source is refused (or, for `error`, the text
 * is replaced). Never arrayBuffer()/json()/text() on an untrusted body.
 */
export async function readBounded(res: Response, kind: BodyKind, what: string): Promise<Uint8Array> {
  const max = BODY_LIMITS[kind]
  if (res.body === null) return new Uint8Array(0)
  const declared = Number(res.headers.get('content-length') ?? Number.NaN)
  if (kind !== 'error' && declared > max) {
    await res.body.cancel().catch(() => {})
    throw new SourceError(`${what}: the answer declares ${declared} bytes, over the ${max}-byte limit for a ${kind}; the source is refused`)
  }
  const bytes = await readBodyCapped(res, max)
  if (bytes !== undefined) return bytes
  // an error text is only shown: a longer one is dropped, not held against the source
  if (kind === 'error') return new TextEncoder().encode(`(an error text over ${max} bytes)`)
  throw new SourceError(`${what}: the answer is over the ${max}-byte limit for a ${kind}; the source is refused`)
}

/** readBounded, parsed as JSON. */
export async function readBoundedJson(res: Response, kind: BodyKind, what: string): Promise<unknown> {
  const bytes = await readBounded(res, kind, what)
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown
  } catch (cause) {
    throw new SourceError(`${what}: the answer is not JSON`, { cause })
  }
}
