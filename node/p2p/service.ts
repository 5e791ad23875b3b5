/**
 * A node part with a lifecycle. Parts are built by factories from their init,
 * started in order and stopped in reverse order, so nothing outlives what it
 * depends on.
 */
export interface Service {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** A service from a start and a stop function (stop defaults to nothing). */
export function service(name: string, start: () => Promise<unknown> | unknown, stop: () => Promise<unknown> | unknown = () => undefined): Service {
  return {
    name,
    start: async () => {
      await start()
    },
    stop: async () => {
      await stop()
    },
  }
}

/**
 * Start services in order. If one fails, the ones already started are
 * stopped (reverse order) before the error is rethrown.
 */
export async function startAll(services: readonly Service[]): Promise<void> {
  const started: Service[] = []
  try {
    for (const s of services) {
      await s.start()
      started.push(s)
    }
  } catch (err) {
    await stopAll(started)
    throw err
  }
}

/** Stop services in reverse order; every stop runs even if an earlier one throws (the first error is rethrown). */
export async function stopAll(services: readonly Service[]): Promise<void> {
  let first: unknown
  for (const s of [...services].reverse()) {
    try {
      await s.stop()
    } catch (err) {
      first ??= err
    }
  }
  if (first !== undefined) throw first
}
