import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeEventLog, decodeFunctionResult, encodeFunctionData, recoverAddress, getAddress, keccak256, toHex, type Abi, type Hex } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, attestationTuple, decodeRegistryError, deployRegistry, readOperatorSet, registryAdapterKey, submitCertificateCalldata } from '../../node/chain/registry.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { attestationDigest, signAttestation, type AttestationBody } from '../../protocol/attestation.ts'
import { certificateFrom, verifyCertificate, type Certificate } from '../../protocol/certificate.ts'
import { ProtocolError } from '../../protocol/errors.ts'
import { ChainSource } from '../../snapshot/chain/source.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { abiSignatures, txHelpers, type Receipt } from '../support/tx.ts'

let anvil: AnvilInstance
const { rpc, sendRaw, send, revertOf } = txHelpers(() => anvil.rpcUrl, decodeRegistryError)
let owner: Hex
let relayer: Hex
let artifactAbi: Abi
const ZERO: Hex = `0x${'00'.repeat(32)}`
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** Four operators (sorted by address) and one outsider, from fixed keys. */
const keys = Array.from({ length: 5 }, (_, i) => keccak256(toHex(`ark registry test operator ${i}`)))
const accounts = keys.map((k) => privateKeyToAccount(k))
const ops: PrivateKeyAccount[] = accounts.slice(0, 4).sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1))
const outsider = accounts[4]!






/** Expect `data` to revert with `error` both as a call and as a mined transaction (state unchanged). */
async function expectRevert(from: Hex, to: Hex, data: Hex, error: string): Promise<void> {
  expect(await revertOf(from, to, data)).toBe(error)
  expect((await sendRaw(from, to, data)).status).toBe('0x0')
}

const gov = (functionName: 'addOperator' | 'removeOperator' | 'setWeight' | 'setThreshold', args: readonly unknown[]): Hex => encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName, args } as never)

async function view<T>(registry: Hex, functionName: string, args: readonly unknown[] = []): Promise<T> {
  const raw = await rpc<Hex>('eth_call', [{ to: registry, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName, args } as never) }, 'latest'])
  return decodeFunctionResult({ abi: ARK_REGISTRY_ABI, functionName, data: raw } as never) as T
}

const source = (): ChainSource => new ChainSource({ rpcUrls: [anvil.rpcUrl], chainId: 31337n, finality: { kind: 'confirmations', confirmations: 0 }, rpc: { retries: 2, backoffMs: 20, timeoutMs: 5_000 } })

async function head(): Promise<{ number: bigint; hash: Hex }> {
  const b = await rpc<{ number: Hex; hash: Hex }>('eth_getBlockByNumber', ['latest', false])
  return { number: BigInt(b.number), hash: b.hash }
}

const weightsOf = (set: { weights: ReadonlyMap<string, bigint> }): Record<string, number> => Object.fromEntries([...set.weights].map(([a, w]) => [a, Number(w)]))

