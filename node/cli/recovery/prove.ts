import { resolve } from 'node:path'
import { addressToBytes } from '../../../snapshot/codec/hex.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { buildClaimBundle } from '../../recovery/claim-bundle.ts'
import { openSnapshotDir } from '../../recovery/snapshot-dir.ts'
import { required, type Command } from '../command.ts'
import { addressOption, TRUST_OPTIONS, trustFromOptions } from './trust-options.ts'

export const recoveryProveCommand: Command = {
  name: 'prove',
  summary: 'Claim bundle for one account of a fetched snapshot: certificate, record, OpenZeppelin proof and RecoveryVault claim calldata.',
  usage: 'ark prove --snapshot DIR --account 0x... [--value] [--vault 0x...] [--trust operators.json | --registry 0x... --rpc URL] [--out bundle.json] [--json]',
  options: {
    snapshot: { type: 'string', description: 'directory written by "ark fetch" (certificate.json, snapshot.car, ...)' },
    account: { type: 'string', description: 'the claimant (20-byte 0x-hex address)' },
    value: { type: 'boolean', description: 'include the escape valuation (collateral + PnL at the certified marks − funding, options at intrinsic, floored at 0) with the market leaves and proofs that recompute it on-chain; schemas with valuation only (v4)' },
    vault: { type: 'string', description: 'RecoveryVault address to put in claim.to (the calldata is the same for any vault of this snapshot); for a v4 snapshot, the EscapeValuator (or a v4-aware vault) the valuation call goes to' },
    ...TRUST_OPTIONS,
    out: { type: 'string', description: 'write the bundle here (atomically) instead of stdout' },
  },
  async run({ values, json, io, signal }) {
    const dir = resolve(required(values, 'snapshot', this))
    const account = addressToBytes(required(values, 'account', this), '--account')
    const vault = addressOption(values, 'vault')
    const d = await openSnapshotDir(dir)
    const trust = await trustFromOptions(values, d.certificate, { required: false }, signal)
    const bundle = await buildClaimBundle(d, account, { ...(vault === undefined ? {} : { vault }), value: values.value === true })
    const out = values.out as string | undefined
    if (out === undefined) {
      io.stdout(json ? `${JSON.stringify(bundle)}\n` : `${JSON.stringify(bundle, null, 2)}\n`)
      return
    }
    const path = resolve(out)
    await writeFileAtomic(path, [`${JSON.stringify(bundle, null, 2)}\n`], signal)
    const balances = bundle.leaf.assets.map((asset, i) => ({ asset, amount: bundle.leaf.amounts[i]! }))
    const valued = bundle.valuation?.valuation
    if (json) io.stdout(`${JSON.stringify({ out: path, account: bundle.account, block: bundle.blockNumber, stateRoot: bundle.stateRoot, leafHash: bundle.leafHash, balances, ...(valued === undefined ? {} : { valuation: valued }), certificateVerified: trust !== undefined })}\n`)
    else io.stdout(`wrote ${path}\n  account   ${bundle.account} at block ${bundle.blockNumber}\n  stateRoot ${bundle.stateRoot}\n  balances  ${balances.map((b) => `${b.amount} of ${b.asset}`).join(', ') || 'none'}\n${valued === undefined ? '' : `  value     ${valued.value} (equity ${valued.equity}, options ${valued.optionsValue}, fees ${valued.fees}; quote units)\n`}  signatures ${trust === undefined ? 'not checked (pass --trust or --registry with --rpc)' : `weight ${trust.weight} of threshold ${trust.set.threshold} (${trust.source})`}\n`)
  },
}
