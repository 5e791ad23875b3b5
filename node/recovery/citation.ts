import { encodeFunctionData, getAddress, keccak256, type Hex } from 'viem'
import type { OperatorSet } from '../../protocol/operator-set.ts'
import { ARK_REGISTRY_ABI, submitCertificateCalldata } from '../chain/registry.ts'
import type { SnapshotDir } from './snapshot-dir.ts'

export const CITATION_FORMAT = 'ark.citation.v1'

export const SUBMIT_CERTIFICATE_SIGNATURE = 'submitCertificate((uint256,string,bytes32,uint64,bytes32,bytes,bytes32,uint32,uint8),address[],bytes[])'
export const RECORDED_ROOT_SIGNATURE = 'recordedRoot(string,bytes32,uint64)'
/** The registry records kinds apart; the 3-argument view reads kind 0, other kinds need this one. */
export const RECORDED_ROOT_BY_KIND_SIGNATURE = 'recordedRoot(string,bytes32,uint8,uint64)'

/**
 * What a governance proposal cites (`ark cite`): the certified checkpoint, who signed it with what
 * weight, where to fetch it, and the ArkRegistry call that anchors it on-chain plus the view that
 * checks the anchor. Integers are decimal strings, bytes 0x-hex.
 */
export interface Citation {
  format: typeof CITATION_FORMAT
  chainId: string
  adapter: { id: string; version: string; configHash: string }
  blockNumber: string
  blockHash: string
  /** snapshot root CID */
  snapshot: string
  /** certificate CID */
  certificate: string
  stateRoot: string
  specVersion: number
  kind: number
  accounts: number
  /** signers in certificate order; weight null when no trust root was given */
  signers: { address: string; weight: string | null }[]
  /** null unless the certificate was verified against `trust` */
  signedWeight: string | null
  threshold: string | null
  totalWeight: string | null
  /** the operator set the signatures were checked against, or null (not checked) */
  trust: string | null
  /** retrieval links (certificate block, snapshot CAR) per known gateway */
  links: { gateway: string; certificate: string; snapshot: string }[]
  /** send this to the ArkRegistry (`to` is null unless --registry was given) */
  transaction: { to: string | null; value: '0'; function: string; data: Hex; dataHash: Hex }
  /** eth_call this after the transaction: it returns `expect` once the certificate is recorded */
  check: { to: string | null; function: string; data: Hex; expect: string }
}

export interface CiteOptions {
  registry?: Hex
  gateways?: readonly string[]
  trust?: { set: OperatorSet; source: string; weight: bigint }
}

const httpUrl = /^https?:\/\/[^\s]+$/

/** The citation of an opened snapshot directory. */
export function buildCitation(d: SnapshotDir, o: CiteOptions = {}): Citation {
  const b = d.certificate.body
  const root = d.snapshot.root
  const gateways = [...(o.gateways ?? [])]
  const hinted = d.summary?.source
  if (typeof hinted === 'string' && httpUrl.test(hinted)) gateways.push(hinted)
  const uniq = [...new Set(gateways.map((g) => g.replace(/\/+$/, '')))]
  const data = submitCertificateCalldata(d.certificate)
  const to = o.registry === undefined ? null : getAddress(o.registry)
  return {
    format: CITATION_FORMAT,
    chainId: b.chainId.toString(),
    adapter: { id: b.adapterId, version: root.adapter.version, configHash: b.configHash.toLowerCase() },
    blockNumber: b.blockNumber.toString(),
    blockHash: b.blockHash.toLowerCase(),
    snapshot: b.snapshotCid.toString(),
    certificate: d.certificateCid.toString(),
    stateRoot: b.stateRoot.toLowerCase(),
    specVersion: b.specVersion,
    kind: b.kind,
    accounts: root.accountCount,
    signers: d.certificate.signatures.map((s) => ({ address: getAddress(s.signer), weight: o.trust === undefined ? null : (o.trust.set.weights.get(s.signer.toLowerCase() as never) ?? 0n).toString() })),
    signedWeight: o.trust?.weight.toString() ?? null,
    threshold: o.trust?.set.threshold.toString() ?? null,
    totalWeight: o.trust?.set.totalWeight.toString() ?? null,
    trust: o.trust?.source ?? null,
    links: uniq.map((g) => ({ gateway: g, certificate: `${g}/ipfs/${d.certificateCid.toString()}`, snapshot: `${g}/ipfs/${b.snapshotCid.toString()}?format=car` })),
    transaction: { to, value: '0', function: SUBMIT_CERTIFICATE_SIGNATURE, data, dataHash: keccak256(data) },
    check: b.kind === 0
      ? { to, function: RECORDED_ROOT_SIGNATURE, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'recordedRoot', args: [b.adapterId, b.configHash, b.blockNumber] }), expect: b.stateRoot.toLowerCase() }
      : { to, function: RECORDED_ROOT_BY_KIND_SIGNATURE, data: encodeFunctionData({ abi: ARK_REGISTRY_ABI, functionName: 'recordedRoot', args: [b.adapterId, b.configHash, b.kind, b.blockNumber] }), expect: b.stateRoot.toLowerCase() },
  }
}

