/**
 * Archive nodes against misbehaviour, on a real chain and real TCP: below
 * quorum nothing is certified (and the tally is reported) until a third
 * operator returns; a byzantine operator attesting a wrong snapshot does not
 * stop the honest quorum; an operator signing two contents for one
 * checkpoint becomes evidence on every honest node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { privateKeyToAccount } from 'viem/accounts'
import { attestationDigest, encodeAttestation, normalizeV, type AttestationBody } from '../../protocol/attestation.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import type { ArchiveNode } from '../../node/archive/node.ts'
import { blockNumber, type ChainFixture } from '../support/chain.ts'
import { archiveFixture, operatorKey, startNode, until, writeClusterConfigs, type ArchiveFixture } from '../support/archive-cluster.ts'

let fx: ArchiveFixture
let f: ChainFixture
let dir: string
let nodes: ArchiveNode[]

beforeAll(async () => {
  fx = await archiveFixture({ name: 'adv', seed: 5, traders: 10, steps: 40 })
  ;({ chain: f, dir, nodes } = fx)
}, 180_000)

afterAll(async () => {
  await fx?.stop()
})

describe('archive nodes under misbehaviour', () => {
  it('below quorum: no certificate and the tally is reported; a returning operator completes the quorum; byzantine and equivocating signatures are contained', { timeout: 400_000 }, async () => {
    const configs = await writeClusterConfigs(dir, f, 4, { firstBlock: await blockNumber(f), interval: 4, quorumTimeoutMs: 2500 })
    const n0 = await startNode(configs[0]!)
    nodes.push(n0)
    configs[1]!.p2p.bootstrap = n0.network.multiaddrs().map(String)
    nodes.push(await startNode(configs[1]!))
    fx.mine({ seed: 700, traders: 10, steps: 20 })

    // 2 of 4 running: weight 2 < threshold 3
    await until('a no-quorum report with the tally', () => n0.noQuorum.length > 0, 60_000)
    expect(n0.certificates.list()).toEqual([])
    const report = n0.noQuorum[0]!
    expect(JSON.stringify(report.tally)).toContain('"weight":"2"')

    // the byzantine operator 3 attests a wrong snapshot for the next checkpoints, and equivocates
    const rogue = privateKeyToAccount(operatorKey(3))
    const forged = async (block: bigint, seed: string): Promise<Uint8Array> => {
      const header = await f.source().agreedHeader(block)
      const body: AttestationBody = {
        chainId: 31337n,
        adapterId: 'perp-reference',
        configHash: n0.validatorContext().configHash as `0x${string}`,
        blockNumber: block,
        blockHash: header.hash,
        snapshotCid: encodeBlock({ forged: seed }).cid,
        stateRoot: `0x${'ab'.repeat(32)}`,
        specVersion: 1,
        kind: 0,
      }
      return encodeAttestation({ body, signer: rogue.address.toLowerCase() as `0x${string}`, signature: normalizeV(await rogue.sign({ hash: attestationDigest(body) })) })
    }

    configs[2]!.p2p.bootstrap = n0.network.multiaddrs().map(String)
    const n2 = await startNode(configs[2]!)
    nodes.push(n2)
    await until('a certificate once a third operator is back', () => n0.certificates.list().length > 0, 60_000)
    const firstCert = n0.certificates.list()[0]!.certificate
    const target = firstCert.body.blockNumber + 4n
    await until('the chain to reach the next checkpoint', async () => (await blockNumber(f)) >= target, 30_000)
    await n0.network.publish('attestation', await forged(target, 'one')).catch(() => {})
    await n2.network.publish('attestation', await forged(target, 'two')).catch(() => {})

    await until('a certificate for the attacked checkpoint', () => n0.certificates.get(target) !== undefined && n2.certificates.get(target) !== undefined, 60_000)
    const cert = n0.certificates.get(target)!.certificate
    expect(cert.signatures.map((s) => s.signer)).not.toContain(rogue.address.toLowerCase())
    expect(cert.body.snapshotCid.toString()).not.toBe(encodeBlock({ forged: 'one' }).cid.toString())
    expect(n2.certificates.get(target)!.cid.toString()).toBe(n0.certificates.get(target)!.cid.toString())
    // two contents from one operator for one checkpoint: evidence on every honest node
    await until('equivocation evidence on all honest nodes', () => nodes.every((n) => n.evidence.some((e) => e.a.signer === rogue.address.toLowerCase())), 30_000)
    for (const n of nodes) {
      expect(n.fatal).toBeUndefined()
      expect(n.divergences).toEqual([])
    }
  })
})
