import { resolve } from 'node:path'
import { redact } from '../../../snapshot/chain/errors.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { buildCitation, citationMarkdown } from '../../recovery/citation.ts'
import { openSnapshotDir } from '../../recovery/snapshot-dir.ts'
import { UsageError, type Command } from '../command.ts'
import { PROPOSAL_OPTIONS, proposalsFromOptions } from './cite-proposal.ts'
import { addressOption, TRUST_OPTIONS, trustFromOptions } from './trust-options.ts'

export const citeCommand: Command = {
  name: 'cite',
  summary: 'Governance citation of a fetched snapshot: a Markdown block for a proposal, the JSON calldata that anchors its certificate in the ArkRegistry, and (--governor/--safe) an executable Governor proposal or Safe batch.',
  usage: 'ark cite DIR [--registry 0x... [--rpc URL]] [--trust operators.json] [--gateway URL ...] [--out citation.json] [--markdown citation.md] [--governor 0x... --governor-out proposal.json] [--safe 0x... --safe-out batch.json] [--distributor 0x... --deadline UNIX [--distributor-root 0x...] [--token 0x... --amount N]] [--unpause 0x... ...] [--json]',
  options: {
    ...TRUST_OPTIONS,
    ...PROPOSAL_OPTIONS,
    gateway: { type: 'string', multiple: true, description: 'gateway base URL to link (the one in summary.json is added)' },
    out: { type: 'string', description: 'write the citation JSON (calldata and target) here, atomically' },
    markdown: { type: 'string', description: 'write the Markdown block here, atomically (it is printed otherwise)' },
  },
  positionals: [1, 1],
  async run({ values, positionals, json, io, signal }) {
    for (const g of (values.gateway as string[] | undefined) ?? []) {
      if (!/^https?:\/\/\S+$/.test(g)) throw new UsageError(`--gateway must be an http(s) URL, got ${JSON.stringify(redact(g))}…`)
      // a citation is published: a link must not carry credentials
      if (/^https?:\/\/[^/]*@/.test(g)) throw new UsageError(`--gateway ${redact(g)}: a cited link is public, give it without user:pass`)
    }
    const registry = addressOption(values, 'registry')
    const out = values.out === undefined ? null : resolve(values.out as string)
    const mdOut = values.markdown === undefined ? null : resolve(values.markdown as string)
    if (out !== null && out === mdOut) throw new UsageError('--out and --markdown must be different files')
    const d = await openSnapshotDir(resolve(positionals[0]!))
    const trust = await trustFromOptions(values, d.certificate, { required: false, registryIsTarget: true }, signal)
    const citation = buildCitation(d, { ...(registry === undefined ? {} : { registry }), gateways: (values.gateway as string[] | undefined) ?? [], ...(trust === undefined ? {} : { trust }) })
    const markdown = citationMarkdown(citation)
    const proposals = proposalsFromOptions(values, { citation, certificate: d.certificate, registry, json })
    // everything is computed and checked before anything is written
    if (out !== null) await writeFileAtomic(out, [`${JSON.stringify(citation, null, 2)}\n`], signal)
    if (mdOut !== null) await writeFileAtomic(mdOut, [markdown], signal)
    for (const p of proposals.files) await writeFileAtomic(p.path, [`${JSON.stringify(p.value, null, 2)}\n`], signal)
    if (json) io.stdout(`${JSON.stringify({ out, markdownOut: mdOut, citation, markdown, ...proposals.json })}\n`)
    else if (mdOut === null) io.stdout(markdown)
    else io.stdout(`wrote ${mdOut}${out === null ? '' : ` and ${out}`}\n`)
    if (!json && mdOut === null) io.stderr(out === null ? 'the anchoring calldata is in the citation JSON: pass --out citation.json (or --json)\n' : `wrote ${out}\n`)
    if (!json) for (const p of proposals.files) io.stderr(`wrote ${p.path}\n`)
  },
}