beforeAll(async () => {
  anvil = await startAnvil({})
  artifactAbi = (await loadArtifact('ArkRegistry')).abi
  const accts = await rpc<Hex[]>('eth_accounts')
  owner = accts[0]!
  relayer = accts[1]!
}, 120_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('ArkRegistry ABI', () => {
  it('the hand-written ABI in node/chain/registry.ts matches the compiled contract', () => {
    const sigs = abiSignatures
    for (const type of ['function', 'event', 'error']) {
      const compiled = sigs(artifactAbi, type)
      // the compiled ABI also has Ownable2Step's functions, constants and inherited events
      for (const s of sigs(ARK_REGISTRY_ABI as Abi, type)) expect(compiled, `${type} ${s}`).toContain(s)
    }
    // every custom error the contract declares is decodable
    expect(sigs(artifactAbi, 'error').filter((s) => !sigs(ARK_REGISTRY_ABI as Abi, 'error').includes(s))).toEqual([])
  })
})

describe('operator set governance', () => {
  let registry: Hex

  it('readOperatorSet follows the set block by block (history pinned by block hash)', async () => {
    const d = await deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: [] })
    registry = d.address
    await expect(readOperatorSet(source(), registry, d.deployBlockHash)).rejects.toThrow(/no operators/)
    const before = await head()
    await expect(readOperatorSet(source(), registry, (await rpc<{ hash: Hex }>('eth_getBlockByNumber', [toHex(d.deployBlock - 1n), false])).hash)).rejects.toThrow(/returned no data/)
    expect(before.number).toBe(d.deployBlock)

    const steps: { hash: Hex; weights: Record<string, number>; threshold: number }[] = []
    const record = (r: Receipt, weights: Record<string, number>, threshold: number): void => {
      steps.push({ hash: r.blockHash, weights, threshold })
    }
    const w: Record<string, number> = {}
    for (const [i, op] of ops.entries()) {
      const r = await send(owner, registry, gov('addOperator', [op.address, 1n]))
      w[op.address.toLowerCase()] = 1
      // default threshold floor(2n/3)+1: 1, 2, 3, 3
      record(r, { ...w }, [1, 2, 3, 3][i]!)
    }
    // total 5: default threshold 4
    record(await send(owner, registry, gov('setWeight', [ops[3]!.address, 2n])), { ...w, [ops[3]!.address.toLowerCase()]: 2 }, 4)
    record(await send(owner, registry, gov('setWeight', [ops[3]!.address, 1n])), { ...w }, 3)
    record(await send(owner, registry, gov('setThreshold', [4n])), { ...w }, 4)
    record(await send(owner, registry, gov('setThreshold', [3n])), { ...w }, 3)
    const { [ops[1]!.address.toLowerCase()]: _removed, ...without1 } = w
    record(await send(owner, registry, gov('removeOperator', [ops[1]!.address])), without1, 3)
    record(await send(owner, registry, gov('addOperator', [ops[1]!.address, 1n])), { ...w }, 3)
    record(await send(owner, registry, gov('setThreshold', [0n])), { ...w }, 3) // back to the default

    // every block of the history, read afterwards, pinned by its hash
    const src = source()
    for (const s of steps) {
      const set = await readOperatorSet(src, registry, s.hash)
      expect(weightsOf(set)).toEqual(s.weights)
      expect(set.threshold).toBe(BigInt(s.threshold))
      expect(set.totalWeight).toBe(BigInt(Object.values(s.weights).reduce((a, b) => a + b, 0)))
    }
    expect(new Set(steps.map((s) => s.hash)).size).toBe(steps.length)
    expect(await view<boolean>(registry, 'thresholdIsExplicit')).toBe(false)
    expect(await view<bigint>(registry, 'weightOf', [outsider.address])).toBe(0n)
  })

  it('enforces the threshold rules and the operator rules with named errors', async () => {
    // 4 operators of weight 1, default threshold 3
    await expectRevert(owner, registry, gov('setThreshold', [2n]), 'ThresholdTooLow') // 2*2 <= 4
    await expectRevert(owner, registry, gov('setThreshold', [5n]), 'ThresholdTooHigh')
    await send(owner, registry, gov('setThreshold', [4n]))
    await expectRevert(owner, registry, gov('removeOperator', [ops[0]!.address]), 'ThresholdTooHigh') // 4 > 3
    await send(owner, registry, gov('setThreshold', [3n]))
    await expectRevert(owner, registry, gov('setWeight', [ops[0]!.address, 3n]), 'ThresholdTooLow') // 2*3 <= 6
    await expectRevert(owner, registry, gov('addOperator', [outsider.address, 2n]), 'ThresholdTooLow')
    await expectRevert(owner, registry, gov('addOperator', [ops[0]!.address, 1n]), 'AlreadyOperator')
    await expectRevert(owner, registry, gov('addOperator', [outsider.address, 0n]), 'ZeroWeight')
    await expectRevert(owner, registry, gov('addOperator', ['0x0000000000000000000000000000000000000000', 1n]), 'ZeroAddress')
    await expectRevert(owner, registry, gov('setWeight', [outsider.address, 1n]), 'NotOperator')
    await expectRevert(owner, registry, gov('setWeight', [ops[0]!.address, 0n]), 'ZeroWeight')
    await expectRevert(owner, registry, gov('removeOperator', [outsider.address]), 'NotOperator')
    await expectRevert(relayer, registry, gov('addOperator', [outsider.address, 1n]), 'OwnableUnauthorizedAccount')
    await expectRevert(relayer, registry, gov('setThreshold', [4n]), 'OwnableUnauthorizedAccount')
    // back to the default lets the set grow past the explicit rules
    await send(owner, registry, gov('setThreshold', [0n]))
    await send(owner, registry, gov('addOperator', [outsider.address, 2n]))
    expect(await view<bigint>(registry, 'threshold')).toBe(5n) // floor(12/3)+1
    await send(owner, registry, gov('removeOperator', [outsider.address]))
    expect(await view<bigint>(registry, 'threshold')).toBe(3n)
    // a constructor that breaks the rules
    await expect(deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.map((o) => ({ address: o.address, weight: 1 })), threshold: 2 })).rejects.toThrow(/ThresholdTooLow/)
    await expect(deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.map((o) => ({ address: o.address, weight: 1 })), threshold: 5 })).rejects.toThrow(/ThresholdTooHigh/)
  })
})

