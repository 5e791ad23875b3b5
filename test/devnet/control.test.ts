import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DevnetNodeError, type NodeAction } from '../../node/devnet/cluster.ts'
import { controlRequest, serveControl } from '../../node/devnet/control.ts'
import { ephemeralPortRange, prepareMesh, reservePorts } from '../../node/devnet/mesh.ts'
import { loadOrCreatePeerKey } from '../../node/p2p/identity.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'ark-ctl-'))
  dirs.push(d)
  return d
}

describe('devnet control socket', () => {
  it('carries node actions and status; refuses a second devnet in the same dir; errors come back as errors', async () => {
    const dir = await tempDir()
    const calls: [number, NodeAction][] = []
    const control = await serveControl(dir, {
      status: () => ({ nodes: [{ index: 0, state: 'running' }] }),
      node: async (i, action) => {
        if (i === 3) throw new DevnetNodeError('USAGE', 'node 3 is not running (exited)')
        calls.push([i, action])
        return { node: i, action, state: action === 'kill' ? 'exited' : 'running' }
      },
    })
    try {
      // only the owner may talk to it
      expect((await stat(join(dir, 'control.sock'))).mode & 0o077).toBe(0)
      expect(await controlRequest(dir, 'POST', '/nodes/1/kill')).toMatchObject({ node: 1, state: 'exited' })
      expect(await controlRequest(dir, 'GET', '/status')).toEqual({ nodes: [{ index: 0, state: 'running' }] })
      expect(calls).toEqual([[1, 'kill']])
      await expect(controlRequest(dir, 'POST', '/nodes/3/stop')).rejects.toMatchObject({ code: 'USAGE', message: 'node 3 is not running (exited)' })
      await expect(controlRequest(dir, 'POST', '/nodes/1/explode')).rejects.toThrow(/unknown request/)
      await expect(serveControl(dir, { status: () => ({}), node: async () => ({}) })).rejects.toThrow(/another devnet is running/)
    } finally {
      await control.close()
    }
    await expect(controlRequest(dir, 'GET', '/status')).rejects.toThrow(/no devnet is running/)
  })

  it('replaces a socket file left by a devnet that died', async () => {
    const dir = await tempDir()
    const first = await serveControl(dir, { status: () => ({ n: 1 }), node: async () => ({}) })
    // a crash leaves the file behind, and nothing answers on it
    await first.close()
    await writeFile(join(dir, 'control.sock'), '')
    const second = await serveControl(dir, { status: () => ({ n: 2 }), node: async () => ({}) })
    try {
      expect(await controlRequest(dir, 'GET', '/status')).toEqual({ n: 2 })
    } finally {
      await second.close()
    }
  })
})

describe('devnet mesh', () => {
  it('every node bootstraps from all the others, at the peer id its data dir holds and a distinct port', async () => {
    const root = await tempDir()
    const nodeDirs = [0, 1, 2, 3].map((i) => join(root, `node${i}`))
    for (const d of nodeDirs) await mkdir(d, { mode: 0o700 })
    const mesh = await prepareMesh(nodeDirs)
    expect(new Set(mesh.listen).size).toBe(4)
    for (const [i, d] of nodeDirs.entries()) {
      const id = peerIdFromPrivateKey(await loadOrCreatePeerKey(d)).toString()
      expect(mesh.addrs[i]).toBe(`${mesh.listen[i]!}/p2p/${id}`)
      expect(mesh.bootstrap(i).sort()).toEqual(mesh.addrs.filter((_, k) => k !== i).sort())
    }
    // made once: a second preparation (a restarted devnet) keeps each node's identity
    const again = await prepareMesh(nodeDirs)
    expect(again.addrs.map((a) => a.split('/p2p/')[1])).toEqual(mesh.addrs.map((a) => a.split('/p2p/')[1]))
  })
})

describe('mesh ports', () => {
  // CI stop 9 failed on EADDRINUSE: ports probed with listen(0) lay in the ephemeral range, were
  // released, and an outgoing connection (libp2p dials, RPC requests) or a child's listen(0) took one before the node bound it.
  it('are distinct, free, and below the kernel ephemeral range so no listen(0) or outgoing dial can take them meanwhile', async () => {
    const { low } = ephemeralPortRange()
    for (let round = 0; round < 5; round++) {
      const ports = await reservePorts(7)
      expect(new Set(ports).size).toBe(7)
      for (const p of ports) {
        expect(p).toBeLessThan(low)
        expect(p).toBeGreaterThanOrEqual(1024)
        const s = createServer()
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.listen(p, '127.0.0.1', () => resolve())
        })
        await new Promise((r) => s.close(r))
      }
    }
  })
})
