/**
 * RecoveryVault on a real anvil: a snapshot certified by test operators is anchored with the calldata
 * `ark cite` writes, a vault is funded, and accounts claim with the bundles `ark prove` writes (the
 * CLI runs in-process). Every rejection is checked by its named error, as a call and as a mined
 * transaction that changes nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeEventLog, decodeFunctionResult, encodeDeployData, encodeFunctionData, getAddress, keccak256, toHex, type Abi, type Hex } from 'viem'
import { startAnvil, type AnvilInstance } from '../../node/chain/anvil.ts'
import { ARK_REGISTRY_ABI, deployRegistry } from '../../node/chain/registry.ts'
import { claimCalldata, claimInputFromLeaf, decodeVaultError, deployRecoveryVault, RECOVERY_VAULT_ABI } from '../../node/chain/recovery-vault.ts'
import { loadArtifact } from '../../node/contracts/compile.ts'
import { verifyClaimBundle, type ClaimBundle } from '../../node/recovery/claim-bundle.ts'
import type { Citation } from '../../node/recovery/citation.ts'
import type { AccountRecord } from '../../snapshot/schema/derivatives.ts'
import type { RecordInput } from '../../snapshot/state/build.ts'
import { attestationBodyOf, buildTestSnapshot, certify, errorOf, runArk, testOperators, writeFetchedDir } from '../support/recovery.ts'
import { abiSignatures, txHelpers } from '../support/tx.ts'

let anvil: AnvilInstance
const { rpc, sendRaw, send, revertOf } = txHelpers(() => anvil.rpcUrl, decodeVaultError)
let accts: Hex[]
let owner: Hex
let tmp: string
let dir: string
let registry: Hex
let tokenA: Hex
let tokenB: Hex
let erc20Abi: Abi
let vaultArtifactAbi: Abi
let block: { number: bigint; hash: Hex }
const configHash = keccak256(toHex('recovery vault test config'))
const { ops } = testOperators()
const E6 = 10n ** 6n
const E18 = 10n ** 18n






/** Reverts with `error` as a call, and as a mined transaction that changes no token balance. */
async function expectRevert(from: Hex, to: Hex, data: Hex, error: string): Promise<void> {
  expect(await revertOf(from, to, data)).toBe(error)
  const before = await balanceOf(tokenA, from)
  expect((await sendRaw(from, to, data)).status).toBe('0x0')
  expect(await balanceOf(tokenA, from)).toBe(before)
}

async function view<T>(abi: Abi, to: Hex, functionName: string, args: readonly unknown[] = []): Promise<T> {
  const raw = await rpc<Hex>('eth_call', [{ to, data: encodeFunctionData({ abi, functionName, args } as never) }, 'latest'])
  return decodeFunctionResult({ abi, functionName, data: raw } as never) as T
}

const balanceOf = (token: Hex, who: Hex): Promise<bigint> => view<bigint>(erc20Abi, token, 'balanceOf', [who])
const erc20 = (functionName: string, args: readonly unknown[]): Hex => encodeFunctionData({ abi: erc20Abi, functionName, args } as never)

async function deployToken(symbol: string, decimals: number): Promise<Hex> {
  const art = await loadArtifact('MockERC20')
  const r = await send(owner, null, encodeDeployData({ abi: art.abi, bytecode: art.bytecode, args: [symbol, symbol, decimals] }))
  return getAddress(r.contractAddress!)
}

/** A vault for the test snapshot (or another block), funded from the owner's mint. */
async function vault(o: { asset?: Hex; snapshotBlock?: bigint; fund?: bigint; totalOwed?: bigint } = {}): Promise<Hex> {
  const asset = o.asset ?? tokenA
  // by default governance owes what it funds: every claim is paid in full while the balance lasts
  const v = await deployRecoveryVault({ rpcUrl: anvil.rpcUrl, registry, adapterId: 'perp-reference', configHash, snapshotBlock: o.snapshotBlock ?? block.number, asset, owner, totalOwed: o.totalOwed ?? o.fund ?? 0n })
  if ((o.fund ?? 0n) > 0n) {
    await send(owner, asset, erc20('mint', [owner, o.fund]))
    await send(owner, asset, erc20('approve', [v.address, o.fund]))
    const r = await send(owner, v.address, encodeFunctionData({ abi: RECOVERY_VAULT_ABI, functionName: 'fund', args: [o.fund!] }))
    const ev = decodeEventLog({ abi: RECOVERY_VAULT_ABI, data: r.logs.at(-1)!.data, topics: r.logs.at(-1)!.topics as [Hex, ...Hex[]] })
    expect(ev).toMatchObject({ eventName: 'Funded', args: { from: getAddress(owner), amount: o.fund } })
  }
  return v.address
}

