import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress, keccak256, toHex, type Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import type { AttestationBody } from '../../protocol/attestation.ts'
import type { Certificate } from '../../protocol/certificate.ts'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { TOTAL_ACCOUNT, RESTITUTION_LEAF_ENCODING } from '../../node/chain/distributor.ts'
import { certify } from '../support/recovery.ts'

/** One row of a restitution table: what `account` is owed in `asset`. */
export interface Owed {
  account: Hex
  asset: Hex
  amount: bigint
}

/**
 * A restitution tree built from a known table with @openzeppelin/merkle-tree, in the shared leaf
 * encoding (CONTRACTS.md: `(account, asset, amount)` plus one total leaf per asset with account 0).
 * Stands in for the certified table (snapshot/restitution, built on another branch): the contracts
 * only see the root and the leaves, which are the same.
 */
export function restitutionTree(rows: readonly Owed[]): { tree: StandardMerkleTree<[string, string, bigint]>; totals: Map<Hex, bigint>; proof: (account: Hex, asset: Hex) => Hex[] } {
  const totals = new Map<Hex, bigint>()
  for (const r of rows) totals.set(getAddress(r.asset), (totals.get(getAddress(r.asset)) ?? 0n) + r.amount)
  const values: [string, string, bigint][] = [...rows.map((r): [string, string, bigint] => [getAddress(r.account), getAddress(r.asset), r.amount]), ...[...totals].map(([a, t]): [string, string, bigint] => [TOTAL_ACCOUNT, a, t])]
  const tree = StandardMerkleTree.of(values, [...RESTITUTION_LEAF_ENCODING])
  const proof = (account: Hex, asset: Hex): Hex[] => {
    for (const [i, v] of tree.entries()) if (v[0] === getAddress(account) && v[1] === getAddress(asset)) return tree.getProof(i) as Hex[]
    throw new Error(`no leaf for ${account} ${asset}`)
  }
  return { tree, totals, proof }
}

/** A kind-2 (restitution) certificate of `root` at a past block, signed by `signers`. */
export async function restitutionCertificate(o: { root: Hex; block: { number: bigint; hash: Hex }; adapterId: string; configHash: Hex; chainId?: bigint }, signers: readonly PrivateKeyAccount[]): Promise<Certificate> {
  const body: AttestationBody = {
    chainId: o.chainId ?? 31337n,
    adapterId: o.adapterId,
    configHash: o.configHash,
    blockNumber: o.block.number,
    blockHash: o.block.hash,
    snapshotCid: encodeBlock({ type: 'ark.test.restitution', root: o.root }).cid,
    stateRoot: o.root,
    specVersion: 1,
    kind: 2,
  }
  return certify(body, signers)
}

export const testConfigHash = (tag: string): Hex => keccak256(toHex(tag))
