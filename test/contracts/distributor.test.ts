/**
 * Distributor on a real anvil: a restitution root certified as kind 2 and anchored in the ArkRegistry
 * is paid pro rata across funding rounds, exclusions apply in batches by root, and after the deadline
 * claims stop and the rest is swept to governance. Every refusal is checked by its named error, as a
 * call and as a mined transaction that moves no token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { decodeFunctionResult, encodeDeployData, encodeFunctionData, getAddress, keccak256, toHex, type Abi, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { deployRegistry, submitCertificateCalldata } from '../../node/chain/registry.ts'
import { decodeDistributorError, deployDistributor, DISTRIBUTOR_ABI, distributorClaimCalldata, fundCalldata, proRata, restitutionLeafHash, setRestitutionCalldata, TOTAL_ACCOUNT } from '../../node/chain/distributor.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { testOperators } from '../support/recovery.ts'
import { abiSignatures, txHelpers } from '../support/tx.ts'
import { restitutionCertificate, restitutionTree, testConfigHash } from './restitution-fixture.ts'

let anvil: AnvilInstance
const { rpc, sendRaw, send, revertOf } = txHelpers(() => anvil.rpcUrl, decodeDistributorError)
let accts: Hex[]
let owner: Hex
let keeper: Hex
let registry: Hex
let tokenA: Hex
let tokenB: Hex
let erc20Abi: Abi
const { ops } = testOperators()
const configHash = testConfigHash('distributor test config')

async function view<T>(abi: Abi, to: Hex, functionName: string, args: readonly unknown[] = []): Promise<T> {
  const raw = await rpc<Hex>('eth_call', [{ to, data: encodeFunctionData({ abi, functionName, args } as never) }, 'latest'])
  return decodeFunctionResult({ abi, functionName, data: raw } as never) as T
}
const dview = <T>(d: Hex, fn: string, args: readonly unknown[] = []): Promise<T> => view<T>(DISTRIBUTOR_ABI as Abi, d, fn, args)
const balanceOf = (token: Hex, who: Hex): Promise<bigint> => view<bigint>(erc20Abi, token, 'balanceOf', [who])
const erc20 = (functionName: string, args: readonly unknown[]): Hex => encodeFunctionData({ abi: erc20Abi, functionName, args } as never)
const call = (functionName: string, args: readonly unknown[]): Hex => encodeFunctionData({ abi: DISTRIBUTOR_ABI, functionName, args } as never)

/** Reverts with `error` as a call, and as a mined transaction that moves none of `from`'s or the distributor's tokens. */
async function expectRevert(from: Hex, to: Hex, data: Hex, error: string): Promise<void> {
  expect(await revertOf(from, to, data)).toBe(error)
  const before = [await balanceOf(tokenA, from), await balanceOf(tokenA, to)]
  expect((await sendRaw(from, to, data)).status).toBe('0x0')
  expect([await balanceOf(tokenA, from), await balanceOf(tokenA, to)]).toEqual(before)
}

async function deployToken(symbol: string): Promise<Hex> {
  const art = await loadArtifact('MockERC20')
  const r = await send(owner, null, encodeDeployData({ abi: art.abi, bytecode: art.bytecode, args: [symbol, symbol, 6] }))
  return getAddress(r.contractAddress!)
}

async function fund(d: Hex, token: Hex, amount: bigint): Promise<void> {
  await send(owner, token, erc20('mint', [owner, amount]))
  await send(owner, token, erc20('approve', [d, amount]))
  await send(owner, d, fundCalldata(token, amount))
}

async function now(): Promise<bigint> {
  return BigInt((await rpc<{ timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])).timestamp)
}

async function head(): Promise<{ number: bigint; hash: Hex }> {
  const b = await rpc<{ number: Hex; hash: Hex }>('eth_getBlockByNumber', ['latest', false])
  return { number: BigInt(b.number), hash: b.hash }
}