const KIND_NAMES = ['scheduled', 'emergency', 'restitution']

/** A Markdown block for a governance proposal. */
export function citationMarkdown(c: Citation): string {
  const code = (s: string): string => `\`${s}\``
  const weight = c.signedWeight === null
    ? `${c.signers.length} signatures, **not checked here** (run \`ark cite\` with --trust or --registry and --rpc to check them)`
    : `${c.signedWeight} of threshold ${c.threshold} (total ${c.totalWeight}), checked against ${c.trust}`
  const lines = [
    `### Ark certified snapshot: ${code(c.adapter.id)} on chain ${c.chainId} at block ${c.blockNumber}`,
    '',
    '| | |',
    '|---|---|',
    `| Chain | ${c.chainId} |`,
    `| Block | ${c.blockNumber} |`,
    `| Block hash | ${code(c.blockHash)} |`,
    `| Adapter | ${code(c.adapter.id)} v${c.adapter.version}, configHash ${code(c.adapter.configHash)} |`,
    `| Snapshot CID | ${code(c.snapshot)} |`,
    `| Certificate CID | ${code(c.certificate)} |`,
    `| stateRoot | ${code(c.stateRoot)} |`,
    `| Accounts | ${c.accounts} |`,
    `| Checkpoint | ${KIND_NAMES[c.kind] ?? `kind ${c.kind}`}, snapshot spec v${c.specVersion} |`,
    `| Signed weight | ${weight} |`,
    '',
    '| Signer | Weight |',
    '|---|---|',
    ...c.signers.map((s) => `| ${code(s.address)} | ${s.weight ?? 'not checked'} |`),
    '',
  ]
  if (c.links.length > 0) {
    lines.push('Retrieve (content-addressed: any copy with these CIDs is the same data):', '')
    for (const l of c.links) lines.push(`- certificate: <${l.certificate}>`, `- snapshot CAR: <${l.snapshot}>`)
    lines.push('')
  }
  const target = c.transaction.to === null ? 'the ArkRegistry' : `the ArkRegistry at ${code(c.transaction.to)}`
  lines.push(
    `On-chain anchor: call ${code('submitCertificate')} on ${target} with the calldata of the citation JSON (keccak256 of the calldata ${code(c.transaction.dataHash)}).`,
    `Then ${code(c.kind === 0 ? `recordedRoot("${c.adapter.id}", ${c.adapter.configHash}, ${c.blockNumber})` : `recordedRoot("${c.adapter.id}", ${c.adapter.configHash}, ${c.kind}, ${c.blockNumber})`)} returns the stateRoot above.`,
    '',
    `Check independently: ${code(`ark fetch --chain ${c.chainId} --adapter ${c.adapter.id} --block ${c.blockNumber} --trust operators.json --gateway URL --out DIR`)} verifies the signatures, every block and the stateRoot.`,
  )
  return `${lines.join('\n')}\n`
}
