/**
 * Governance that executes, end to end on anvil: a snapshot certified by test operators is cited with
 * `ark cite --governor` (in-process CLI); the emitted proposal goes through a real OpenZeppelin
 * Governor (Settings, CountingSimple, Votes, QuorumFraction, TimelockControl) + TimelockController +
 * ERC20Votes token: propose → vote → queue → execute. The execution anchors the certificate, opens
 * and funds the Distributor and unpauses the venue; victims then claim pro rata. Every number is read
 * back from the chain.
 *
 * The restitution table (kind 2) is built on another branch: here the Distributor is opened with
 * `--distributor-root`, the root of a known table built with @openzeppelin/merkle-tree from the
 * certified snapshot's balances (test/contracts/restitution-fixture.ts), in the shared leaf encoding.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFunctionResult, encodeDeployData, encodeFunctionData, getAddress, keccak256, parseAbi, toHex, type Abi, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, deployRegistry } from '../../node/chain/registry.ts'
import { decodeDistributorError, deployDistributor, DISTRIBUTOR_ABI, distributorClaimCalldata, proRata, TOTAL_ACCOUNT } from '../../node/chain/distributor.ts'
import { loadArtifact, REPO_ROOT, type CompileOptions } from '../../node/contracts/compile.ts'
import { GOVERNOR_ABI, type GovernorProposal } from '../../node/recovery/proposal-governor.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { RecordInput } from '../../snapshot/state/build.ts'
import { attestationBodyOf, buildTestSnapshot, certify, runArk, testOperators, writeFetchedDir } from '../support/recovery.ts'
import { txHelpers } from '../support/tx.ts'
import { restitutionTree } from '../contracts/restitution-fixture.ts'

const TEST_SOL: CompileOptions = { sourcesDir: join(REPO_ROOT, 'test/contracts/sol'), outDir: join(REPO_ROOT, '.cache/contracts-governance-test') }
const TIMELOCK_ABI = parseAbi(['function grantRole(bytes32 role, address account)', 'function PROPOSER_ROLE() view returns (bytes32)', 'function CANCELLER_ROLE() view returns (bytes32)'])
const VOTES_ABI = parseAbi(['function delegate(address delegatee)', 'function getVotes(address account) view returns (uint256)'])
const PAUSABLE_ABI = parseAbi(['function paused() view returns (bool)'])
const VOTING_DELAY = 2n
const VOTING_PERIOD = 10n
const MIN_DELAY = 120n
const E6 = 10n ** 6n

let anvil: AnvilInstance
const { rpc, send } = txHelpers(() => anvil.rpcUrl, decodeDistributorError)
let tmp: string
let accts: Hex[]
let deployer: Hex
let voter: Hex
let erc20Abi: Abi

async function view<T>(abi: Abi, to: Hex, functionName: string, args: readonly unknown[] = []): Promise<T> {
  const raw = await rpc<Hex>('eth_call', [{ to, data: encodeFunctionData({ abi, functionName, args } as never) }, 'latest'])
  return decodeFunctionResult({ abi, functionName, data: raw } as never) as T
}
const balanceOf = (token: Hex, who: Hex): Promise<bigint> => view<bigint>(erc20Abi, token, 'balanceOf', [who])

async function deploy(name: string, args: readonly unknown[], compile?: CompileOptions): Promise<Hex> {
  const art = await loadArtifact(name, compile)
  const r = await send(deployer, null, encodeDeployData({ abi: art.abi, bytecode: art.bytecode, args } as never))
  return getAddress(r.contractAddress!)
}

async function mine(blocks: bigint): Promise<void> {
  await rpc('anvil_mine', [toHex(blocks)])
}

beforeAll(async () => {
  anvil = await startAnvil({})
  accts = (await rpc<Hex[]>('eth_accounts')).map((a) => getAddress(a))
  deployer = accts[0]!
  voter = accts[1]!
  erc20Abi = (await loadArtifact('MockERC20')).abi
  tmp = await mkdtemp(join(tmpdir(), 'ark-governance-e2e-'))
}, 180_000)

afterAll(async () => {
  await anvil?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('ark cite --governor, executed by an OpenZeppelin Governor + Timelock', () => {
  it('propose → vote → queue → execute anchors the certificate, opens and funds the distributor, unpauses; victims claim pro rata', async () => {
    // governance: votes token, timelock, governor (the timelock owns everything recovery touches)
    const votes = await deploy('GovTestVotes', [voter, 1_000_000n * 10n ** 18n], TEST_SOL)
    await send(voter, votes, encodeFunctionData({ abi: VOTES_ABI, functionName: 'delegate', args: [voter] }))
    const timelock = await deploy('GovTestTimelock', [MIN_DELAY, [], ['0x0000000000000000000000000000000000000000'], deployer], TEST_SOL)
    const governor = await deploy('GovTestGovernor', [votes, timelock, Number(VOTING_DELAY), Number(VOTING_PERIOD)], TEST_SOL)
    for (const role of ['PROPOSER_ROLE', 'CANCELLER_ROLE'] as const) {
      await send(deployer, timelock, encodeFunctionData({ abi: TIMELOCK_ABI, functionName: 'grantRole', args: [await view<Hex>(TIMELOCK_ABI, timelock, role), governor] }))
    }
    const { ops } = testOperators('ark governance e2e operator')
    const registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, owner: timelock, operators: ops.map((o) => ({ address: o.address, weight: 1n })), threshold: 3n })).address
    const distributor = (await deployDistributor({ rpcUrl: anvil.rpcUrl, owner: timelock })).address
    const venue = await deploy('GovTestPausable', [timelock], TEST_SOL)
    const usd = await deploy('MockERC20', ['USDX', 'USDX', 6])

    // the certified pre-incident snapshot: three victims' USDX collateral
    await rpc('evm_mine')
    const h = await rpc<{ number: Hex; hash: Hex; timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
    const configHash = keccak256(toHex('governance e2e config'))
    const victims: [Hex, bigint][] = [[accts[2]!, 1_200n * E6], [accts[3]!, 750n * E6 + 3n], [accts[4]!, 49n * E6]]
    const records: RecordInput<AccountRecord>[] = victims.map(([account, amount]) => ({ key: account, record: { collateral: [{ asset: usd, amount }], perps: [], options: [] } }))
    const meta = { block: { chainId: 31337n, number: BigInt(h.number), hash: h.hash, timestamp: BigInt(h.timestamp) }, adapter: { id: 'perp-reference', version: '1', configHash } }
    const { snapshot, store } = await buildTestSnapshot(meta, records)
    const dir = join(tmp, 'snap')
    await writeFetchedDir(dir, snapshot, store, await certify(attestationBodyOf(snapshot), ops.slice(0, 3)), { weight: 3n })

    // the restitution table: what each victim is owed (here: its certified balance), and the total
    const table = restitutionTree(victims.map(([account, amount]) => ({ account, asset: usd, amount })))
    const total = table.totals.get(usd)!
    const funding = (total * 3n) / 5n // the treasury covers 60% now
    await send(deployer, usd, encodeFunctionData({ abi: erc20Abi, functionName: 'mint', args: [timelock, funding] }))
    const now = BigInt(h.timestamp)
    const deadline = now + 30n * 86_400n

    const r = await runArk(['cite', dir, '--registry', registry, '--governor', governor, '--distributor', distributor, '--distributor-root', table.tree.root, '--deadline', deadline.toString(), '--token', usd, '--amount', funding.toString(), '--unpause', venue, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const p = (JSON.parse(r.stdout) as { governor: GovernorProposal }).governor
    expect(p.targets).toEqual([registry, distributor, usd, distributor, venue])

    // propose: the id the chain computes is the one ark printed
    expect((await view<bigint>(GOVERNOR_ABI, governor, 'hashProposal', [p.targets, p.values.map(BigInt), p.calldatas, p.descriptionHash])).toString()).toBe(p.proposalId)
    await send(voter, governor, p.calls.propose.data)
    const id = BigInt(p.proposalId)
    expect(await view<number>(GOVERNOR_ABI, governor, 'state', [id])).toBe(0) // Pending
    await mine(VOTING_DELAY + 1n)
    await send(voter, governor, encodeFunctionData({ abi: GOVERNOR_ABI, functionName: 'castVote', args: [id, 1] }))
    await mine(VOTING_PERIOD + 1n)
    expect(await view<number>(GOVERNOR_ABI, governor, 'state', [id])).toBe(4) // Succeeded
    await send(voter, governor, p.calls.queue.data)
    expect(await view<number>(GOVERNOR_ABI, governor, 'state', [id])).toBe(5) // Queued
    await rpc('evm_increaseTime', [Number(MIN_DELAY) + 1])
    await rpc('evm_mine')
    expect(await view<boolean>(PAUSABLE_ABI, venue, 'paused')).toBe(true)
    await send(accts[7]!, governor, p.calls.execute.data) // anyone executes
    expect(await view<number>(GOVERNOR_ABI, governor, 'state', [id])).toBe(7) // Executed

    // what the execution did, read back from the chain
    expect(await view<Hex>(ARK_REGISTRY_ABI, registry, 'recordedRoot', ['perp-reference', configHash, BigInt(h.number)])).toBe(snapshot.root.stateRoot)
    expect(await view<Hex>(DISTRIBUTOR_ABI as Abi, distributor, 'root')).toBe(table.tree.root)
    expect(await view<bigint>(DISTRIBUTOR_ABI as Abi, distributor, 'claimDeadline')).toBe(deadline)
    expect(await balanceOf(usd, distributor)).toBe(funding)
    expect(await balanceOf(usd, timelock)).toBe(0n)
    expect(await view<boolean>(PAUSABLE_ABI, venue, 'paused')).toBe(false)

    // victims claim pro rata: floor(amount × funding / total) each, in any order
    await send(accts[8]!, distributor, encodeFunctionData({ abi: DISTRIBUTOR_ABI, functionName: 'proveTotal', args: [usd, total, table.proof(TOTAL_ACCOUNT, usd)] }))
    let paid = 0n
    for (const [account, amount] of [...victims].reverse()) {
      const before = await balanceOf(usd, account)
      await send(account, distributor, distributorClaimCalldata(account, usd, amount, table.proof(account, usd)))
      const got = (await balanceOf(usd, account)) - before
      expect(got).toBe(proRata(amount, funding, total))
      expect(got).toBe((amount * funding) / total) // the same share of each leaf, rounded down
      expect(got * 5n).toBeLessThanOrEqual(amount * 3n) // about 60%
      paid += got
    }
    expect(await balanceOf(usd, distributor)).toBe(funding - paid)
    expect(funding - paid).toBeLessThan(BigInt(victims.length)) // only rounding dust stays
  }, 120_000)
})
