import type { IncomingMessage } from 'node:http'
import { MAX_EXCLUSIONS } from '../../snapshot/restitution/exclusions.ts'
import { HttpError } from './respond.ts'
import { jsonObjectBody, parseBlockNumber, readBody } from './request.ts'

/** Body of POST /v1/admin/restitution: up to MAX_EXCLUSIONS addresses of ~45 bytes each, plus the two blocks. */
export const MAX_RESTITUTION_BODY_BYTES = 64 * 1024 + MAX_EXCLUSIONS * 48

export interface RestitutionBody {
  before: bigint
  after: bigint
  exclude: string[]
}

/**
 * `{"before": "<block>", "after": "<block>", "exclude": ["0x…", …]}` (blocks as decimal strings or
 * integers). Read only after the bearer token was checked; address syntax is checked by the table
 * code, which names the bad entry.
 */
export async function readRestitutionBody(req: IncomingMessage): Promise<RestitutionBody> {
  const o = jsonObjectBody(req, await readBody(req, MAX_RESTITUTION_BODY_BYTES), ['before', 'after', 'exclude'])
  const block = (x: unknown, name: string): bigint => {
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x)
    if (typeof x === 'string') return parseBlockNumber(x, name)
    throw new HttpError(400, 'INVALID_PARAMETER', `${name} must be a block number (non-negative integer or decimal string)`, { parameter: name })
  }
  const exclude = o.exclude ?? []
  if (!Array.isArray(exclude) || !exclude.every((a) => typeof a === 'string')) throw new HttpError(400, 'INVALID_PARAMETER', 'exclude must be a list of 0x addresses', { parameter: 'exclude' })
  return { before: block(o.before, 'before'), after: block(o.after, 'after'), exclude: exclude as string[] }
}
