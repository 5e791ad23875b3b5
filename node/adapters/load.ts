import { readdir, readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ArkError } from '../../snapshot/ark-error.ts'
import { adapters as builtinAdapters } from '../../snapshot/adapters/registry.ts'
import type { Adapter } from '../../snapshot/adapters/types.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { schemaKey, schemas as builtinSchemas } from '../../snapshot/schema/registry.ts'
import type { RecordSchema } from '../../snapshot/schema/types.ts'

/**
 * Adapters as modules (SPEC §7.1): an adapter is an ES module — an npm package or a local path —
 * exporting `adapter` (or a default export) that is an `Adapter`, and optionally `schemas`: older
 * record-schema versions it can still read. Ark's built-in adapters are the same thing shipped
 * with Ark, named by id. `ark snapshot build --adapter`, the node config's `adapter.module` and
 * every tool that opens a snapshot resolve through here; a snapshot's schema (root id + version)
 * is looked up among the built-ins, the modules named in ARK_ADAPTERS, and the installed packages
 * that declare `"ark": {"adapter": "<entry>"}` in their package.json.
 */

export interface AdapterModule {
  /** what was asked for: an id, a package name or a path */
  spec: string
  /** the file imported (undefined for a built-in) */
  file: string | undefined
  adapter: Adapter
  /** every schema the module can read: the adapter's own first */
  schemas: RecordSchema[]
}

export interface ResolveOptions {
  /** where package names and relative paths are resolved from (default: the process's cwd) */
  cwd?: string
  /** environment (ARK_ADAPTERS); default process.env */
  env?: NodeJS.ProcessEnv
}

const loaded = new Map<string, Promise<AdapterModule>>()

const isPath = (spec: string): boolean => spec.startsWith('.') || isAbsolute(spec) || spec.startsWith('file:')

/** An adapter by built-in id, package name or path. */
export async function loadAdapter(spec: string, opts: ResolveOptions = {}): Promise<Adapter> {
  return (await loadAdapterModule(spec, opts)).adapter
}

export async function loadAdapterModule(spec: string, opts: ResolveOptions = {}): Promise<AdapterModule> {
  const builtin = builtinAdapters.get(spec)
  if (builtin !== undefined) return { spec, file: undefined, adapter: builtin, schemas: [builtin.schema as RecordSchema] }
  if (spec === '' || /\s/.test(spec)) throw new InvalidInputError(`adapter ${JSON.stringify(spec)} is neither a built-in id (${[...builtinAdapters.keys()].join(', ')}) nor a module name or path`)
  const file = await resolveModuleFile(spec, opts.cwd ?? process.cwd())
  let p = loaded.get(file)
  if (p === undefined) {
    p = importAdapter(spec, file)
    loaded.set(file, p)
    p.catch(() => loaded.delete(file))
  }
  return p
}

async function importAdapter(spec: string, file: string): Promise<AdapterModule> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  } catch (cause) {
    throw new InvalidInputError(`cannot load adapter module ${spec} (${file}): ${(cause as Error).message}; it must be an ES module that runs on this Node`, { cause })
  }
  const adapter = (mod.adapter ?? mod.default) as Adapter | undefined
  checkAdapter(adapter, spec)
  const extra = mod.schemas === undefined ? [] : mod.schemas
  if (!Array.isArray(extra)) throw new InvalidInputError(`adapter module ${spec}: "schemas" must be an array of RecordSchema (older versions it reads)`)
  for (const s of extra) checkSchema(s, `adapter module ${spec} schemas[]`)
  return { spec, file, adapter, schemas: [adapter.schema as RecordSchema, ...(extra as RecordSchema[])] }
}

function checkSchema(s: unknown, what: string): asserts s is RecordSchema {
  const o = s as Record<string, unknown> | null
  const missing: string[] = []
  if (o === null || typeof o !== 'object') throw new InvalidInputError(`${what} is not a RecordSchema object`)
  if (typeof o.id !== 'string' || o.id === '') missing.push('id (string)')
  if (!Number.isSafeInteger(o.version)) missing.push('version (integer)')
  if (!Number.isSafeInteger(o.keyLength) || (o.keyLength as number) < 1) missing.push('keyLength (positive integer)')
  if (!Array.isArray(o.leafEncoding)) missing.push('leafEncoding (ABI types)')
  for (const f of ['encode', 'decode', 'leaf', 'toJSON', 'fromJSON', 'toCsvRows']) if (typeof o[f] !== 'function') missing.push(`${f}()`)
  if (!Array.isArray(o.csvHeader)) missing.push('csvHeader')
  const m = o.markets as Record<string, unknown> | undefined
  if (m === null || typeof m !== 'object' || typeof m.encode !== 'function' || typeof m.decode !== 'function' || typeof m.toJSON !== 'function') missing.push('markets {encode, decode, toJSON}')
  if (missing.length > 0) throw new InvalidInputError(`${what} is not a valid RecordSchema: missing or wrong ${missing.join(', ')} (SPEC §7)`)
}

