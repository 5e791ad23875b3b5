import { resolve } from 'node:path'
import { addressToBytes } from '../../../snapshot/codec/hex.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { buildClaimBundle } from '../../recovery/claim-bundle.ts'
import { proofFromNode } from '../../recovery/node-proof.ts'
import { openSnapshotDir } from '../../recovery/snapshot-dir.ts'
import { parseBlockNumber } from '../../http/request.ts'
import { required, UsageError, type Command } from '../command.ts'

type RunContext = Parameters<Command['run']>[0]
import { addressOption, TRUST_OPTIONS, trustFromOptions } from './trust-options.ts'

export const recoveryProveCommand: Command = {
  name: 'prove',
  summary: 'Claim bundle for one account of a fetched snapshot: certificate, record, OpenZeppelin proof and RecoveryVault claim calldata; or one checked proof from an archive node (--node).',
  usage: 'ark prove --snapshot DIR --account 0x... [--value] [--vault 0x...] [--trust operators.json | --registry 0x... --rpc URL] [--out bundle.json] [--json]\n       ark prove --node URL --block N --account 0x... (--trust operators.json | --registry 0x... --rpc URL) [--out proof.json] [--json]',
  options: {
    snapshot: { type: 'string', description: 'directory written by "ark fetch" (certificate.json, snapshot.car, ...)' },
    account: { type: 'string', description: 'the claimant (20-byte 0x-hex address)' },
    value: { type: 'boolean', description: 'include the escape valuation (collateral + PnL at the certified marks − funding, options at intrinsic, floored at 0) with the market leaves and proofs that recompute it on-chain; schemas with valuation only (v4)' },
    vault: { type: 'string', description: 'RecoveryVault address to put in claim.to (the calldata is the same for any vault of this snapshot); for a v4 snapshot, the EscapeValuator (or a v4-aware vault) the valuation call goes to' },
    node: { type: 'string', description: 'archive node API URL: take the proof from its proof index (milliseconds) and check it here against the certificate, whose signatures must meet the trust root' },
    block: { type: 'string', description: 'with --node: the checkpoint block' },
    ...TRUST_OPTIONS,
    out: { type: 'string', description: 'write the bundle (or with --node the proof) here (atomically) instead of stdout' },
  },
  async run(ctx) {
    const { values, json, io, signal } = ctx
    if (values.node !== undefined) return proveFromNode(ctx, this)
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

/**
 * `--node`: the node's proof (its proof index answers in milliseconds where a bare CAR takes seconds
 * at 1M accounts), trusted for nothing: proofFromNode checks it against the certificate, and the
 * certificate's signatures must meet the trust root, so a trust root is required.
 */
async function proveFromNode({ values, json, io, signal }: RunContext, cmd: Command): Promise<void> {
  if (values.snapshot !== undefined) throw new UsageError(`give --snapshot DIR or --node URL, not both\n\nusage: ${cmd.usage}`)
  if (values.vault !== undefined) throw new UsageError(`--vault makes a claim bundle, which needs --snapshot DIR; with --node the output is the checked proof\n\nusage: ${cmd.usage}`)
  const account = addressToBytes(required(values, 'account', cmd), '--account')
  let block: bigint
  try {
    block = parseBlockNumber(required(values, 'block', cmd), '--block')
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`--block must be a checkpoint block number (a non-negative decimal integer)\n\nusage: ${cmd.usage}`)
  }
  const got = await proofFromNode(values.node as string, block, account, signal)
  const trust = await trustFromOptions(values, got.certificate, { required: true, usage: cmd.usage }, signal)
  const body = { ...got.proof, certificateCid: got.certificateCid.toString(), certificate: got.certificateJson }
  const out = values.out as string | undefined
  if (out !== undefined) await writeFileAtomic(resolve(out), [`${JSON.stringify(body, null, 2)}\n`], signal)
  const checked = `signatures weight ${trust!.weight} of threshold ${trust!.set.threshold} (${trust!.source})`
  if (out === undefined) io.stdout(json ? `${JSON.stringify(body)}\n` : `${JSON.stringify(body, null, 2)}\n`)
  else if (json) io.stdout(`${JSON.stringify({ out: resolve(out), block: got.proof.blockNumber, stateRoot: got.proof.stateRoot, proofVerified: true, certificateVerified: true })}\n`)
  else io.stdout(`wrote ${resolve(out)}\n  account   ${String(got.proof.value[0])} at block ${got.proof.blockNumber}\n  stateRoot ${got.proof.stateRoot} (proof checked here; ${checked})\n`)
}
