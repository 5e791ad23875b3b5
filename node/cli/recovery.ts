import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { certificateJSON } from '../../protocol/certificate.ts'
import { parseOperatorSet } from '../../protocol/operator-set.ts'
import { exportJsonl } from '../../snapshot/export/records.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { fetchCertified, parseBlockQuery } from '../recovery/fetch.ts'
import { required, UsageError, type Command } from './command.ts'

const bigintJSON = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

export const fetchCommand: Command = {
  name: 'fetch',
  summary: 'Fetch a certified snapshot by block from untrusted gateways, verify certificate, blocks and stateRoot, and write it out.',
  usage: 'ark fetch --chain ID --adapter ID --block N|latest|before:N --trust operators.json --gateway URL [--gateway URL ...] --out DIR [--json]',
  options: {
    chain: { type: 'string', description: 'chain id' },
    adapter: { type: 'string', description: 'adapter id, e.g. perp-reference' },
    block: { type: 'string', description: 'N, latest, or before:N (the last certified checkpoint strictly before N)' },
    trust: { type: 'string', description: 'trusted operator-set file' },
    gateway: { type: 'string', multiple: true, description: 'archive node HTTP API / trustless gateway URL (tried in order)' },
    out: { type: 'string', description: 'output directory (must not exist; written atomically)' },
  },
  async run({ values, json, io, signal }) {
    const gateways = (values.gateway as string[] | undefined) ?? []
    if (gateways.length === 0) throw new UsageError(`--gateway is required\n\nusage: ${this.usage}`)
    const chain = required(values, 'chain', this)
    if (!/^[0-9]+$/.test(chain)) throw new UsageError('--chain must be a chain id (integer)')
    let trustJson: unknown
    try {
      trustJson = JSON.parse(await readFile(required(values, 'trust', this), 'utf8'))
    } catch (cause) {
      throw new InvalidInputError(`cannot read the trust file: ${(cause as Error).message}; pass an operator-set JSON ({"operators": [...], "threshold": N})`, { cause })
    }
    const out = resolve(required(values, 'out', this))
    if (existsSync(out)) throw new InvalidInputError(`${out} already exists; choose a new --out directory (fetch never mixes two snapshots in one directory)`)
    const r = await fetchCertified({ gateways, chainId: BigInt(chain), adapterId: required(values, 'adapter', this), query: parseBlockQuery(required(values, 'block', this)), trust: parseOperatorSet(trustJson), signal })
    // everything goes to a sibling temp dir renamed at the end: DIR is complete or absent
    const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`)
    await rm(tmp, { recursive: true, force: true })
    await mkdir(tmp, { recursive: true })
    try {
      const s = r.snapshot
      await writeFile(join(tmp, 'certificate.json'), `${JSON.stringify(certificateJSON(r.certificate), bigintJSON, 2)}\n`)
      await writeFile(join(tmp, 'snapshot.car'), r.car)
      let lines = ''
      for await (const l of exportJsonl(s)) lines += l
      await writeFile(join(tmp, 'accounts.jsonl'), lines)
      await writeFile(join(tmp, 'markets.json'), `${JSON.stringify(s.schema.markets.toJSON(await s.markets()), null, 2)}\n`)
      const summary = { block: s.root.block.number.toString(), blockHash: s.root.block.hash, chainId: s.root.block.chainId.toString(), adapter: s.root.adapter, snapshot: s.cid.toString(), certificate: r.certificateCid.toString(), stateRoot: s.root.stateRoot, accounts: s.root.accountCount, signers: r.certificate.signatures.map((x) => x.signer), weight: r.weight.toString(), source: r.source }
      await writeFile(join(tmp, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
      await rename(tmp, out)
      io.stdout(json ? `${JSON.stringify({ out, ...summary })}\n` : `verified snapshot of block ${summary.block} (${summary.accounts} accounts, weight ${summary.weight}) from ${summary.source}\n  certificate ${summary.certificate}\n  snapshot    ${summary.snapshot}\n  stateRoot   ${summary.stateRoot}\nwrote ${out}\n`)
    } catch (err) {
      await rm(tmp, { recursive: true, force: true })
      throw err
    }
  },
}
