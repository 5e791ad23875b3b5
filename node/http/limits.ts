/** The HTTP API's limits and defaults (PROTOCOL.md §14.8): every one is per server, per client address or per request. */
export const HTTP_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  /** /v1/checkpoints page size when no limit is given, and the largest allowed */
  checkpointsLimit: 100,
  maxCheckpointsLimit: 1000,
  /** largest POST body accepted */
  maxBodyBytes: 4 * 1024,
  /** CAR streams served at once; more get 503 + Retry-After */
  maxCarStreams: 8,
  maxConnections: 256,
  /** connections held at once by one client address; more are closed at once (one client cannot hold every slot) */
  maxConnectionsPerIp: 16,
  /** /v1/evidence page size when no limit is given, and the largest allowed */
  evidenceLimit: 100,
  maxEvidenceLimit: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  /** a connection with no traffic either way this long is closed (a client that stops reading a CAR) */
  idleTimeoutMs: 60_000,
  /** on stop, in-flight requests get this long before connections are cut */
  shutdownGraceMs: 2_000,
})

export interface HttpLimits {
  checkpointsLimit: number
  maxCheckpointsLimit: number
  maxBodyBytes: number
  maxCarStreams: number
  maxConnections: number
  maxConnectionsPerIp: number
  evidenceLimit: number
  maxEvidenceLimit: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  idleTimeoutMs: number
  shutdownGraceMs: number
}
