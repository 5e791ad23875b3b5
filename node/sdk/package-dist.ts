/**
 * Writes dist/package.json after `tsc -p tsconfig.build.json` (npm run build:sdk): the published form of
 * the SDK, whose `exports` name the emitted JavaScript and declarations (the source tree's own
 * package.json points at the .ts sources, which Node 24 runs directly). `npm pack dist` packs it.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from '../contracts/compile.ts'
import { writeFileAtomic } from '../fs/atomic.ts'

/** Public entry points: subpath -> source file (without .ts). */
export const SDK_ENTRIES: Readonly<Record<string, string>> = Object.freeze({
  './adapter': 'snapshot/sdk/adapter',
  './snapshot': 'snapshot/sdk/engine',
  './certificate': 'protocol/sdk/certificate',
  './fetch': 'node/sdk/fetch',
})

export async function writeDistPackage(dist = join(REPO_ROOT, 'dist')): Promise<string> {
  const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; description: string; license: string; dependencies: Record<string, string> }
  // the `node` package is Ark's pinned runtime for its own CLI, not something an SDK user installs
  const { node: _runtime, ...dependencies } = root.dependencies
  const pkg = {
    name: root.name,
    version: root.version,
    description: `${root.description} (SDK: adapter API, snapshot engine, certificate verification, fetch)`,
    license: root.license,
    type: 'module',
    engines: { node: '>=22' },
    exports: Object.fromEntries([...Object.entries(SDK_ENTRIES).map(([k, v]) => [k, { types: `./${v}.d.ts`, default: `./${v}.js` }]), ['./package.json', './package.json']]),
    dependencies,
  }
  const path = join(dist, 'package.json')
  await writeFileAtomic(path, [`${JSON.stringify(pkg, null, 2)}\n`])
  return path
}

if (import.meta.main) {
  writeDistPackage().then(
    (p) => process.stdout.write(`wrote ${p}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
