import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { ClusterNode } from '../../node/devnet/cluster.ts'
import { watchCheckpoints, type CaughtUpEvent, type CertifiedEvent, type SigningEvent } from '../../node/devnet/watch.ts'

/** A node's HTTP API as the watcher reads it: /v1/checkpoints?from= and /v1/status counters. */
interface FakeNode {
  certs: Map<string, string[]>
  attestationsSent: number
}

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

async function serve(n: FakeNode): Promise<string> {
  const s = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    res.setHeader('content-type', 'application/json')
    if (url.pathname === '/v1/status') return res.end(JSON.stringify({ counters: { attestationsSent: n.attestationsSent, noQuorum: 0 } }))
    const from = BigInt(url.searchParams.get('from') ?? '0')
    const checkpoints = [...n.certs].filter(([b]) => BigInt(b) >= from).map(([block, signers]) => ({ block, kind: 'scheduled', certificateCid: `c${block}`, snapshotCid: `s${block}`, signers: signers.map((signer) => ({ signer })), threshold: '3' }))
    res.end(JSON.stringify({ checkpoints }))
  })
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`
}

const op = (i: number): string => `0x${String(i).repeat(40)}`

describe('devnet checkpoint watcher', () => {
  it('reports each checkpoint once with the signers of all nodes, a down node catching up what it missed, and its signing again', async () => {
    const fakes: FakeNode[] = [0, 1, 2, 3].map(() => ({ certs: new Map(), attestationsSent: 0 }))
    const nodes = (await Promise.all(fakes.map(serve))).map((httpUrl, index) => ({ index, operator: op(index), httpUrl, state: 'running', process: { pid: 100 + index } }) as unknown as ClusterNode)
    const certified: CertifiedEvent[] = []
    const caughtUp: CaughtUpEvent[] = []
    const signing: SigningEvent[] = []
    const stop = new AbortController()
    const watching = watchCheckpoints({ nodes: () => nodes, onCertified: (e) => certified.push(e), onCaughtUp: (e) => caughtUp.push(e), onSigning: (e) => signing.push(e), onNoQuorum: () => {}, signal: stop.signal, pollMs: 20, settleMs: 200 })
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      for (let i = 0; !ok(); i++) {
        if (i > 200) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    try {
      // block 8: nodes hold certificates with different signer subsets; the report has the union
      for (const f of fakes) f.attestationsSent = 1
      fakes[0]!.certs.set('8', [op(0), op(1), op(2)])
      fakes[1]!.certs.set('8', [op(0), op(1), op(3)])
      fakes[2]!.certs.set('8', [op(0), op(1), op(2)])
      fakes[3]!.certs.set('8', [op(0), op(1), op(2)])
      await until('block 8', () => certified.length === 1)
      expect(certified[0]).toMatchObject({ block: '8', signedBy: [0, 1, 2, 3], signers: 4, heldBy: [0, 1, 2, 3] })

      // node 2 goes down; blocks 12 and 16 are certified by the others
      nodes[2]!.state = 'exited'
      for (const b of ['12', '16']) for (const i of [0, 1, 3]) fakes[i]!.certs.set(b, [op(0), op(1), op(3)])
      await until('blocks 12 and 16', () => certified.length === 3)
      expect(certified.slice(1).map((e) => [e.block, e.signedBy])).toEqual([['12', [0, 1, 3]], ['16', [0, 1, 3]]])
      expect(caughtUp).toEqual([])

      // it comes back as a new process (counters from zero), catches up, then attests
      Object.assign(nodes[2]!, { state: 'running', process: { pid: 999 } })
      fakes[2]!.attestationsSent = 0
      await new Promise((r) => setTimeout(r, 100))
      expect(signing).toEqual([])
      fakes[2]!.certs.set('12', [op(0), op(1), op(3)])
      fakes[2]!.certs.set('16', [op(0), op(1), op(3)])
      fakes[2]!.attestationsSent = 1
      await until('catch-up and signing', () => caughtUp.length === 2 && signing.length === 1)
      expect(caughtUp.map((e) => [e.node, e.block])).toEqual([[2, '12'], [2, '16']])
      expect(signing[0]).toMatchObject({ node: 2, attestations: 1 })
      // nothing is reported twice
      await new Promise((r) => setTimeout(r, 100))
      expect(certified).toHaveLength(3)
      expect(caughtUp).toHaveLength(2)
    } finally {
      stop.abort()
      await watching
    }
  })
})
