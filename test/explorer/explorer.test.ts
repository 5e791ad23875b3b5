/**
 * The explorer in a real browser (Debian's Chromium driven by playwright-core) against a running
 * 4-node cluster on a real chain: the checkpoint list matches the API and every certificate's
 * signatures verify in the page; an account's proof is verified in the page against the certified
 * stateRoot (and a tampered proof is refused); the diff's totals match what `ark diff` prints for
 * the same two snapshots; the network page shows the node's peers. Screenshots of each page are
 * saved under test/explorer/screenshots/.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { CID } from 'multiformats/cid'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import type { RecoveryDiffSummary } from '../../snapshot/state/diff-summary.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { writeFileAtomic } from '../../node/fs/atomic.ts'
import { runArk } from '../support/recovery.ts'
import { decodeRoot } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { schemaById } from '../../snapshot/schema/registry.ts'
import { blockNumber } from '../support/chain.ts'
import { archiveFixture, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url))
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

let fx: ArchiveFixture
let ctx: BrowserContext | undefined
let profile: string | undefined

interface CheckpointJSON {
  block: string
  kind: string
  snapshotCid: string
  stateRoot: string
}

async function openSnapshot(n: ArchiveNode, cid: CID): Promise<Snapshot<unknown, unknown>> {
  const root = decodeRoot(cid, await n.store.get(cid))
  return Snapshot.open(n.store, cid, schemaById(root.schema.id, root.schema.version))
}

/**
 * Poll an expression in the page. Expressions are strings (the test's TypeScript program has no DOM
 * types) and run through page.evaluate, not waitForFunction, whose string form needs eval, which the
 * page's Content-Security-Policy forbids (as it should).
 */
async function waitFor(page: Page, expression: string): Promise<void> {
  await until(expression, async () => (await page.evaluate(expression)) === true, 30_000)
}

const ready = (page: Page, hash: string): Promise<void> => waitFor(page, `document.getElementById('view')?.dataset.ready === ${JSON.stringify(hash)}`)

beforeAll(async () => {
  fx = await archiveFixture({ name: 'explorer', seed: 151, traders: 8, steps: 15 })
}, 180_000)

afterAll(async () => {
  await ctx?.close().catch(() => {})
  if (profile !== undefined) await rm(profile, { recursive: true, force: true })
  await fx?.stop()
})

