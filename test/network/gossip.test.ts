/**
 * Four archive nodes (and one misbehaving peer) over real TCP on 127.0.0.1:
 * attestations gossip into one certificate, snapshot blocks move over
 * bitswap, bad messages are rejected and cost their sender peer score, and a
 * restarted node keeps its identity and its blocks.
 */
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { keccak256, toBytes, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointKey, encodeAttestation, signAttestation, type AttestationBody, type SignedAttestation } from '../../protocol/attestation.ts'
import { encodeCertificate, verifyCertificate } from '../../protocol/certificate.ts'
import type { ValidatorContext } from '../../protocol/gossip/validate.ts'
import { makeOperatorSet, type Address, type OperatorSet } from '../../protocol/operator-set.ts'
import { derivativesSchema } from '../../snapshot/schema/derivatives.ts'
import { buildSnapshot } from '../../snapshot/state/build.ts'
import { SPEC_VERSION } from '../../snapshot/state/root.ts'
import { Snapshot } from '../../snapshot/state/snapshot.ts'
import { synthMarkets, synthMeta, synthRecords, type SynthOptions } from '../../snapshot/synth/synth.ts'
import type { BlockStore } from '../../snapshot/store.ts'
import { Aggregator, type AggregatorEvent } from '../../protocol/aggregator.ts'
import { loadOrCreatePeerKey, PEER_KEY_FILE, PeerKeyError } from '../../node/p2p/identity.ts'
import { fetchDag } from '../../node/p2p/fetch.ts'
import { createArkNetwork, type ArkNetwork } from '../../node/p2p/network.ts'

const KEYS: Hex[] = [1, 2, 3, 4, 5].map((i) => keccak256(toBytes(`ark-network-test-op-${i}`)))
const ACCOUNTS: PrivateKeyAccount[] = KEYS.map((k) => privateKeyToAccount(k))
const OPERATORS = ACCOUNTS.slice(0, 4)
const OUTSIDER = ACCOUNTS[4]!
const addr = (a: PrivateKeyAccount): Address => a.address.toLowerCase() as Address
/** four operators of weight 1: defaultThreshold(4) = 3 */
const SET: OperatorSet = makeOperatorSet(new Map(OPERATORS.map((a) => [addr(a), 1n])))

const SYNTH: SynthOptions = { accounts: 200, seed: 'ark-network-test' }
const META = synthMeta(SYNTH)
const CHAIN_ID = META.block.chainId
const ADAPTER_ID = META.adapter.id

const WAIT_MS = 15_000

/** Poll `probe` until it returns a value other than undefined/false; every wait is bounded by its signal. */
async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, signal: AbortSignal = AbortSignal.timeout(WAIT_MS)): Promise<T> {
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (signal.aborted) throw new Error(`timed out waiting for ${what}`)
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 50)
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true })
    })
  }
}

function sign(body: AttestationBody, account: PrivateKeyAccount, claimed: Address = addr(account)): Promise<SignedAttestation> {
  return signAttestation(body, claimed, (digest) => account.sign({ hash: digest }))
}

function context(agg?: Aggregator): ValidatorContext {
  return {
    chainId: CHAIN_ID,
    adapterId: ADAPTER_ID,
    configHash: META.adapter.configHash,
    operators: SET,
    finalizedHead: META.block.number,
    maxAheadBlocks: 1000n,
    oldestBlock: 0n,
    schedule: { interval: 1n, first: 0n },
    ...(agg === undefined ? {} : { seen: (a: SignedAttestation) => agg.seen(a) }),
  }
}

async function build(store: BlockStore, opts: SynthOptions) {
  const { snapshot } = await buildSnapshot({ schema: derivativesSchema, meta: synthMeta(opts), markets: synthMarkets(opts), records: synthRecords(opts), store })
  return snapshot
}

interface TestNode {
  name: string
  dir: string
  net: ArkNetwork
  agg: Aggregator
  bootstrap: string[]
}

let root: string
const nodes: TestNode[] = []
const extra: ArkNetwork[] = []

/** An honest node: attestations and certificates from gossip feed its aggregator; every certificate it forms or extends is gossiped. */
async function startNode(name: string, bootstrap: string[]): Promise<TestNode> {
  const dir = join(root, name)
  const agg = new Aggregator({ operators: SET })
  const net = await createArkNetwork({ dataDir: dir, chainId: CHAIN_ID, adapterId: ADAPTER_ID, context: () => context(agg), bootstrap })
  const node: TestNode = { name, dir, net, agg, bootstrap }
  net.onMessage('attestation', (m) => handle(node, node.agg.add(m.value)))
  net.onMessage('certificate', (m) => handle(node, node.agg.addCertificate(m.value)))
  await net.start()
  return node
}

