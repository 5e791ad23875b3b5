import type { ChaosCluster } from './cluster.ts'

/** Per node, derive→certified latency (ms) of the checkpoints it derived in [from, to) and saw certified (not by catch-up). */
export function certLatencies(c: ChaosCluster, from: number, to: number): number[] {
  const out: number[] = []
  for (const i of c.running)
    for (const [b, d] of c.logs[i]!.derived) {
      const cert = c.logs[i]!.certified.get(b)
      if (d.at >= from && d.at < to && cert !== undefined && cert.from !== 'catchup') out.push(cert.at - d.at)
    }
  return out
}
