import { redact } from '../../snapshot/chain/errors.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/** Why a watchdog output failed (bounded). */
export type WatchdogErrorReason = 'BREAKER_SEND_FAILED' | 'WEBHOOK_FAILED'

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()[\]{}]+/gi

/** The parts of a configured URL that may be secrets (user, password, path segments, query values). */
function secretsOf(url: string): string[] {
  try {
    const u = new URL(url)
    // userinfo whatever its length; path segments and query values long enough to be keys, not words
    const user = [u.username, u.password, decodeURIComponent(u.username), decodeURIComponent(u.password)].filter((p) => p.length >= 3)
    const keys = [...u.pathname.split('/'), ...[...u.searchParams].flat(), u.search].filter((p) => p.length >= 8)
    return [...new Set([...user, ...keys])].sort((a, b) => b.length - a.length)
  } catch {
    return []
  }
}

/**
 * Text from a dependency (viem, fetch) with every URL reduced to what
 * `redact` keeps, and any piece of the configured URL (userinfo, path, query)
 * that appears on its own replaced: viem embeds the endpoint in messages
 * and `details`, fetch in "cannot be constructed from a URL that includes
 * credentials".
 */
export function scrubUrls(text: string, configured?: string): string {
  let out = text.replace(URL_PATTERN, (u) => redact(u))
  if (configured !== undefined) for (const s of secretsOf(configured)) out = out.split(s).join('<redacted>')
  return out
}

/**
 * A watchdog output (breaker transaction, webhook delivery) that failed.
 * Built from the dependency's error without keeping it as `cause` (its
 * fields hold the URL): only its class name and a scrubbed short message.
 */
export class WatchdogOutputError extends ArkError {
  override readonly name = 'WatchdogOutputError'
  readonly reason: WatchdogErrorReason

  constructor(reason: WatchdogErrorReason, what: string, url: string, err: unknown, fix: string) {
    const e = err as { name?: unknown; shortMessage?: unknown; message?: unknown } | undefined
    const short = typeof e?.shortMessage === 'string' ? e.shortMessage : typeof e?.message === 'string' ? e.message : String(err)
    const said = scrubUrls(short.split('\n')[0]!.slice(0, 200), url)
    super('IO', `${what} through ${redact(url)} failed: ${said}. ${fix}`, { retryable: false, details: { error: typeof e?.name === 'string' ? e.name : 'Error' } })
    this.reason = reason
  }
}
