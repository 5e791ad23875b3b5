/**
 * The public SDK as a package (issue 12): `npm run build:sdk` emits JavaScript + declarations into dist/,
 * `npm pack dist` packs it, the tarball is installed into a temporary project, and a script there —
 * plain JavaScript run with type stripping switched off — imports `ark/certificate` and `ark/snapshot`
 * by package name and verifies a certificate and an account proof made by Ark's own code.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../../node/contracts/compile.ts'
import { encodeCertificate } from '../../protocol/certificate.ts'
import { writeCar } from '../../snapshot/car/car.ts'
import { operatorSetJSON, makeOperatorSet } from '../../protocol/operator-set.ts'
import { attestationBodyOf, buildTestSnapshot, certify, testOperators } from '../support/recovery.ts'

const run = promisify(execFile)
const NODE = process.execPath
let dir: string

beforeAll(async () => {
  // inside the repo (a .tmp-* directory, git-ignored) so that, when the npm cache cannot serve the
  // dependencies offline, they resolve from Ark's own node_modules above it
  dir = await mkdtemp(join(REPO_ROOT, '.tmp-sdk-pack-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('SDK package', () => {
  it('builds, packs, installs from the tarball and verifies a certificate and a proof without TypeScript', { timeout: 120_000 }, async () => {
    await run('npm', ['run', 'build:sdk'], { cwd: REPO_ROOT, env: { ...process.env, PATH: `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH}` } })
    await run('npm', ['pack', join(REPO_ROOT, 'dist'), '--pack-destination', dir], { cwd: dir })
    const tgz = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!
    expect(tgz).toBe('ark-0.1.0.tgz')
    const project = join(dir, 'project')
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'recovery-tool', private: true, type: 'module' }))
    try {
      await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, tgz)], { cwd: project })
    } catch (err) {
      // a machine whose npm cache lacks Ark's dependencies (CI fills it with `npm ci`): install the tarball's
      // contents as npm would put them, dependencies from the tree above
      if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr))) throw err
      await mkdir(join(project, 'node_modules/ark'), { recursive: true })
      await run('tar', ['-xzf', join(dir, tgz), '-C', join(project, 'node_modules/ark'), '--strip-components=1'])
    }
    expect((await readdir(join(project, 'node_modules/ark/snapshot/sdk'))).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])

    // a certified snapshot made by Ark's source
    const { ops } = testOperators('sdk pack')
    const key = `0x${'ab'.repeat(20)}`
    const { snapshot, store } = await buildTestSnapshot(
      { block: { chainId: 31337n, number: 9n, hash: `0x${'09'.repeat(32)}`, timestamp: 1_700_000_000n }, adapter: { id: 'perp-reference', version: '2.0.0', configHash: `0x${'01'.repeat(32)}` } },
      [{ key, record: { collateral: [{ asset: `0x${'cd'.repeat(20)}`, amount: 5n }], perps: [], options: [] } }],
    )
    const cert = await certify(attestationBodyOf(snapshot), ops.slice(0, 3))
    await writeFile(join(project, 'certificate.cbor'), encodeCertificate(cert).bytes)
    await writeFile(join(project, 'operators.json'), JSON.stringify(operatorSetJSON(makeOperatorSet(new Map(ops.map((o) => [o.address, 1n]))))))
    const chunks: Uint8Array[] = []
    for await (const c of writeCar([snapshot.cid], snapshot.blockCids(), store)) chunks.push(c)
    await writeFile(join(project, 'snapshot.car'), Buffer.concat(chunks))
    await writeFile(
      join(project, 'check.js'),
      `import { readFile } from 'node:fs/promises'
import { decodeCertificate, parseOperatorSet, verifyCertificate } from 'ark/certificate'
import { readCar, Snapshot, schemaById, decodeRoot, proveAccount, verifyAccountProof } from 'ark/snapshot'
import { hexToBytes } from 'ark/adapter'
const cert = decodeCertificate(await readFile('certificate.cbor'))
const { weight } = await verifyCertificate(cert, parseOperatorSet(JSON.parse(await readFile('operators.json', 'utf8'))))
const car = readCar(await readFile('snapshot.car'))
const cid = car.roots[0]
const root = decodeRoot(cid, car.store.get(cid))
const s = await Snapshot.open(car.store, cid, schemaById(root.schema.id, root.schema.version))
await s.verify()
if (s.cid.toString() !== cert.body.snapshotCid.toString() || s.root.stateRoot !== cert.body.stateRoot.toLowerCase()) throw new Error('not the certified snapshot')
const proof = await proveAccount(s, hexToBytes(${JSON.stringify(key)}))
verifyAccountProof(proof, { schema: s.schema, expectedRoot: cert.body.stateRoot })
let tampered = false
try { verifyAccountProof({ ...proof, proof: [...proof.proof].reverse().concat(['0x' + '00'.repeat(32)]) }, { expectedRoot: cert.body.stateRoot }) } catch { tampered = true }
console.log(JSON.stringify({ weight: weight.toString(), accounts: s.root.accountCount, proofChecked: true, tamperedRejected: tampered }))
`,
    )
    const { stdout } = await run(NODE, ['--no-experimental-strip-types', 'check.js'], { cwd: project })
    expect(JSON.parse(stdout)).toEqual({ weight: '3', accounts: 1, proofChecked: true, tamperedRejected: true })

    // the declarations: a TypeScript consumer type-checks against them, and a wrong call is a type error
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] } }))
    await writeFile(join(project, 'ok.ts'), `import type { Adapter, AdapterState, RecordSchema } from 'ark/adapter'\nimport { Snapshot, verifyAccountProof } from 'ark/snapshot'\nimport type { Certificate } from 'ark/certificate'\nimport { fetchCertified } from 'ark/fetch'\nexport type T = [Adapter, AdapterState<unknown, unknown>, RecordSchema, Certificate, typeof fetchCertified]\nexport const f = (s: Snapshot<unknown, unknown>): string => s.cid.toString() + typeof verifyAccountProof\n`)
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc')
    await run(NODE, [tsc, '-p', '.'], { cwd: project })
    await writeFile(join(project, 'bad.ts'), `import { verifyAccountProof } from 'ark/snapshot'\nverifyAccountProof(42)\n`)
    const bad = await run(NODE, [tsc, '-p', '.'], { cwd: project }).then(() => '', (err: { stdout?: string }) => err.stdout ?? 'failed')
    expect(bad).toMatch(/bad\.ts.*TS2345/)
  })
})
