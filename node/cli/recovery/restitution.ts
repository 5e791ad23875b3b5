import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { certificateJSON, decodeCertificate } from '../../../protocol/certificate.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { readCar, writeCar } from '../../../snapshot/car/car.ts'
import { bigintReplacer } from '../../../snapshot/codec/json.ts'
import { entryToJSON } from '../../../snapshot/restitution/leaf.ts'
import type { Restitution } from '../../../snapshot/restitution/open.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { gatewaySource } from '../../recovery/gateway-source.ts'
import { fetchRestitution, openCertifiedRestitution } from '../../recovery/restitution.ts'
import { verifyAgainst } from '../../recovery/trust.ts'
import { UsageError, type Command } from '../command.ts'
import { TRUST_OPTIONS, trustRootFromOptions } from './trust-options.ts'

const USAGE = 'ark restitution (--certificate CID | --block N) --gateway URL... (--trust FILE | --registry ADDR --rpc URL) --out DIR | ark restitution --verify DIR (--trust FILE | …)'

function summaryOf(table: Restitution, certificateCid: CID, weight: bigint, source?: string): Record<string, unknown> {
  const r = table.root
  return {
    restitution: table.cid.toString(),
    certificate: certificateCid.toString(),
    root: r.root,
    chainId: r.chainId.toString(),
    adapter: r.adapter,
    before: { block: r.before.blockNumber.toString(), hash: r.before.blockHash, snapshot: r.before.snapshot.toString(), stateRoot: r.before.stateRoot },
    after: { block: r.after.blockNumber.toString(), hash: r.after.blockHash, snapshot: r.after.snapshot.toString(), stateRoot: r.after.stateRoot },
    exclusions: { count: r.exclusions.count, hash: r.exclusions.hash },
    rows: r.entryCount,
    totals: r.totals.map((t) => ({ asset: t.asset, amount: t.amount.toString() })),
    weight: weight.toString(),
    ...(source === undefined ? {} : { source }),
  }
}

async function* rowsJsonl(table: Restitution): AsyncGenerator<string> {
  for await (const e of table.leaves()) yield `${JSON.stringify(entryToJSON(e))}\n`
}

async function* withCertificate(certificate: CID, table: Restitution): AsyncGenerator<CID> {
  yield certificate
  yield* table.blockCids()
}

/**
 * `ark restitution`: the recovery desk's fetch and offline verification of a certified restitution
 * table (kind 2, PROTOCOL §18). Fetch writes DIR/restitution.car (certificate, then the table's
 * blocks), certificate.json, rows.jsonl (every leaf, total leaves first: account 0x0…0) and
 * summary.json, only after everything verified. --verify DIR checks such a directory again.
 */
export const restitutionCommand: Command = {
  name: 'restitution',
  summary: 'fetch or verify a certified restitution table (kind 2)',
  usage: USAGE,
  options: {
    certificate: { type: 'string', description: 'CID of the kind-2 certificate (GET /v1/checkpoints lists it with kind "restitution")' },
    block: { type: 'string', description: 'or: the table\'s after block; each gateway is asked for its kind-2 certificate there' },
    gateway: { type: 'string', multiple: true, description: 'archive node HTTP API / trustless gateway, untrusted (several: tried in order)' },
    out: { type: 'string', description: 'output directory (must not exist)' },
    verify: { type: 'string', description: 'verify a directory written by an earlier fetch instead' },
    ...TRUST_OPTIONS,
  },
  async run({ values, json, io, signal }) {
    const trust = (await trustRootFromOptions(values, { required: true, usage: USAGE }))!
    const verifyDir = values.verify as string | undefined
    if (verifyDir !== undefined) {
      const car = readCar(await readFile(join(verifyDir, 'restitution.car')).catch((cause: unknown) => {
        throw new ArkError('IO', `cannot read ${join(verifyDir, 'restitution.car')}: ${(cause as Error).message}; pass a directory "ark restitution --out" wrote`, { cause })
      }))
      const certCid = car.roots[0]
      if (certCid === undefined) throw new ArkError('INVALID_INPUT', 'restitution.car names no root; it is not a restitution fetch')
      const bytes = car.store.get(certCid)
      const certificate = decodeCertificate(bytes)
      const { weight } = await verifyAgainst(trust, certificate, signal)
      const table = await openCertifiedRestitution(certificate, car.store)
      const s = summaryOf(table, certCid, weight)
      io.stdout(json ? `${JSON.stringify({ ok: true, ...s })}\n` : `OK: restitution ${table.cid.toString()} (${table.root.entryCount} rows, root ${table.root.root}) is certified by weight ${weight}\n`)
      return
    }
    const cidText = values.certificate as string | undefined
    const blockText = values.block as string | undefined
    const gateways = (values.gateway as string[] | undefined) ?? []
    const out = values.out as string | undefined
    if ((cidText === undefined) === (blockText === undefined) || gateways.length === 0 || out === undefined) throw new UsageError(`give --certificate CID or --block N (one), at least one --gateway and --out (or --verify DIR)\n\nusage: ${USAGE}`)
    if (blockText !== undefined && !/^[0-9]{1,20}$/.test(blockText)) throw new UsageError(`--block must be the table's after block (a number), got ${JSON.stringify(blockText)}`)
    let named: { certificate: CID } | { block: bigint }
    try {
      named = cidText !== undefined ? { certificate: CID.parse(cidText) } : { block: BigInt(blockText!) }
    } catch (cause) {
      throw new UsageError(`--certificate is not a CID: ${(cause as Error).message}`)
    }
    if (existsSync(out)) throw new UsageError(`--out ${out} exists; give a new directory`)
    const staging = `${out}.staging`
    const f = await fetchRestitution({ gateways, source: (u) => gatewaySource(u), ...named, trust, staging, signal, ...(json ? {} : { onNotice: (m: string) => io.stderr(`${m}\n`) }) })
    await mkdir(out, { recursive: true })
    const certificate = f.certificateCid
    await writeFileAtomic(join(out, 'restitution.car'), writeCar([certificate, f.table.cid], withCertificate(certificate, f.table), { get: (cid) => (cid.equals(certificate) ? f.certificateBytes : f.staging.memory.get(cid)), put: () => {}, has: () => true }), signal)
    await writeFileAtomic(join(out, 'certificate.json'), [`${JSON.stringify(certificateJSON(f.certificate), bigintReplacer, 2)}\n`], signal)
    await writeFileAtomic(join(out, 'rows.jsonl'), rowsJsonl(f.table), signal)
    const s = summaryOf(f.table, certificate, f.weight, f.source)
    await writeFileAtomic(join(out, 'summary.json'), [`${JSON.stringify(s, null, 2)}\n`], signal)
    await f.staging.remove()
    io.stdout(json ? `${JSON.stringify(s)}\n` : `fetched restitution ${f.table.cid.toString()} from ${f.source}: ${f.table.root.entryCount} rows, root ${f.table.root.root}, certified by weight ${f.weight}; written to ${out}\n`)
  },
}
