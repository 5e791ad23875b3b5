import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { Service } from '../p2p/service.ts'
import { WatchdogOutputError } from './errors.ts'
import { httpTarget } from '../../snapshot/chain/errors.ts'

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'x-ark-signature'
export const EVENT_HEADER = 'x-ark-event'
export const DELIVERY_HEADER = 'x-ark-delivery'

export type WebhookEvent = 'alert.raised' | 'alert.cleared' | 'emergency.confirmed' | 'emergency.certified' | 'breaker.paused'

export interface WebhookOptions {
  queue: number
  maxAttempts: number
  backoffMs: number
  maxBackoffMs: number
  timeoutMs: number
}

/** The signature header value for a body sent at `t` (unix seconds). */
export function signWebhook(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`
}

/**
 * What a receiver does (PROTOCOL.md §12.6): recompute the HMAC over
 * `"<t>.<raw body>"` with the shared secret, compare in constant time, and
 * refuse a `t` older than `toleranceSec` (replays).
 */
export function verifyWebhook(secret: string, header: string | undefined, body: string, nowSec = Math.floor(Date.now() / 1000), toleranceSec = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '')
  if (m === null) return false
  const t = Number(m[1])
  if (Math.abs(nowSec - t) > toleranceSec) return false
  const want = Buffer.from(signWebhook(secret, t, body).slice(`t=${t},v1=`.length), 'hex')
  return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'))
}

interface Delivery {
  id: string
  url: string
  secret: string
  event: WebhookEvent
  body: string
  attempt: number
  notBefore: number
}

/**
 * Webhook deliveries: JSON POSTs, signed, retried with exponential backoff
 * (backoffMs · 2^attempt, capped) on network errors, timeouts, 408, 429 and
 * 5xx; other 4xx are final. A bounded queue: when full, the oldest pending
 * delivery is dropped (and counted). One delivery in flight at a time, in
 * order; stop() abandons what is pending.
 */
export class WebhookSender implements Service {
  readonly name = 'webhooks'
  readonly counts = { delivered: 0, failed: 0, retried: 0, dropped: 0 }
  private readonly targets: { url: string; secret: string }[]
  private readonly options: WebhookOptions
  private readonly log: Logger | undefined
  private readonly queue: Delivery[] = []
  private controller = new AbortController()
  private wake: (() => void) | undefined
  private loop: Promise<void> | undefined

  constructor(targets: { url: string; secret: string }[], options: WebhookOptions, log?: Logger) {
    this.targets = targets
    this.options = options
    this.log = log
  }

  get pending(): number {
    return this.queue.length
  }

  send(event: WebhookEvent, payload: Record<string, unknown>): void {
    if (this.targets.length === 0) return
    const body = JSON.stringify({ event, at: new Date().toISOString(), ...payload })
    for (const t of this.targets) {
      this.queue.push({ id: randomUUID(), url: t.url, secret: t.secret, event, body, attempt: 0, notBefore: 0 })
      while (this.queue.length > this.options.queue) {
        const d = this.queue.shift()!
        this.counts.dropped++
        this.log?.warn({ event: d.event, delivery: d.id }, 'webhook queue full: oldest delivery dropped')
      }
    }
    this.wake?.()
  }

  async start(): Promise<void> {
    this.controller = new AbortController()
    this.loop = this.run(this.controller.signal)
  }

  async stop(): Promise<void> {
    this.controller.abort()
    this.wake?.()
    await this.loop
  }

  private async sleep(ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      function done(): void {
        clearTimeout(t)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.wake = done
      signal.addEventListener('abort', done, { once: true })
    })
    this.wake = undefined
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const now = Date.now()
      const i = this.queue.findIndex((d) => d.notBefore <= now)
      if (i < 0) {
        const next = this.queue.reduce((m, d) => Math.min(m, d.notBefore), Infinity)
        await this.sleep(Number.isFinite(next) ? Math.max(10, next - now) : 60_000, signal)
        continue
      }
      const d = this.queue.splice(i, 1)[0]!
      const retry = await this.attempt(d, signal)
      if (retry && !signal.aborted) {
        d.attempt++
        if (d.attempt >= this.options.maxAttempts) {
          this.counts.failed++
          this.log?.error({ event: d.event, delivery: d.id, attempts: d.attempt }, 'webhook delivery failed for good')
        } else {
          this.counts.retried++
          d.notBefore = Date.now() + Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (d.attempt - 1))
          this.queue.push(d)
        }
      }
    }
  }

  /** One POST; true when it should be retried. */
  private async attempt(d: Delivery, signal: AbortSignal): Promise<boolean> {
    const t = Math.floor(Date.now() / 1000)
    try {
      const target = httpTarget(d.url)
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { ...target.headers, 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(d.secret, t, d.body), [EVENT_HEADER]: d.event, [DELIVERY_HEADER]: d.id, 'user-agent': 'ark-watchdog/1' },
        body: d.body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs)]),
      })
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) {
        this.counts.delivered++
        return false
      }
      const retry = res.status === 408 || res.status === 429 || res.status >= 500
      if (!retry) {
        this.counts.failed++
        this.log?.warn({ event: d.event, delivery: d.id, status: res.status }, 'webhook receiver refused the delivery; not retried')
      }
      return retry
    } catch (err) {
      // fetch's errors may quote the URL (a key in its path, credentials): log a scrubbed summary only
      if (!signal.aborted) this.log?.debug({ err: new WatchdogOutputError('WEBHOOK_FAILED', `webhook ${d.event}`, d.url, err, 'Check the receiver; the delivery is retried with backoff.'), event: d.event, delivery: d.id }, 'webhook delivery failed; will retry')
      return true
    }
  }
}
