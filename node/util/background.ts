import type { Logger } from 'pino'

/**
 * Run work nobody waits for (a catch-up round, a publish, a snapshot fetch) and log its failure,
 * the one way the node fires and forgets: lint (`no-floating-promises` with `ignoreVoid: false`)
 * refuses a bare `void promise`, so a failure is never silently dropped. A failure after the node
 * began stopping (`signal` aborted) is the stop, not a fault, and is not logged.
 */
export function background(work: Promise<unknown>, log: Pick<Logger, 'warn'>, what: string, signal?: AbortSignal): void {
  work.catch((err: unknown) => {
    if (signal?.aborted !== true) log.warn({ err }, `${what} failed`)
  })
}