async function prove(account: Hex, extra: string[] = []): Promise<ClaimBundle> {
  const r = await runArk(['prove', '--snapshot', dir, '--account', account, '--json', ...extra])
  expect(r.code, r.stderr).toBe(0)
  return verifyClaimBundle(JSON.parse(r.stdout))
}

/** The claimants' records: [2] holds A and B, [3] A only, [4] B only, [5] a little A and a perp; plus 150 others. */
function records(): RecordInput<AccountRecord>[] {
  const [a, b] = [tokenA.toLowerCase(), tokenB.toLowerCase()].sort()
  const aFirst = a === tokenA.toLowerCase()
  const both = (amtA: bigint, amtB: bigint): { asset: string; amount: bigint }[] => (aFirst ? [{ asset: a!, amount: amtA }, { asset: b!, amount: amtB }] : [{ asset: a!, amount: amtB }, { asset: b!, amount: amtA }])
  const out: RecordInput<AccountRecord>[] = [
    { key: accts[2]!, record: { collateral: both(1_000n * E6, 5n * E18), perps: [], options: [] } },
    { key: accts[3]!, record: { collateral: [{ asset: tokenA, amount: 2_500_000_123n }], perps: [], options: [] } },
    { key: accts[4]!, record: { collateral: [{ asset: tokenB, amount: 7n * E18 }], perps: [], options: [] } },
    { key: accts[5]!, record: { collateral: [{ asset: tokenA, amount: 1n }], perps: [{ market: 1n, size: -3n * E18, entryPrice: 2_000n * 10n ** 8n, fundingIndex: -5n }], options: [] } },
  ]
  for (let i = 0; i < 150; i++) out.push({ key: keccak256(toHex(`filler ${i}`)).slice(0, 42), record: { collateral: [{ asset: tokenA, amount: BigInt(i + 1) * E6 }], perps: [], options: [] } })
  return out
}