beforeAll(async () => {
  anvil = await startAnvil({})
  accts = (await rpc<Hex[]>('eth_accounts')).map((a) => getAddress(a))
  owner = accts[0]!
  keeper = accts[9]!
  erc20Abi = (await loadArtifact('MockERC20')).abi
  tokenA = await deployToken('USDA')
  tokenB = await deployToken('USDB')
  registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.map((o) => ({ address: o.address, weight: 1n })), threshold: 3n })).address
}, 120_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('Distributor', () => {
  // accts[1..3] are victims, accts[4] turns out to be an accomplice (excluded later by root)
  let table: ReturnType<typeof restitutionTree>
  let d: Hex
  let certBlock: { number: bigint; hash: Hex }
  let deadline: bigint
  const owedA = [500n, 300n, 100n, 100n]
  const claimA = (i: number): Hex => distributorClaimCalldata(accts[i]!, tokenA, owedA[i - 1]!, table.proof(accts[i]!, tokenA))

  beforeAll(async () => {
    table = restitutionTree([...owedA.map((amount, i) => ({ account: accts[i + 1]!, asset: tokenA, amount })), { account: accts[3]!, asset: tokenB, amount: 50n }])
    d = (await deployDistributor({ rpcUrl: anvil.rpcUrl, registry, adapterId: 'perp-reference', configHash, owner })).address
    await rpc('evm_mine')
    certBlock = await head()
    await rpc('evm_mine')
  })

  it('the hand-written ABI in node/chain/distributor.ts matches the compiled contract; the TS leaf hash is the contract\'s', async () => {
    const artifactAbi = (await loadArtifact('Distributor')).abi
    for (const type of ['function', 'event', 'error']) {
      const compiled = abiSignatures(artifactAbi, type)
      for (const s of abiSignatures(DISTRIBUTOR_ABI as Abi, type)) expect(compiled, `${type} ${s}`).toContain(s)
    }
    expect(abiSignatures(artifactAbi, 'error').filter((s) => !abiSignatures(DISTRIBUTOR_ABI as Abi, 'error').includes(s))).toEqual([])
    expect(await dview<Hex>(d, 'leafOf', [accts[1], tokenA, 500n])).toBe(restitutionLeafHash(accts[1]!, tokenA, 500n))
    expect(restitutionLeafHash(accts[1]!, tokenA, 500n)).toBe(table.tree.leafHash([accts[1]!, tokenA, 500n]))
  })

  it('the root comes from the registry\'s kind-2 record, once, by the owner, with a future deadline', async () => {
    deadline = (await now()) + 3_600n
    await expectRevert(owner, d, setRestitutionCalldata(certBlock.number, deadline), 'RootNotRecorded')
    // a kind-0 record of the same root at that block is not a restitution record
    const cert = await restitutionCertificate({ root: table.tree.root as Hex, block: certBlock, adapterId: 'perp-reference', configHash }, ops.slice(0, 3))
    await send(keeper, registry, submitCertificateCalldata(cert))
    await expectRevert(keeper, d, setRestitutionCalldata(certBlock.number, deadline), 'OwnableUnauthorizedAccount')
    await expectRevert(owner, d, setRestitutionCalldata(certBlock.number, (await now()) - 1n), 'DeadlineInPast')
    await expectRevert(owner, d, call('setRoot', [table.tree.root, deadline]), 'RegistryMode')
    await expectRevert(accts[1]!, d, claimA(1), 'RootNotSet')
    await send(owner, d, setRestitutionCalldata(certBlock.number, deadline))
    expect(await dview<Hex>(d, 'root')).toBe(table.tree.root)
    expect(await dview<bigint>(d, 'restitutionBlock')).toBe(certBlock.number)
    await expectRevert(owner, d, setRestitutionCalldata(certBlock.number, deadline), 'RootAlreadySet')
  })

  it('claims need the proven total; the total leaf proves it; address(0) never claims', async () => {
    await expectRevert(accts[1]!, d, claimA(1), 'TotalNotProven')
    const proof = table.proof(TOTAL_ACCOUNT, tokenA)
    await expectRevert(keeper, d, call('proveTotal', [tokenA, 999n, proof]), 'InvalidProof')
    await send(keeper, d, call('proveTotal', [tokenA, 1_000n, proof]))
    await send(keeper, d, call('proveTotal', [tokenA, 1_000n, proof])) // again: a no-op
    expect(await dview<bigint>(d, 'totalOwed', [tokenA])).toBe(1_000n)
    await expectRevert(keeper, d, distributorClaimCalldata(TOTAL_ACCOUNT, tokenA, 1_000n, proof), 'ReservedAccount')
  })

  it('an exclusion root holds every claim until all its accounts are applied (one multiproof call); excluded accounts never claim', async () => {
    const outsider = getAddress(keccak256(toHex('not in the table')).slice(0, 42))
    const excl = StandardMerkleTree.of([[accts[4]!], [outsider]], ['address'])
    await expectRevert(keeper, d, call('setExclusionRoot', [excl.root, 2n]), 'OwnableUnauthorizedAccount')
    await send(owner, d, call('setExclusionRoot', [excl.root, 2n]))
    await expectRevert(accts[1]!, d, claimA(1), 'ExclusionsPending')
    const m = excl.getMultiProof([0, 1])
    const leaves = m.leaves.map((l) => l[0]!)
    await expectRevert(keeper, d, call('applyExclusions', [[leaves[0], accts[5]], m.proof, m.proofFlags]), 'InvalidExclusionProof')
    await expectRevert(keeper, d, call('applyExclusions', [[], m.proof, m.proofFlags]), 'NoAccounts')
    await send(keeper, d, call('applyExclusions', [leaves, m.proof, m.proofFlags]))
    expect(await dview<bigint>(d, 'exclusionsApplied')).toBe(2n)
    expect(await dview<boolean>(d, 'excluded', [accts[4]])).toBe(true)
    // nothing is funded yet: a victim's claim is due nothing
    await expectRevert(accts[1]!, d, claimA(1), 'NothingDue')
    await expectRevert(accts[4]!, d, claimA(4), 'Excluded')
  })

  it('underfunded: each claim is amount × funded / total; a top-up lets earlier claimants claim the rest (no first come first served)', async () => {
    await fund(d, tokenA, 333n)
    expect(await dview<bigint>(d, 'funded', [tokenA])).toBe(333n)
    // round 1: accts[1] and accts[2] claim (a keeper sends accts[2]'s claim; the account is paid)
    const before = await Promise.all([1, 2, 3].map((i) => balanceOf(tokenA, accts[i]!)))
    await send(accts[1]!, d, claimA(1))
    await send(keeper, d, claimA(2))
    expect(await balanceOf(tokenA, accts[1]!)).toBe(before[0]! + 166n) // floor(500 × 333 / 1000)
    expect(await balanceOf(tokenA, accts[2]!)).toBe(before[1]! + 99n) // floor(300 × 333 / 1000)
    expect(proRata(500n, 333n, 1_000n)).toBe(166n)
    await expectRevert(accts[1]!, d, claimA(1), 'NothingDue')
    // a wrong amount is another leaf
    await expectRevert(accts[1]!, d, distributorClaimCalldata(accts[1]!, tokenA, 600n, table.proof(accts[1]!, tokenA)), 'InvalidProof')
    // round 2: funded to the full total; the late claimant gets its full share, the early ones the rest
    await fund(d, tokenA, 667n)
    expect(await dview<bigint>(d, 'funded', [tokenA])).toBe(1_000n)
    await send(accts[3]!, d, claimA(3))
    await send(accts[1]!, d, claimA(1))
    await send(accts[2]!, d, claimA(2))
    expect(await Promise.all([1, 2, 3].map((i) => balanceOf(tokenA, accts[i]!)))).toEqual([before[0]! + 500n, before[1]! + 300n, before[2]! + 100n])
    expect(await dview<bigint>(d, 'paid', [accts[1], tokenA])).toBe(500n)
    expect(await dview<bigint>(d, 'totalPaid', [tokenA])).toBe(900n)
    // over-funding never pays more than the leaf
    await fund(d, tokenA, 50n)
    await expectRevert(accts[3]!, d, claimA(3), 'NothingDue')
    expect(await balanceOf(tokenA, d)).toBe(150n) // the excluded accomplice's 100 and the extra 50
  })

  it('after the deadline claims and funding stop, and anyone sweeps the rest to governance', async () => {
    await send(owner, tokenB, erc20('mint', [owner, 50n]))
    await send(owner, tokenB, erc20('approve', [d, 50n]))
    await expectRevert(keeper, d, call('sweep', [tokenA]), 'ClaimPeriodOpen')
    await rpc('evm_increaseTime', [3_601])
    await rpc('evm_mine')
    await send(keeper, d, call('proveTotal', [tokenB, 50n, table.proof(TOTAL_ACCOUNT, tokenB)]))
    await expectRevert(owner, d, fundCalldata(tokenB, 50n), 'ClaimPeriodOver')
    await expectRevert(accts[3]!, d, distributorClaimCalldata(accts[3]!, tokenB, 50n, table.proof(accts[3]!, tokenB)), 'ClaimPeriodOver')
    const gov = await balanceOf(tokenA, owner)
    await send(keeper, d, call('sweep', [tokenA]))
    expect(await balanceOf(tokenA, owner)).toBe(gov + 150n)
    expect(await balanceOf(tokenA, d)).toBe(0n)
    await expectRevert(keeper, d, call('sweep', [tokenA]), 'NothingToSweep')
  })

  it('without a registry, governance sets the root directly (once); setRestitution is refused', async () => {
    const free = (await deployDistributor({ rpcUrl: anvil.rpcUrl, owner })).address
    const dl = (await now()) + 600n
    await expectRevert(owner, free, setRestitutionCalldata(1n, dl), 'NoRegistry')
    await send(owner, free, call('setRoot', [table.tree.root, dl]))
    await expectRevert(owner, free, call('setRoot', [table.tree.root, dl]), 'RootAlreadySet')
    await send(keeper, free, call('proveTotal', [tokenB, 50n, table.proof(TOTAL_ACCOUNT, tokenB)]))
    await expectRevert(owner, free, fundCalldata(tokenB, 0n), 'ZeroAmount')
    await fund(free, tokenB, 20n)
    const b = await balanceOf(tokenB, accts[3]!)
    await send(keeper, free, distributorClaimCalldata(accts[3]!, tokenB, 50n, table.proof(accts[3]!, tokenB)))
    expect(await balanceOf(tokenB, accts[3]!)).toBe(b + 20n) // 50 × 20 / 50
    // the direct batch form of exclusion: one call for many accounts
    await send(owner, free, call('setExcluded', [[accts[1], accts[2]], true]))
    expect(await dview<boolean>(free, 'excluded', [accts[2]])).toBe(true)
    await expectRevert(accts[1]!, free, distributorClaimCalldata(accts[1]!, tokenA, 500n, table.proof(accts[1]!, tokenA)), 'Excluded')
  })
})