function checkAdapter(a: unknown, spec: string): asserts a is Adapter {
  const o = a as Record<string, unknown> | undefined
  if (o === null || typeof o !== 'object') throw new InvalidInputError(`adapter module ${spec} exports no adapter: export const adapter: Adapter = {…} (or a default export); SPEC §7`)
  const missing: string[] = []
  for (const f of ['id', 'version', 'description']) if (typeof o[f] !== 'string' || o[f] === '') missing.push(`${f} (string)`)
  for (const f of ['parseConfig', 'configJSON', 'startBlock', 'contracts', 'createState']) if (typeof o[f] !== 'function') missing.push(`${f}()`)
  if (missing.length > 0) throw new InvalidInputError(`adapter module ${spec} exports an adapter missing ${missing.join(', ')}; SPEC §7 lists every member`)
  if (builtinAdapters.has(o.id as string)) throw new InvalidInputError(`adapter module ${spec} uses the id ${JSON.stringify(o.id)} of a built-in adapter; choose another id`)
  checkSchema(o.schema, `adapter ${String(o.id)} schema`)
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false)
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false)
}

/** The file an adapter package loads: package.json `ark.adapter`, else the `exports` "." import entry, else `main`, else index.js. */
async function packageEntry(dir: string): Promise<string> {
  let pkg: { ark?: { adapter?: unknown }; exports?: unknown; main?: unknown }
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as typeof pkg
  } catch {
    return join(dir, 'index.js')
  }
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e
    if (e !== null && typeof e === 'object') {
      const o = e as Record<string, unknown>
      return pick(o['.'] ?? o.import ?? o.default ?? o.node)
    }
    return undefined
  }
  const entry = (typeof pkg.ark?.adapter === 'string' ? pkg.ark.adapter : undefined) ?? pick(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : undefined) ?? 'index.js'
  return resolve(dir, entry)
}

/** A path (file or package directory) or a package name found in node_modules from `cwd` upwards, then next to Ark. */
async function resolveModuleFile(spec: string, cwd: string): Promise<string> {
  if (isPath(spec)) {
    const p = spec.startsWith('file:') ? new URL(spec).pathname : resolve(cwd, spec)
    if (await isFile(p)) return p
    if (await isDir(p)) return packageEntry(p)
    throw new InvalidInputError(`adapter module ${spec} not found (${p}); pass the path of the module file or package directory`)
  }
  const [scope, name, ...sub] = spec.split('/')
  const pkgName = scope!.startsWith('@') ? `${scope}/${name}` : scope!
  const rest = scope!.startsWith('@') ? sub : [name, ...sub].filter((x) => x !== undefined)
  const starts = [cwd, dirname(new URL(import.meta.url).pathname)]
  for (const start of starts) {
    for (let d = resolve(start); ; d = dirname(d)) {
      const dir = join(d, 'node_modules', pkgName)
      if (await isDir(dir)) {
        if (rest.length === 0) return packageEntry(dir)
        const f = join(dir, ...(rest as string[]))
        if (await isFile(f)) return f
      }
      if (dirname(d) === d) break
    }
  }
  throw new InvalidInputError(`adapter module ${spec} is not installed (no node_modules/${pkgName} from ${cwd} upwards); npm install ${pkgName}, or pass a path (./my-adapter/index.js)`)
}

/** Modules named in ARK_ADAPTERS (comma-separated) and installed packages declaring `"ark": {"adapter": …}`. */
async function installedModules(opts: ResolveOptions): Promise<{ specs: string[]; modules: AdapterModule[] }> {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const specs = (env.ARK_ADAPTERS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (let d = resolve(cwd); ; d = dirname(d)) {
    const nm = join(d, 'node_modules')
    let names: string[] = []
    try {
      names = await readdir(nm)
    } catch {
      // no node_modules here
    }
    const dirs: string[] = []
    for (const n of names) {
      if (n.startsWith('@')) dirs.push(...(await readdir(join(nm, n)).catch(() => [] as string[])).map((m) => `${n}/${m}`))
      else if (!n.startsWith('.')) dirs.push(n)
    }
    for (const n of dirs) {
      const pkg = await readFile(join(nm, n, 'package.json'), 'utf8').then((t) => JSON.parse(t) as { ark?: { adapter?: unknown } }, () => undefined)
      if (typeof pkg?.ark?.adapter === 'string' && !specs.includes(join(nm, n))) specs.push(join(nm, n))
    }
    if (dirname(d) === d) break
  }
  const modules: AdapterModule[] = []
  for (const s of specs) modules.push(await loadAdapterModule(s, { cwd }))
  return { specs, modules }
}

/**
 * The record schema a snapshot root names (`root.schema.id`, `.version`), from the built-in
 * schemas or an installed adapter module. Unknown: an error saying which adapter wrote it and
 * how to make its module available.
 */
export async function schemaFor(id: string, version: number, opts: ResolveOptions & { writtenBy?: { id: string; version: string } } = {}): Promise<RecordSchema> {
  const key = schemaKey(id, version)
  const builtin = builtinSchemas.get(key)
  if (builtin !== undefined) return builtin
  const { specs, modules } = await installedModules(opts)
  for (const m of modules) {
    const s = m.schemas.find((x) => x.id === id && x.version === version)
    if (s !== undefined) return s
  }
  const by = opts.writtenBy === undefined ? '' : ` The snapshot was written by adapter ${JSON.stringify(opts.writtenBy.id)} version ${opts.writtenBy.version}.`
  throw new ArkError(
    'UNSUPPORTED_VERSION',
    `record schema ${JSON.stringify(id)} version ${version} is not known to Ark (built-in: ${[...builtinSchemas.keys()].join(', ')}) nor to an installed adapter module (${specs.length === 0 ? 'none installed' : specs.join(', ')}).${by} Install the adapter module that provides it (npm install <its package>; the package declares "ark": {"adapter": "<entry>"}) or name it with ARK_ADAPTERS=<package or path>.`,
  )
}