describe('explorer in Chromium', () => {
  it.skipIf(!existsSync(CHROMIUM))('lists, verifies, proves and diffs certified checkpoints', { timeout: 400_000 }, async () => {
    const configs = await writeClusterConfigs(fx.dir, fx.chain, 4, { firstBlock: await blockNumber(fx.chain), interval: 4 })
    for (const c of configs) await fx.start(c)
    fx.mine({ seed: 700, traders: 8, steps: 12 })
    const n0 = fx.nodes[0]!
    // three certified checkpoints whose snapshots node 0 holds in full
    await until('three certified checkpoints held by node 0', async () => {
      const list = n0.certificates.list()
      if (list.length < 3) return false
      for (const s of list.slice(0, 3)) if (!(await openSnapshot(n0, s.certificate.body.snapshotCid).then((x) => x.verify().then(() => true), () => false))) return false
      return true
    }, 240_000)
    const api = n0.httpUrl!

    profile = await mkdtemp(join(tmpdir(), 'ark-explorer-chromium-'))
    await mkdir(SHOTS, { recursive: true })
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } })
    const page = ctx.pages()[0] ?? (await ctx.newPage())
    const external: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(api) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) external.push(r.url())
    })
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(e.message))

    // 1. the checkpoint list: the same blocks as the API, every certificate verified in the page
    await page.goto(`${api}/explorer/`)
    await ready(page, '')
    const shown = (await page.evaluate(`[...document.querySelectorAll('[data-block]')].map((e) => [e.dataset.block, e.dataset.kind])`)) as [string, string][]
    const listed = ((await (await fetch(`${api}/v1/checkpoints?limit=50`)).json()) as { checkpoints: CheckpointJSON[] }).checkpoints
    const newestShown = Math.max(...shown.map(([b]) => Number(b)))
    expect(shown.map(([b, k]) => `${b}/${k}`).sort()).toEqual(listed.filter((c) => Number(c.block) <= newestShown).map((c) => `${c.block}/${c.kind}`).sort())
    expect(shown.length).toBeGreaterThanOrEqual(3)
    const badges = (await page.evaluate(`[...document.querySelectorAll('[data-block] h3 .badge')].map((e) => e.textContent)`)) as string[]
    expect(badges.filter((t) => t.includes('signatures verified')).length).toBe(shown.length)
    await waitFor(page, `[...document.querySelectorAll('[data-time]')].every((e) => e.textContent !== '…')`)
    await page.screenshot({ path: join(SHOTS, 'checkpoints.png'), fullPage: false })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: join(SHOTS, 'checkpoints-phone.png'), fullPage: false })
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
    await page.setViewportSize({ width: 1280, height: 900 })

    // 2. a checkpoint: search an account, its proof verified in the page against the certified stateRoot
    const [cpA, , cpC] = listed
    const snapC = await openSnapshot(n0, n0.certificates.get(BigInt(cpC!.block))!.certificate.body.snapshotCid)
    const keys: string[] = []
    for await (const e of snapC.rawEntries()) if (keys.length < 2) keys.push(bytesToHex(e.key))
    const account = keys[0]!
    await page.goto(`${api}/explorer/#/checkpoint/${cpC!.block}`)
    await ready(page, `#/checkpoint/${cpC!.block}`)
    await page.getByLabel('Account address').fill(account)
    await page.getByRole('button', { name: 'Look up' }).click()
    await ready(page, `#/checkpoint/${cpC!.block}/account/${account}`)
    expect(await page.getAttribute('#proof-status', 'data-verified')).toBe('yes')
    expect(await page.getAttribute('#root-block', 'data-verified')).toBe('yes')
    expect(await page.textContent('#proof-status')).toContain('proof verified against the certified stateRoot')
    const download = await page.getAttribute('#proof-download', 'download')
    expect(download).toBe(`proof-${cpC!.block}-${account}.json`)
    await page.waitForSelector('#summary table')
    await page.screenshot({ path: join(SHOTS, 'checkpoint.png'), fullPage: true })
    // the page checks, it does not trust: a proof altered on the way is refused
    await page.route('**/accounts/**', async (route) => {
      const res = await route.fetch()
      const body = (await res.json()) as { proof: { proof: string[] } }
      body.proof.proof[0] = `0x${'11'.repeat(32)}`
      await route.fulfill({ response: res, json: body })
    })
    // and so is a root block altered on the way
    await page.route('**/ipfs/**', async (route) => {
      const res = await route.fetch()
      const body = Buffer.from(await res.body())
      body[body.length - 1] = body[body.length - 1]! ^ 0x01
      await route.fulfill({ response: res, body })
    })
    await page.goto(`${api}/explorer/#/checkpoint/${cpC!.block}/account/${keys[1]!}`)
    await page.reload()
    await ready(page, `#/checkpoint/${cpC!.block}/account/${keys[1]!}`)
    expect(await page.getAttribute('#proof-status', 'data-verified')).toBe('no')
    expect(await page.getAttribute('#root-block', 'data-verified')).toBe('no')
    await page.unroute('**/accounts/**')
    await page.unroute('**/ipfs/**')

    // 3. the diff: totals per asset equal what `ark diff` prints for the two snapshots (CARs of node 0's blocks)
    const snapA = await openSnapshot(n0, n0.certificates.get(BigInt(cpA!.block))!.certificate.body.snapshotCid)
    const cars = [join(profile, 'a.car'), join(profile, 'c.car')]
    for (const [i, s] of [snapA, snapC].entries()) await writeFileAtomic(cars[i]!, writeCar([s.cid], s.blockCids(), s.store))
    const cli = await runArk(['diff', cars[0]!, cars[1]!, '--out', join(profile, 'diff.jsonl'), '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    const { summary } = JSON.parse(cli.stdout) as { summary: RecoveryDiffSummary }
    await page.goto(`${api}/explorer/#/diff/${cpA!.block}/${cpC!.block}`)
    await ready(page, `#/diff/${cpA!.block}/${cpC!.block}`)
    const rows = (await page.evaluate(`[...document.querySelectorAll('#diff-assets tbody tr')].map((e) => ({ ...e.dataset }))`)) as Record<string, string>[]
    const assets = [...new Set([...Object.keys(summary.moved), ...Object.keys(summary.increased), ...Object.keys(summary.decreased)])].sort()
    expect(rows).toEqual(assets.map((a) => ({ asset: a, net: summary.moved[a] ?? '0', gained: summary.increased[a] ?? '0', lost: summary.decreased[a] ?? '0' })))
    expect(assets.length).toBeGreaterThan(0)
    expect(await page.textContent('#diff-result')).toContain(`${summary.added} added, ${summary.removed} removed, ${summary.changed} changed`)
    await page.waitForSelector('#chart svg')
    await page.screenshot({ path: join(SHOTS, 'diff.png'), fullPage: true })

    // 4. network and health
    await page.goto(`${api}/explorer/#/network`)
    await ready(page, '#/network')
    expect(Number(await page.getAttribute('[data-peers]', 'data-peers'))).toBeGreaterThan(0)
    // the four operators of the set, each with a signature recovered in the page
    expect(await page.locator('#operators tr[data-operator]').count()).toBe(4)
    expect(await page.locator('#operators .badge.ok').count()).toBe(4)
    await page.screenshot({ path: join(SHOTS, 'network.png'), fullPage: true })

    expect(pageErrors).toEqual([])
    expect(external).toEqual([])
  })
})
