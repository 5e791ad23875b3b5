import { Agent, request } from 'node:http'
import { CarStreamReader } from '../../../snapshot/car/stream.ts'
import { percentile, sleep, waitFor, withCluster, type Scenario } from '../scenario.ts'
import { baseline } from './partition.ts'

interface Got {
  status: number
  bytes: number
  ms: number
  blocks?: number
}

/** One GET; `slow` reads the body at about 1 KiB per 100 ms (a slow reader holding a response open). */
function get(agent: Agent, url: string, accept: string | undefined, o: { slow?: boolean; car?: boolean; timeoutMs?: number } = {}): Promise<Got> {
  const t = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: accept === undefined ? {} : { accept } }, (res) => {
      let bytes = 0
      const car = o.car === true ? new CarStreamReader() : undefined
      let blocks = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (car !== undefined) blocks += car.push(chunk).length
        if (o.slow === true) {
          res.pause()
          setTimeout(() => res.resume(), 100).unref()
        }
      })
      res.on('end', () => {
        try {
          car?.end()
        } catch (err) {
          reject(err as Error)
          return
        }
        resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t, ...(car === undefined ? {} : { blocks }) })
      })
      res.on('error', reject)
    })
    req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Scenario 12: 200 concurrent clients on one node's HTTP API mixing status, checkpoint listings and
 * CAR downloads of a certified snapshot, plus 10 slow readers, while the cluster keeps certifying.
 * Figures: requests, p50/p95 latency per kind, errors, and whether a normal client's CAR arrives
 * complete during the load.
 */
export const httpLoad: Scenario = {
  id: 'http-load',
  title: 'HTTP load',
  run(o) {
    const seconds = o.short ? 30 : 120
    return withCluster('http-load', { operators: o.nodes ?? 7 }, o, async (c, goals) => {
      c.mine()
      await baseline(c, 2, 120_000)
      const node = c.nodes[c.running[0]!]!
      const latest = await waitFor(async () => {
        const r = (await (await fetch(`${node.httpUrl}/v1/checkpoints/latest`)).json()) as { snapshotCid?: string }
        return r.snapshotCid
      }, 30_000)
      if (latest === undefined) throw new Error('no certified checkpoint served')
      const agent = new Agent({ keepAlive: true, maxSockets: 256 })
      const kinds = {
        status: { url: `${node.httpUrl}/v1/status`, accept: 'application/json' },
        checkpoints: { url: `${node.httpUrl}/v1/checkpoints?limit=100`, accept: 'application/json' },
        car: { url: `${node.httpUrl}/ipfs/${latest}`, accept: 'application/vnd.ipld.car' },
      }
      const ms: Record<keyof typeof kinds, number[]> = { status: [], checkpoints: [], car: [] }
      let errors = 0
      let requests = 0
      const errorKinds: Record<string, number> = {}
      const fail = (why: string): void => {
        errors++
        errorKinds[why] = (errorKinds[why] ?? 0) + 1
      }
      const end = Date.now() + seconds * 1000
      const client = async (k: number): Promise<void> => {
        while (Date.now() < end) {
          const kind = (['status', 'checkpoints', 'car'] as const)[k % 3]!
          k += 7
          try {
            const r = await get(agent, kinds[kind].url, kinds[kind].accept, { car: kind === 'car' })
            requests++
            if (r.status !== 200) fail(`${kind} HTTP ${r.status}`)
            else ms[kind].push(r.ms)
          } catch (err) {
            requests++
            fail(`${kind} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`.slice(0, 60))
          }
        }
      }
      const slow = Array.from({ length: 10 }, () => get(agent, kinds.car.url, kinds.car.accept, { slow: true, timeoutMs: (seconds + 60) * 1000 }).catch(() => undefined))
      const clients = Array.from({ length: 200 }, (_, k) => client(k))
      await sleep((seconds * 1000) / 2)
      // a normal client, on its own connection, in the middle of the load
      const normal = await get(new Agent({ keepAlive: false }), kinds.car.url, kinds.car.accept, { car: true }).catch((err: unknown) => ({ status: 0, bytes: 0, ms: 0, blocks: 0, error: (err as Error).message }))
      await Promise.all(clients)
      const slowDone = (await Promise.race([Promise.all(slow), sleep(5_000).then(() => undefined)]))?.filter((s) => s?.status === 200).length ?? 0
      agent.destroy()
      const stats = (xs: number[]): Record<string, number | null> => ({ n: xs.length, p50: percentile(xs, 50) === null ? null : Math.round(percentile(xs, 50)!), p95: percentile(xs, 95) === null ? null : Math.round(percentile(xs, 95)!) })
      goals.expect(normal.status === 200 && (normal.blocks ?? 0) > 0, `a normal client's CAR arrives complete during the load (${JSON.stringify(normal)})`)
      goals.expect(c.isUp(c.running[0]!), 'the loaded node keeps running')
      return {
        nodes: c.n,
        seconds,
        clients: 200,
        slowReaders: 10,
        requests,
        errors,
        errorKinds,
        latencyMs: { status: stats(ms.status), checkpoints: stats(ms.checkpoints), car: stats(ms.car) },
        normalClientCar: { status: normal.status, bytes: normal.bytes, blocks: normal.blocks ?? 0, ms: Math.round(normal.ms) },
        slowReadersFinished: slowDone,
      }
    })
  },
}