describe('certificates', () => {
  let registry: Hex
  let setBlock: Hex
  let body: AttestationBody
  let cert: Certificate
  const configHash = keccak256(toHex('erc20-balances config'))

  async function sign(b: AttestationBody, signers: readonly PrivateKeyAccount[]): Promise<Certificate> {
    return certificateFrom(await Promise.all(signers.map((s) => signAttestation(b, s.address, (digest) => s.sign({ hash: digest })))))
  }

  const submit = (c: Certificate): Hex => submitCertificateCalldata(c)

  beforeAll(async () => {
    const d = await deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.map((o) => ({ address: o.address, weight: 1n })), threshold: 3n })
    registry = d.address
    setBlock = d.deployBlockHash
    await rpc('evm_mine')
    const h = await head()
    const snapshot = encodeBlock({ type: 'ark.test.snapshot', holders: [[new Uint8Array(20).fill(1), 5n]], block: h.number })
    body = { chainId: 31337n, adapterId: 'erc20-balances', configHash, blockNumber: h.number, blockHash: h.hash, snapshotCid: snapshot.cid, stateRoot: keccak256(snapshot.bytes), specVersion: 1, kind: 0 }
    cert = await sign(body, ops.slice(0, 3))
  })

  it('the contract computes the same EIP-712 digest as protocol/attestation.ts', async () => {
    expect(await view<Hex>(registry, 'attestationDigest', [attestationTuple(body)])).toBe(attestationDigest(body))
  })

  it('accepts a 3-of-4 certificate, emits CertificateSubmitted, records the root; it verifies off-chain against the set read from the registry', async () => {
    const r = await send(relayer, registry, submit(cert))
    expect(r.logs).toHaveLength(1)
    const ev = decodeEventLog({ abi: ARK_REGISTRY_ABI, data: r.logs[0]!.data, topics: r.logs[0]!.topics as [Hex, ...Hex[]] })
    expect(getAddress(r.logs[0]!.address)).toBe(registry)
    expect(ev.eventName).toBe('CertificateSubmitted')
    expect(ev.args).toEqual({ adapterKey: registryAdapterKey(body.adapterId, configHash), blockNumber: body.blockNumber, kind: 0, stateRoot: body.stateRoot, blockHash: body.blockHash, snapshotCid: toHex(body.snapshotCid.bytes), weight: 3n })
    expect(await view<Hex>(registry, 'recordedRoot', [body.adapterId, configHash, body.blockNumber])).toBe(body.stateRoot)
    expect(await view<Hex>(registry, 'adapterKey', [body.adapterId, configHash])).toBe(registryAdapterKey(body.adapterId, configHash))

    const set = await readOperatorSet(source(), registry, body.blockHash)
    expect(await verifyCertificate(cert, set)).toEqual({ weight: 3n })
    expect(set.threshold).toBe(3n)
    expect((await readOperatorSet(source(), registry, setBlock)).weights.size).toBe(4)
  })

  it('resubmitting the same certificate is a no-op; a different root for the same block reverts', async () => {
    const again = await send(relayer, registry, submit(cert))
    expect(again.logs).toHaveLength(0)
    // a different (still valid, even 4-of-4) certificate with the same root is a no-op too
    expect((await send(relayer, registry, submit(await sign(body, ops)))).logs).toHaveLength(0)
    const other = await sign({ ...body, stateRoot: keccak256(toHex('another root')) }, ops.slice(1))
    await expectRevert(relayer, registry, submit(other), 'ConflictingRoot')
    expect(await view<Hex>(registry, 'recordedRoot', [body.adapterId, configHash, body.blockNumber])).toBe(body.stateRoot)
    // another config of the same adapter is another key
    const otherConfig = await sign({ ...body, configHash: keccak256(toHex('other config')), stateRoot: keccak256(toHex('another root')) }, ops.slice(1))
    expect((await send(relayer, registry, submit(otherConfig))).logs).toHaveLength(1)
  })

  describe('rejections', () => {
    let fresh: AttestationBody
    beforeAll(async () => {
      // a new block, so nothing is recorded for it yet
      await rpc('evm_mine')
      const h = await head()
      fresh = { ...body, blockNumber: h.number, blockHash: h.hash }
      // and one more: an eth_call at "latest" runs as the latest block, for which a certificate is FutureBlock
      await rpc('evm_mine')
    })

    it('2-of-4 is below the threshold', async () => {
      const c = await sign(fresh, ops.slice(0, 2))
      await expectRevert(relayer, registry, submit(c), 'BelowThreshold')
      await expect(verifyCertificate(c, await readOperatorSet(source(), registry, fresh.blockHash))).rejects.toMatchObject({ reason: 'BELOW_THRESHOLD' })
    })

    it('unsorted or duplicate signers', async () => {
      const c = await sign(fresh, ops.slice(0, 3))
      await expectRevert(relayer, registry, submit({ ...c, signatures: [...c.signatures].reverse() }), 'UnsortedSigners')
      await expectRevert(relayer, registry, submit({ ...c, signatures: [c.signatures[0]!, c.signatures[0]!, c.signatures[1]!, c.signatures[2]!] }), 'DuplicateSigner')
      // duplicates cannot pad 2 signers up to the threshold
      await expectRevert(relayer, registry, submit({ ...c, signatures: [c.signatures[0]!, c.signatures[1]!, c.signatures[1]!] }), 'DuplicateSigner')
    })

    it('an unknown signer', async () => {
      const c = await sign(fresh, [...ops.slice(0, 3), outsider])
      expect(c.signatures.map((s) => s.signer)).toContain(outsider.address.toLowerCase())
      await expectRevert(relayer, registry, submit(c), 'UnknownSigner')
      await expect(verifyCertificate(c, await readOperatorSet(source(), registry, fresh.blockHash))).rejects.toMatchObject({ reason: 'UNKNOWN_SIGNER' })
    })

    it('a signature by someone else than the claimed signer', async () => {
      const c = await sign(fresh, ops.slice(0, 3))
      const swapped = { ...c, signatures: c.signatures.map((s, i) => ({ signer: s.signer, signature: c.signatures[(i + 1) % 3]!.signature })) }
      await expectRevert(relayer, registry, submit(swapped), 'InvalidSignature')
    })

    it('a high-s twin of a valid signature', async () => {
      const c = await sign(fresh, ops.slice(0, 3))
      const sig = c.signatures[1]!.signature
      const s = BigInt(`0x${sig.slice(66, 130)}`)
      const v = Number.parseInt(sig.slice(130), 16)
      const twin = `${sig.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex
      const bad = { ...c, signatures: c.signatures.map((x, i) => (i === 1 ? { ...x, signature: twin } : x)) }
      // the twin recovers to the same signer (ecrecover accepts it), so only the low-s rule rejects it
      expect((await recoverAddress({ hash: attestationDigest(fresh), signature: twin })).toLowerCase()).toBe(c.signatures[1]!.signer)
      await expectRevert(relayer, registry, submit(bad), 'HighSSignature')
      await expect(verifyCertificate(bad, await readOperatorSet(source(), registry, fresh.blockHash))).rejects.toMatchObject({ reason: 'HIGH_S' })
    })

    it('a chain id mismatch', async () => {
      // signed for chain 1: the registry on 31337 refuses it
      await expectRevert(relayer, registry, submit(await sign({ ...fresh, chainId: 1n }, ops.slice(0, 3))), 'WrongChain')
      // signed over chain 1's domain but relabelled as 31337: the signatures do not match
      const c1 = await sign({ ...fresh, chainId: 1n }, ops.slice(0, 3))
      await expectRevert(relayer, registry, submit({ ...c1, body: fresh }), 'InvalidSignature')
    })

    it('a block hash that is not the chain’s, the current or a future block, no signatures, length mismatch', async () => {
      await expectRevert(relayer, registry, submit(await sign({ ...fresh, blockHash: keccak256(toHex('fork')) }, ops.slice(0, 3))), 'BlockHashMismatch')
      const next = (await head()).number + 1n
      await expectRevert(relayer, registry, submit(await sign({ ...fresh, blockNumber: next }, ops.slice(0, 3))), 'FutureBlock')
      await expectRevert(relayer, registry, submit(await sign({ ...fresh, blockNumber: next + 100n }, ops.slice(0, 3))), 'FutureBlock')
      await expectRevert(relayer, registry, submit({ body: fresh, signatures: [] }), 'NoSignatures')
      const c = await sign(fresh, ops.slice(0, 3))
      const data = encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'submitCertificate', args: [attestationTuple(fresh), c.signatures.map((s) => getAddress(s.signer)), c.signatures.slice(1).map((s) => s.signature)] })
      await expectRevert(relayer, registry, data, 'LengthMismatch')
      expect(await view<Hex>(registry, 'recordedRoot', [fresh.adapterId, configHash, fresh.blockNumber])).toBe(`0x${'00'.repeat(32)}`)
    })

    it('the set at the certificate’s block decides, whatever governance did since (removal, late addition)', async () => {
      const c = await sign(fresh, ops.slice(0, 3))
      await send(owner, registry, gov('removeOperator', [ops[0]!.address])) // 3 left, threshold 3
      const then = await readOperatorSet(source(), registry, fresh.blockHash)
      const now = await readOperatorSet(source(), registry, (await head()).hash)
      expect(await verifyCertificate(c, then)).toEqual({ weight: 3n })
      await expect(verifyCertificate(c, now)).rejects.toBeInstanceOf(ProtocolError)
      // the contract checks the set at the certificate's block, as the off-chain reader does
      expect(await view<bigint>(registry, 'weightAt', [ops[0]!.address, fresh.blockNumber])).toBe(1n)
      expect(await view<bigint>(registry, 'weightAt', [ops[0]!.address, (await head()).number])).toBe(0n)
      expect(await view<bigint>(registry, 'totalWeightAt', [fresh.blockNumber])).toBe(4n)
      expect(await view<bigint>(registry, 'thresholdAt', [fresh.blockNumber])).toBe(3n)
      const r = await send(relayer, registry, submit(c))
      expect(r.logs).toHaveLength(1)
      expect(await view<Hex>(registry, 'recordedRoot', [fresh.adapterId, configHash, fresh.blockNumber])).toBe(fresh.stateRoot)

      // a signer added after a block cannot sign for it, even though it is an operator now
      await rpc('evm_mine')
      const h = await head()
      const later: AttestationBody = { ...body, blockNumber: h.number, blockHash: h.hash }
      await send(owner, registry, gov('addOperator', [outsider.address, 1n])) // 4 operators again, threshold 3
      const withOutsider = await sign(later, [ops[1]!, ops[2]!, outsider])
      await expectRevert(relayer, registry, submit(withOutsider), 'UnknownSigner')
      await expectRevert(relayer, registry, submit(await sign(later, ops.slice(0, 3))), 'UnknownSigner') // ops[0] was removed before
      expect((await send(relayer, registry, submit(await sign(later, ops.slice(1))))).logs).toHaveLength(1)
      // and for a block after the addition, the outsider signs and the removed operator cannot
      await rpc('evm_mine')
      const h2 = await head()
      const after: AttestationBody = { ...body, blockNumber: h2.number, blockHash: h2.hash }
      await rpc('evm_mine')
      await expectRevert(relayer, registry, submit(await sign(after, ops.slice(0, 3))), 'UnknownSigner')
      expect((await send(relayer, registry, submit(await sign(after, [ops[1]!, ops[2]!, outsider])))).logs).toHaveLength(1)
      await send(owner, registry, gov('removeOperator', [outsider.address]))
      await send(owner, registry, gov('addOperator', [ops[0]!.address, 1n]))
    })

    it('kinds are recorded separately; the empty snapshot (stateRoot 0) is recordable; conflicts are per kind', async () => {
      await rpc('evm_mine')
      const h = await head()
      await rpc('evm_mine')
      const b0: AttestationBody = { ...body, blockNumber: h.number, blockHash: h.hash, stateRoot: ZERO }
      const key = registryAdapterKey(b0.adapterId, configHash)
      expect(await view<boolean>(registry, 'isRecorded', [b0.adapterId, configHash, 0, b0.blockNumber])).toBe(false)
      const r = await send(relayer, registry, submit(await sign(b0, ops.slice(1))))
      expect(r.logs).toHaveLength(1)
      expect(decodeEventLog({ abi: ARK_REGISTRY_ABI, data: r.logs[0]!.data, topics: r.logs[0]!.topics as [Hex, ...Hex[]] }).args).toMatchObject({ kind: 0, stateRoot: ZERO })
      expect(await view<boolean>(registry, 'isRecorded', [b0.adapterId, configHash, 0, b0.blockNumber])).toBe(true)
      expect(await view<readonly [Hex, boolean]>(registry, 'recordOf', [key, 0, b0.blockNumber])).toEqual([ZERO, true])
      // same empty root again: a no-op; a non-empty root for the same block: a conflict
      expect((await send(relayer, registry, submit(await sign(b0, ops.slice(0, 3))))).logs).toHaveLength(0)
      const rootA = keccak256(toHex('restitution A'))
      await expectRevert(relayer, registry, submit(await sign({ ...b0, stateRoot: rootA }, ops.slice(0, 3))), 'ConflictingRoot')
      // kind 2 at the same block is another record
      const b2: AttestationBody = { ...b0, kind: 2, stateRoot: rootA }
      const r2 = await send(relayer, registry, submit(await sign(b2, ops.slice(0, 3))))
      expect(decodeEventLog({ abi: ARK_REGISTRY_ABI, data: r2.logs[0]!.data, topics: r2.logs[0]!.topics as [Hex, ...Hex[]] }).args).toMatchObject({ kind: 2, stateRoot: rootA })
      expect(await view<Hex>(registry, 'recordedRoot', [b0.adapterId, configHash, 2, b0.blockNumber])).toBe(rootA)
      expect(await view<Hex>(registry, 'recordedRoot', [b0.adapterId, configHash, 0, b0.blockNumber])).toBe(ZERO)
      expect(await view<boolean>(registry, 'isRecorded', [b0.adapterId, configHash, 1, b0.blockNumber])).toBe(false)
      const conflict = await revertOf(relayer, registry, submit(await sign({ ...b2, stateRoot: keccak256(toHex('restitution B')) }, ops.slice(0, 3))))
      expect(conflict).toBe('ConflictingRoot')
      // the 3-argument recordedRoot is kind 0
      expect(await view<Hex>(registry, 'recordedRoot', [b0.adapterId, configHash, b0.blockNumber])).toBe(ZERO)
    })
  })
})

describe('blocks before the registry existed', () => {
  it('the constructor set applies to earlier blocks; a later change does not reach back', async () => {
    await rpc('evm_mine')
    const early = await head()
    await rpc('evm_mine')
    const d = await deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.slice(0, 3).map((o) => ({ address: o.address, weight: 1n })) })
    expect(d.deployBlock).toBeGreaterThan(early.number)
    // the outsider joins after deployment: it still cannot sign for the pre-deployment block
    await send(owner, d.address, gov('addOperator', [outsider.address, 1n]))
    const b: AttestationBody = { chainId: 31337n, adapterId: 'erc20-balances', configHash: keccak256(toHex('pre')), blockNumber: early.number, blockHash: early.hash, snapshotCid: encodeBlock({ type: 'ark.test.snapshot', block: early.number }).cid, stateRoot: keccak256(toHex('pre root')), specVersion: 1, kind: 0 }
    const sign = async (signers: readonly PrivateKeyAccount[]): Promise<Certificate> => certificateFrom(await Promise.all(signers.map((s) => signAttestation(b, s.address, (digest) => s.sign({ hash: digest })))))
    await expectRevert(relayer, d.address, submitCertificateCalldata(await sign([ops[0]!, ops[1]!, outsider])), 'UnknownSigner')
    expect(await view<bigint>(d.address, 'thresholdAt', [early.number])).toBe(3n)
    expect((await send(relayer, d.address, submitCertificateCalldata(await sign(ops.slice(0, 3))))).logs).toHaveLength(1)
  })
})
