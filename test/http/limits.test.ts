/**
 * Issue 10 item 13 (HTTP bounds), node side: a per-address connection cap, so 200 concurrent
 * clients from one address cannot take every slot; a normal client still gets its response.
 * And /v1/evidence is paginated with a bounded page.
 *
 * Fails on the code before this change: only the server-wide maxConnections existed, so the
 * flood held every slot and the normal client's connection was closed; /v1/evidence served
 * everything in one response and took no cursor or limit.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpApi, type EvidencePage, type HttpApi } from '../../node/http/server.ts'
import { MemoryBlockStore } from '../../snapshot/store.ts'
import { FakeView } from './support.ts'

class PagedView extends FakeView {
  pages: { cursor?: number; limit: number }[] = []
  // @ts-expect-error FakeView's evidence() takes no page; this one records it
  override evidence(page: { cursor?: number; limit: number }): EvidencePage {
    this.pages.push(page)
    return { evidence: [], next: null }
  }
}

let api: HttpApi
let url: string
let view: PagedView
const hostile: Socket[] = []

beforeAll(async () => {
  view = new PagedView(new MemoryBlockStore(), [])
  api = createHttpApi({ view, limits: { maxConnections: 128 } })
  url = (await api.start()).url
})
afterAll(async () => {
  for (const s of hostile) s.destroy()
  await api.stop()
})

describe('http limits', () => {
  it('200 concurrent clients from one address: a normal client still gets its response', async () => {
    const { port } = new URL(url)
    // each flood client connects from 127.0.0.2 and sends half a request, then nothing (slowloris)
    await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<void>((resolve) => {
            const s = connect({ host: '127.0.0.1', port: Number(port), localAddress: '127.0.0.2' }, () => {
              s.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n')
              resolve()
            })
            s.on('error', () => resolve())
            s.on('close', () => resolve())
            hostile.push(s)
          }),
      ),
    )
    // most of the flood is closed at once; what is left holds few slots
    const open = (): number => hostile.filter((s) => !s.destroyed && !s.closed && !s.readableEnded).length
    for (let i = 0; i < 100 && open() > 16; i++) await new Promise((r) => setTimeout(r, 50))
    expect(open()).toBeLessThanOrEqual(16)
    const res = await fetch(`${url}/v1/status`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ peers: 3 })
  })

  it('/v1/evidence takes a cursor and a bounded limit', async () => {
    expect((await fetch(`${url}/v1/evidence?cursor=12&limit=50`)).status).toBe(200)
    expect(view.pages.at(-1)).toEqual({ cursor: 12, limit: 50 })
    expect((await fetch(`${url}/v1/evidence`)).status).toBe(200)
    expect(view.pages.at(-1)).toEqual({ limit: 100 })
    expect((await fetch(`${url}/v1/evidence?limit=100000`)).status).toBe(400)
    expect((await fetch(`${url}/v1/evidence?cursor=abc`)).status).toBe(400)
    expect((await fetch(`${url}/v1/evidence?since=1`)).status).toBe(400)
  })
})