beforeAll(async () => {
  anvil = await startAnvil({})
  accts = (await rpc<Hex[]>('eth_accounts')).map((a) => getAddress(a))
  owner = accts[0]!
  erc20Abi = (await loadArtifact('MockERC20')).abi
  vaultArtifactAbi = (await loadArtifact('RecoveryVault')).abi
  tokenA = await deployToken('USDX', 6)
  tokenB = await deployToken('WETH', 18)
  registry = (await deployRegistry({ rpcUrl: anvil.rpcUrl, owner, operators: ops.map((o) => ({ address: o.address, weight: 1n })), threshold: 3n })).address
  await rpc('evm_mine')
  const h = await rpc<{ number: Hex; hash: Hex; timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
  block = { number: BigInt(h.number), hash: h.hash }
  const meta = { block: { chainId: 31337n, number: block.number, hash: block.hash, timestamp: BigInt(h.timestamp) }, adapter: { id: 'perp-reference', version: '1', configHash } }
  const { snapshot, store } = await buildTestSnapshot(meta, records())
  const cert = await certify(attestationBodyOf(snapshot), ops.slice(0, 3))
  tmp = await mkdtemp(join(tmpdir(), 'ark-vault-'))
  dir = join(tmp, 'snap')
  await writeFetchedDir(dir, snapshot, store, cert, { weight: 3n })
}, 180_000)

afterAll(async () => {
  await anvil?.stop()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

describe('RecoveryVault', () => {
  it('the hand-written ABI in node/chain/recovery-vault.ts matches the compiled contract', () => {
    const sigs = abiSignatures
    for (const type of ['function', 'event', 'error']) {
      const compiled = sigs(vaultArtifactAbi, type)
      for (const s of sigs(RECOVERY_VAULT_ABI as Abi, type)) expect(compiled, `${type} ${s}`).toContain(s)
    }
    // every custom error the contract declares is decodable
    expect(sigs(vaultArtifactAbi, 'error').filter((s) => !sigs(RECOVERY_VAULT_ABI as Abi, 'error').includes(s))).toEqual([])
  })

  it('an unrecorded root reverts RootNotRecorded; the `ark cite` calldata anchors the certificate', async () => {
    const v = await vault({ fund: 10_000n * E6 })
    const bundle = await prove(accts[3]!)
    await expectRevert(accts[3]!, v, bundle.claim.data as Hex, 'RootNotRecorded')

    const r = await runArk(['cite', dir, '--registry', registry, '--rpc', anvil.rpcUrl, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const { citation } = JSON.parse(r.stdout) as { citation: Citation }
    expect(citation.transaction.to).toBe(registry)
    expect(citation.signedWeight).toBe('3')
    expect(citation.threshold).toBe('3')
    const receipt = await send(accts[1]!, citation.transaction.to as Hex, citation.transaction.data)
    const ev = decodeEventLog({ abi: ARK_REGISTRY_ABI, data: receipt.logs[0]!.data, topics: receipt.logs[0]!.topics as [Hex, ...Hex[]] })
    expect(ev.eventName).toBe('CertificateSubmitted')
    // the check call of the citation now returns the stateRoot
    expect(await rpc<Hex>('eth_call', [{ to: citation.check.to, data: citation.check.data }, 'latest'])).toBe(citation.check.expect)
    expect(await view<Hex>(RECOVERY_VAULT_ABI as Abi, v, 'stateRoot')).toBe(bundle.stateRoot)
  })

  describe('claims against the anchored snapshot', () => {
    let v: Hex
    beforeAll(async () => {
      v = await vault({ fund: 10_000n * E6 })
    })

    it('nobody can claim another account\'s leaf', async () => {
      const victim = await prove(accts[3]!)
      // the leaf is recomputed with msg.sender as the account
      await expectRevert(accts[6]!, v, victim.claim.data as Hex, 'InvalidProof')
      await expectRevert(accts[2]!, v, victim.claim.data as Hex, 'InvalidProof')
    })

    it('each account claims exactly its snapshot balance of the vault\'s asset, with `ark prove` bundles', async () => {
      const expected: [Hex, bigint][] = [[accts[2]!, 1_000n * E6], [accts[3]!, 2_500_000_123n], [accts[5]!, 1n]]
      for (const [account, amount] of expected) {
        const bundle = await prove(account, ['--vault', v])
        expect(bundle.claim.to).toBe(v)
        expect(bundle.claim.from).toBe(getAddress(account))
        expect(await view<Hex>(RECOVERY_VAULT_ABI as Abi, v, 'leafOf', [bundle.leaf.account, bundle.leaf.recordHash, bundle.leaf.assets, bundle.leaf.amounts.map(BigInt)])).toBe(bundle.leafHash)
        const before = await balanceOf(tokenA, account)
        const r = await send(account, bundle.claim.to as Hex, bundle.claim.data as Hex)
        expect(await balanceOf(tokenA, account)).toBe(before + amount)
        const logs = r.logs.filter((l) => getAddress(l.address) === v).map((l) => decodeEventLog({ abi: RECOVERY_VAULT_ABI, data: l.data, topics: l.topics as [Hex, ...Hex[]] }))
        expect(logs).toEqual([{ eventName: 'Claimed', args: { account: getAddress(account), amount, stateRoot: bundle.stateRoot } }])
        expect(await view<boolean>(RECOVERY_VAULT_ABI as Abi, v, 'claimed', [account])).toBe(true)
      }
      expect(await view<bigint>(RECOVERY_VAULT_ABI as Abi, v, 'totalClaimed')).toBe(1_000n * E6 + 2_500_000_123n + 1n)
      expect(await balanceOf(tokenA, v)).toBe(10_000n * E6 - (1_000n * E6 + 2_500_000_123n + 1n))
    })

    it('a second claim reverts AlreadyClaimed', async () => {
      const bundle = await prove(accts[2]!)
      await expectRevert(accts[2]!, v, bundle.claim.data as Hex, 'AlreadyClaimed')
    })

    it('a wrong leaf or proof reverts InvalidProof; misaligned arrays LengthMismatch', async () => {
      // an account that is not in the snapshot gets no bundle at all
      const none = await runArk(['prove', '--snapshot', dir, '--account', accts[6]!, '--json'])
      expect(none.code).toBe(1)
      expect(errorOf(none).code).toBe('KEY_NOT_FOUND')
      const bundle = await prove(accts[5]!) // already claimed in the vault above: use a fresh vault
      const fresh = await vault({ fund: 10n * E6 })
      const c = claimInputFromLeaf(bundle.leafEncoding, bundle.value, bundle.proof)
      const flip = (h: Hex): Hex => `${h.slice(0, -2)}${((Number.parseInt(h.slice(-2), 16) ^ 1) & 0xff).toString(16).padStart(2, '0')}` as Hex
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, amounts: [c.amounts[0]! + 1n] }), 'InvalidProof')
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, recordHash: flip(c.recordHash) }), 'InvalidProof')
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, proof: [flip(c.proof[0]!), ...c.proof.slice(1)] }), 'InvalidProof')
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, proof: c.proof.slice(1) }), 'InvalidProof')
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, assets: [tokenB], amounts: c.amounts }), 'InvalidProof')
      await expectRevert(accts[5]!, fresh, claimCalldata({ ...c, amounts: [...c.amounts, 1n] }), 'LengthMismatch')
      // the untouched bundle still works there
      await send(accts[5]!, fresh, bundle.claim.data as Hex)
      expect(await balanceOf(tokenA, fresh)).toBe(10n * E6 - 1n)
    })

    it('an account without the vault\'s asset reverts NothingToClaim; a vault for that asset pays it', async () => {
      const bundle = await prove(accts[4]!)
      await expectRevert(accts[4]!, v, bundle.claim.data as Hex, 'NothingToClaim')
      const vb = await vault({ asset: tokenB, fund: 20n * E18 })
      const before = await balanceOf(tokenB, accts[4]!)
      await send(accts[4]!, vb, bundle.claim.data as Hex)
      expect(await balanceOf(tokenB, accts[4]!)).toBe(before + 7n * E18)
      // accts[2] holds both assets: the B vault pays its B
      await send(accts[2]!, vb, (await prove(accts[2]!)).claim.data as Hex)
      expect(await balanceOf(tokenB, vb)).toBe(20n * E18 - 12n * E18)
    })

    it('an underfunded vault pays pro rata (amount × received / total), a top-up pays the rest; no total, no claim', async () => {
      const total = 1_000n * E6 + 2_500_000_123n + 1n + 11_325n * E6 // every A balance of the snapshot
      const u = await vault({ fund: 1_000n * E6, totalOwed: total })
      const bundle = await prove(accts[3]!)
      const b0 = await balanceOf(tokenA, accts[3]!)
      await send(accts[3]!, u, bundle.claim.data as Hex)
      const first = (2_500_000_123n * 1_000n * E6) / total
      expect(await balanceOf(tokenA, accts[3]!)).toBe(b0 + first)
      expect(await view<bigint>(RECOVERY_VAULT_ABI as Abi, u, 'paidOf', [accts[3]])).toBe(first)
      // a second claim at the same funding pays nothing more
      await expectRevert(accts[3]!, u, bundle.claim.data as Hex, 'AlreadyClaimed')
      // another claimant gets the same share of its own balance, whatever the order
      const b2 = await balanceOf(tokenA, accts[2]!)
      await send(accts[2]!, u, (await prove(accts[2]!)).claim.data as Hex)
      expect(await balanceOf(tokenA, accts[2]!)).toBe(b2 + (1_000n * E6 * 1_000n * E6) / total)
      // governance tops up (a plain transfer counts): the earlier claimant claims the rest of its full balance
      await send(owner, tokenA, erc20('mint', [u, total]))
      await send(accts[3]!, u, bundle.claim.data as Hex)
      expect(await balanceOf(tokenA, accts[3]!)).toBe(b0 + 2_500_000_123n)

      const noTotal = await vault({ fund: 1n, totalOwed: 0n })
      expect(await revertOf(accts[3]!, noTotal, bundle.claim.data as Hex)).toBe('TotalNotSet')
      const setTotal = (t: bigint): Hex => encodeFunctionData({ abi: RECOVERY_VAULT_ABI, functionName: 'setTotalOwed', args: [t] })
      expect(await revertOf(accts[3]!, noTotal, setTotal(1n))).toBe('OwnableUnauthorizedAccount')
      expect(await revertOf(owner, noTotal, setTotal(0n))).toBe('ZeroTotal')
      await send(owner, noTotal, setTotal(total))
      expect(await revertOf(owner, noTotal, setTotal(total))).toBe('TotalAlreadySet')
      // funded 1 of `total`: accts[3]'s share rounds down to 0, so nothing is due yet
      expect(await revertOf(accts[3]!, noTotal, bundle.claim.data as Hex)).toBe('InsufficientFunds')
    })
  })

  it('a vault for another block of the same adapter has no recorded root; the snapshot block is set once by the owner', async () => {
    const bundle = await prove(accts[3]!)
    const other = await vault({ snapshotBlock: block.number + 1n, fund: 10_000n * E6 })
    await expectRevert(accts[3]!, other, bundle.claim.data as Hex, 'RootNotRecorded')

    const unset = await vault({ snapshotBlock: 0n, fund: 10_000n * E6 })
    await expectRevert(accts[3]!, unset, bundle.claim.data as Hex, 'SnapshotBlockNotSet')
    const setBlock = (b: bigint): Hex => encodeFunctionData({ abi: RECOVERY_VAULT_ABI, functionName: 'setSnapshotBlock', args: [b] })
    expect(await revertOf(accts[1]!, unset, setBlock(block.number))).toBe('OwnableUnauthorizedAccount')
    expect(await revertOf(owner, unset, setBlock(0n))).toBe('ZeroBlock')
    await send(owner, unset, setBlock(block.number))
    expect(await revertOf(owner, unset, setBlock(block.number))).toBe('SnapshotBlockAlreadySet')
    await send(accts[3]!, unset, bundle.claim.data as Hex)
    expect(await view<bigint>(RECOVERY_VAULT_ABI as Abi, unset, 'totalClaimed')).toBe(2_500_000_123n)
  })

  it('governance can bar an account (Excluded) and re-admit it; only the owner', async () => {
    const x = await vault({ fund: 10_000n * E6 })
    const bundle = await prove(accts[2]!)
    const exclude = (on: boolean): Hex => encodeFunctionData({ abi: RECOVERY_VAULT_ABI, functionName: 'setExcluded', args: [accts[2]!, on] })
    expect(await revertOf(accts[2]!, x, exclude(false))).toBe('OwnableUnauthorizedAccount')
    const r = await send(owner, x, exclude(true))
    expect(decodeEventLog({ abi: RECOVERY_VAULT_ABI, data: r.logs[0]!.data, topics: r.logs[0]!.topics as [Hex, ...Hex[]] })).toEqual({ eventName: 'ExclusionSet', args: { account: getAddress(accts[2]!), excluded: true } })
    await expectRevert(accts[2]!, x, bundle.claim.data as Hex, 'Excluded')
    await send(owner, x, exclude(false))
    await send(accts[2]!, x, bundle.claim.data as Hex)
    expect(await balanceOf(tokenA, x)).toBe(9_000n * E6)
    // many accounts in one call
    const batch = encodeFunctionData({ abi: RECOVERY_VAULT_ABI, functionName: 'setExcludedBatch', args: [[accts[3]!, accts[5]!], true] })
    expect(await revertOf(accts[2]!, x, batch)).toBe('OwnableUnauthorizedAccount')
    expect((await send(owner, x, batch)).logs).toHaveLength(2)
    await expectRevert(accts[3]!, x, (await prove(accts[3]!)).claim.data as Hex, 'Excluded')
    await expectRevert(accts[5]!, x, (await prove(accts[5]!)).claim.data as Hex, 'Excluded')
  })

  it('deployment rejects a zero registry or asset', async () => {
    await expect(deployRecoveryVault({ rpcUrl: anvil.rpcUrl, registry, adapterId: 'perp-reference', configHash, asset: '0x0000000000000000000000000000000000000000' })).rejects.toThrow(/ZeroAddress/)
    await expect(deployRecoveryVault({ rpcUrl: anvil.rpcUrl, registry: '0x0000000000000000000000000000000000000000', adapterId: 'perp-reference', configHash, asset: tokenA })).rejects.toThrow(/ZeroAddress/)
  })

  it('`ark prove --trust` checks the signatures: a set the signers are not in is refused', async () => {
    const file = join(tmp, 'wrong-set.json')
    await writeFile(file, JSON.stringify({ operators: testOperators('someone else').ops.map((o) => ({ address: o.address, weight: 1 })) }))
    const r = await runArk(['prove', '--snapshot', dir, '--account', accts[3]!, '--trust', file, '--json'])
    expect(r.code).toBe(1)
    expect(errorOf(r).message).toMatch(/does not verify against .*not in the operator set/)
    const ok = await runArk(['prove', '--snapshot', dir, '--account', accts[3]!, '--registry', registry, '--rpc', anvil.rpcUrl, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
  })
})