async function handle(node: TestNode, events: AggregatorEvent[]): Promise<void> {
  for (const e of events) if (e.type === 'certificate' || e.type === 'extended') await node.net.publish('certificate', encodeCertificate(e.certificate).bytes)
}

const addrsOf = (n: TestNode): string[] => n.net.multiaddrs().map(String)

describe('network: four nodes over TCP', () => {
  let body: AttestationBody
  const t0 = Date.now()

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ark-network-'))
    for (let i = 0; i < 4; i++) nodes.push(await startNode(`node${i}`, nodes.flatMap(addrsOf)))
    // everyone connected to everyone and subscribed on both topics before anything is published
    for (const n of nodes) {
      for (const kind of ['attestation', 'certificate'] as const) {
        await until(`${n.name} to see 3 subscribers on ${kind}`, () => n.net.subscribers(kind).length >= 3)
      }
    }
  })

  afterAll(async () => {
    const stopped = await Promise.allSettled([...nodes.map((n) => n.net.stop()), ...extra.map((n) => n.stop())])
    for (const r of stopped) if (r.status === 'rejected') console.error('stop failed', r.reason)
    if (root !== undefined) await rm(root, { recursive: true, force: true, maxRetries: 5 })
    console.info(`network test: ${Date.now() - t0} ms`)
  })

  it('stores the peer key with mode 0600', async () => {
    for (const n of nodes) expect((await stat(join(n.dir, PEER_KEY_FILE))).mode & 0o777).toBe(0o600)
  })

  it('forms the same certificate on every node from gossiped attestations', async () => {
    // every node derives the same snapshot into its own Helia blockstore
    const snapshots = await Promise.all(nodes.map((n) => build(n.net.blocks, SYNTH)))
    const cid = snapshots[0]!.cid
    for (const s of snapshots) expect(s.cid.equals(cid)).toBe(true)
    body = {
      chainId: CHAIN_ID,
      adapterId: ADAPTER_ID,
      configHash: META.adapter.configHash as Hex,
      blockNumber: META.block.number,
      blockHash: META.block.hash as Hex,
      snapshotCid: cid,
      stateRoot: snapshots[0]!.root.stateRoot as Hex,
      specVersion: SPEC_VERSION,
      kind: 0,
    }
    const checkpoint = checkpointKey(body)
    await Promise.all(
      nodes.map(async (n, i) => {
        const att = await sign(body, OPERATORS[i]!)
        await handle(n, n.agg.add(att))
        const { recipients } = await n.net.publish('attestation', encodeAttestation(att))
        expect(recipients).toBeGreaterThan(0)
      }),
    )
    // every node ends with every operator's signature: one certificate, one CID
    const cids = await until('all four nodes to hold the 4-signature certificate', () => {
      const certs = nodes.map((n) => n.agg.certificate(checkpoint))
      return certs.every((c) => c?.certificate.signatures.length === 4) && certs.map((c) => c!.cid)
    })
    for (const c of cids) expect(c.toString()).toBe(cids[0]!.toString())
    const cert = nodes[0]!.agg.certificate(checkpoint)!.certificate
    expect(cert.body.snapshotCid.equals(cid)).toBe(true)
    expect((await verifyCertificate(cert, SET)).weight).toBe(4n)
    for (const n of nodes) {
      expect(n.agg.tally(checkpoint)).toEqual([{ content: expect.any(String), weight: 4n, signers: OPERATORS.map(addr).sort() }])
      expect(n.net.metrics.get('attestation', 'reject')).toBe(0)
      expect(n.net.metrics.get('attestation', 'accept')).toBeGreaterThanOrEqual(1)
    }
  })

  it('fetches a snapshot only another node has over bitswap, and it verifies', async () => {
    const only = await build(nodes[0]!.net.blocks, { accounts: 200, seed: 'only-on-node0' })
    const fetcher = nodes[2]!
    expect(await fetcher.net.blocks.has(only.cid)).toBe(false)
    const signal = AbortSignal.timeout(WAIT_MS)
    // the root through the blockstore's network fallback, then the whole DAG many blocks at a time
    const fetched = await Snapshot.open(fetcher.net.blockStore({ network: true, signal }), only.cid, derivativesSchema)
    expect(await fetcher.net.blocks.has(only.cid)).toBe(true)
    const { blocks: total, fetched: count } = await fetchDag(fetcher.net.helia, only.cid, { signal })
    expect(count).toBe(total - 1)
    await fetched.verify()
    expect(fetched.root.stateRoot).toBe(only.root.stateRoot)
    // every block is now on the fetcher's disk: opens and verifies offline
    const blocks: CID[] = []
    for await (const c of only.blockCids()) blocks.push(c)
    expect(blocks.length).toBe(total)
    for (const c of blocks) expect(await fetcher.net.blocks.has(c)).toBe(true)
    await (await Snapshot.open(fetcher.net.blocks, only.cid, derivativesSchema)).verify()
  })

  it('rejects forged, unknown-signer, wrong-chain and garbage messages and lowers the sender score', async () => {
    const mallory = await createArkNetwork({ dataDir: join(root, 'mallory'), chainId: CHAIN_ID, adapterId: ADAPTER_ID, context: () => context(), bootstrap: nodes.flatMap(addrsOf) })
    extra.push(mallory)
    await mallory.start()
    const malloryId = mallory.peerId.toString()
    await until('mallory to reach all four nodes', () => mallory.subscribers('attestation').length >= 4)
    for (const n of nodes) await until(`${n.name} to see mallory subscribed`, () => n.net.subscribers('attestation').includes(malloryId))

    const other: AttestationBody = { ...body, blockHash: `0x${'ab'.repeat(32)}` }
    // operator 1's name on a signature by the outsider's key
    const forged = await sign(other, OUTSIDER, addr(OPERATORS[0]!))
    const unknown = await sign(other, OUTSIDER)
    const wrongChain = await sign({ ...other, chainId: 1n }, OPERATORS[1]!)
    const garbage = new Uint8Array(2048).map((_, i) => (i * 131 + 7) & 0xff)
    for (const bytes of [encodeAttestation(forged), encodeAttestation(unknown), encodeAttestation(wrongChain), garbage]) {
      expect((await mallory.publish('attestation', bytes)).recipients).toBeGreaterThanOrEqual(4)
    }

    const codes = ['BAD_SIGNATURE', 'UNKNOWN_SIGNER', 'WRONG_CHAIN', 'OVERSIZED']
    for (const n of nodes) {
      await until(`${n.name} to reject all four`, () => codes.every((c) => n.net.metrics.get('attestation', 'reject', c) === 1))
      expect(n.net.metrics.snapshot()).toEqual(expect.arrayContaining(codes.map((code) => ({ kind: 'attestation', action: 'reject', code, count: 1 }))))
    }
    // the score cache refreshes each heartbeat (1 s)
    const observer = nodes[0]!.net
    const honest = nodes[1]!.net.peerId
    await until('mallory to score below an honest node', () => observer.peerScore(malloryId) < 0 && observer.peerScore(malloryId) < observer.peerScore(honest))
    expect(observer.peerScore(honest)).toBeGreaterThanOrEqual(0)
    // the bad messages never reached the application: the checkpoint still holds one content
    expect(nodes[0]!.agg.tally(checkpointKey(other)).map((t) => t.weight)).toEqual([4n])
  })

  it('restarts a node on the same data dir with the same peer id and its blocks', async () => {
    const old = nodes[3]!
    const id = old.net.peerId.toString()
    await old.net.stop()
    const again = await startNode(old.name, old.bootstrap)
    nodes[3] = again
    expect(again.net.peerId.toString()).toBe(id)
    const snap = await Snapshot.open(again.net.blocks, body.snapshotCid, derivativesSchema)
    await snap.verify()
    expect(snap.root.stateRoot).toBe(body.stateRoot)
    // it finds its way back through its bootstrap list
    await until('the restarted node to rejoin the attestation topic', () => again.net.subscribers('attestation').length >= 3)
  })

  it('refuses a peer key that group or others can read', async () => {
    const dir = join(root, 'loose-key')
    await loadOrCreatePeerKey(dir)
    await chmod(join(dir, PEER_KEY_FILE), 0o644)
    await expect(loadOrCreatePeerKey(dir)).rejects.toBeInstanceOf(PeerKeyError)
    await expect(createArkNetwork({ dataDir: dir, chainId: CHAIN_ID, adapterId: ADAPTER_ID, context: () => context() })).rejects.toThrow(/chmod 600/)
  })
})
