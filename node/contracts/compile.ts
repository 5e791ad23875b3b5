import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { readFile, readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Abi, Hex } from 'viem'
import { writeFileAtomic } from '../fs/atomic.ts'
import { CompileError } from './compile-error.ts'

/**
 * Compiles Solidity with the npm `solc` package (no compiler downloads) and keeps the artifacts in
 * `.cache/contracts/<ContractName>.json`. The cache key covers every source in the import closure
 * (local files and `@openzeppelin/...` files from node_modules), the solc version and the settings,
 * so a second run with nothing changed only reads JSON.
 *
 * The compiler is the one the sources' `pragma solidity` lines allow: a protocol that pins
 * `0.8.19` is compiled by solc 0.8.19, found as the npm package `solc` or an alias
 * `solc-0.8.19` (`npm install solc-0.8.19@npm:solc@0.8.19`) next to the sources or in Ark's
 * node_modules. Sources outside Ark's tree resolve their imports from their own node_modules and
 * cache their artifacts outside Ark's tree (`$XDG_CACHE_HOME/ark/contracts/…`).
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const DEFAULT_SOURCES_DIR = join(REPO_ROOT, 'deploy/reference-protocol/contracts')
/** Ark's own contracts (ArkRegistry); compiled together with DEFAULT_SOURCES_DIR by default. */
export const PROTOCOL_SOURCES_DIR = join(REPO_ROOT, 'protocol/contracts')
export const DEFAULT_SOURCES_DIRS: readonly string[] = Object.freeze([DEFAULT_SOURCES_DIR, PROTOCOL_SOURCES_DIR])
export const DEFAULT_OUT_DIR = join(REPO_ROOT, '.cache/contracts')

export interface CompilerSettings {
  optimizer: { enabled: boolean; runs: number }
  viaIR: boolean
  /** Pinned below solc's newest default so the bytecode runs on any anvil hardfork since cancun. */
  evmVersion: string
}

export const DEFAULT_COMPILER_SETTINGS: CompilerSettings = Object.freeze({
  optimizer: Object.freeze({ enabled: true, runs: 200 }),
  viaIR: false,
  evmVersion: 'cancun',
})

export interface CompileOptions {
  /** Directory whose `*.sol` files (recursively) are compiled; default both deploy/reference-protocol/contracts and protocol/contracts. */
  sourcesDir?: string
  /** Explicit source files instead of a directory. */
  sources?: string[]
  /** Where artifacts go; default `<repo>/.cache/contracts` for Ark's sources, a user cache directory for sources outside Ark's tree. */
  outDir?: string
  settings?: Partial<CompilerSettings>
  /** Recompile even when the cache key matches. */
  force?: boolean
}

export interface Artifact {
  contractName: string
  /** Source unit name (repo-relative path for local files). */
  sourceName: string
  abi: Abi
  bytecode: Hex
  deployedBytecode: Hex
  solcVersion: string
  cacheKey: string
}

export interface CompileResult {
  artifacts: Record<string, Artifact>
  cacheKey: string
  cacheHit: boolean
  outDir: string
  /** Compiler warnings (empty on a cache hit). */
  warnings: string[]
  /** The solc package that compiled (or would compile) the sources, e.g. `solc` or `solc-0.8.19`. */
  compiler: string
  solcVersion: string
}

interface Manifest {
  cacheKey: string
  solcVersion: string
  settings: CompilerSettings
  sources: string[]
  contracts: string[]
}

const MANIFEST = '.manifest.json'
const requireFromRepo = createRequire(join(REPO_ROOT, 'package.json'))

/** A directory to resolve packages from: node_modules there and in its parents (Node's rule). */
const requireFrom = (dir: string): NodeJS.Require => createRequire(join(dir, 'noop.js'))

interface Compiler {
  /** package name: `solc` or an alias `solc-X.Y.Z` */
  name: string
  version: string
  require: NodeJS.Require
}

/** Installed solc packages visible from `dirs` (then Ark's own): `solc` and aliases named `solc-X.Y.Z`. */
function installedCompilers(dirs: readonly string[]): Compiler[] {
  const found = new Map<string, Compiler>()
  for (const dir of [...dirs, REPO_ROOT]) {
    const req = requireFrom(dir)
    for (let d = dir; ; d = dirname(d)) {
      const nm = join(d, 'node_modules')
      let names: string[] = []
      try {
        names = readdirSync(nm).filter((n) => n === 'solc' || /^solc-[0-9]+\.[0-9]+\.[0-9]+$/.test(n))
      } catch {
        // no node_modules at this level
      }
      for (const name of names) {
        if (found.has(name)) continue
        try {
          const version = (JSON.parse(readFileSync(join(nm, name, 'package.json'), 'utf8')) as { version: string }).version
          found.set(name, { name, version, require: req })
        } catch {
          // a broken install is skipped; the error below lists what was usable
        }
      }
      if (dirname(d) === d) break
    }
  }
  return [...found.values()]
}

type Semver = [number, number, number]
const parseVersion = (v: string): Semver | undefined => {
  const m = /^([0-9]+)\.([0-9]+)\.([0-9]+)$/.exec(v)
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])]
}
const cmp = (a: Semver, b: Semver): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

/** Whether `version` satisfies a Solidity version pragma (`0.8.19`, `=0.8.19`, `^0.8.0`, `>=0.8.0 <0.9.0`, `~0.8.1`, `a || b`). */
export function satisfiesPragma(version: string, pragma: string): boolean {
  const v = parseVersion(version)
  if (v === undefined) return false
  return pragma.split('||').some((alt) =>
    alt.trim().split(/\s+/).filter(Boolean).every((c) => {
      const m = /^(\^|~|>=|<=|>|<|=)?\s*([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?$/.exec(c)
      if (m === null) return false
      const want: Semver = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)]
      const d = cmp(v, want)
      switch (m[1]) {
        case '^':
          return d >= 0 && (want[0] > 0 ? v[0] === want[0] : want[1] > 0 ? v[0] === 0 && v[1] === want[1] : v[0] === 0 && v[1] === 0 && v[2] === want[2])
        case '~':
          return d >= 0 && v[0] === want[0] && v[1] === want[1]
        case '>=':
          return d >= 0
        case '<=':
          return d <= 0
        case '>':
          return d > 0
        case '<':
          return d < 0
        default:
          return d === 0
      }
    }),
  )
}

const PRAGMA_RE = /\bpragma\s+solidity\s+([^;]+);/g

function pragmasOf(sources: Map<string, string>): { unit: string; pragma: string }[] {
  const out: { unit: string; pragma: string }[] = []
  for (const [unit, content] of sources) {
    const code = content.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '')
    for (const m of code.matchAll(PRAGMA_RE)) out.push({ unit, pragma: m[1]!.trim() })
  }
  return out
}

/** The newest installed compiler every pragma allows; none: an error naming the pin and the install command. */
function chooseCompiler(sources: Map<string, string>, dirs: readonly string[]): Compiler {
  const pragmas = pragmasOf(sources)
  const all = installedCompilers(dirs)
  const ok = all.filter((c) => pragmas.every((p) => satisfiesPragma(c.version, p.pragma))).sort((a, b) => cmp(parseVersion(b.version) ?? [0, 0, 0], parseVersion(a.version) ?? [0, 0, 0]))
  if (ok[0] !== undefined) return ok[0]
  const exact = pragmas.map((p) => /^=?\s*([0-9]+\.[0-9]+\.[0-9]+)$/.exec(p.pragma)?.[1]).find((v) => v !== undefined)
  const pins = [...new Set(pragmas.map((p) => `${p.pragma} (${p.unit})`))].slice(0, 6).join(', ')
  const fix = exact !== undefined ? `npm install --save-dev solc-${exact}@npm:solc@${exact}` : 'npm install --save-dev solc-X.Y.Z@npm:solc@X.Y.Z for a version every pragma allows'
  throw new CompileError(`no installed solc satisfies the sources' pragmas: ${pins}; installed: ${all.map((c) => `${c.name} ${c.version}`).join(', ') || 'none'}. Install the pinned compiler next to the sources (${fix})`)
}

async function listSolFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.sol'))
    .map((e) => join(e.parentPath, e.name))
    .sort()
}

/** Source unit name for a local file: repo-relative with forward slashes, absolute outside the repo. */
function unitName(file: string): string {
  const abs = resolve(file)
  const rel = relative(REPO_ROOT, abs)
  if (rel.startsWith('..') || isAbsolute(rel)) return abs.split(sep).join('/')
  return rel.split(sep).join('/')
}

/** Maps a source unit name to a file: repo-relative first, then a package in node_modules next to the sources, then Ark's. */
function locate(unit: string, dirs: readonly string[] = []): string {
  const local = isAbsolute(unit) ? unit : join(REPO_ROOT, unit)
  if (existsSync(local)) return local
  for (const req of [...dirs.map(requireFrom), requireFromRepo]) {
    try {
      return req.resolve(unit)
    } catch {
      // next place
    }
  }
  throw new CompileError(`cannot resolve Solidity import ${JSON.stringify(unit)} (not a file, not in node_modules next to the sources or in Ark's); install the package that provides it`)
}

const IMPORT_RE = /\bimport\s+(?:[^;"']*?)["']([^"']+)["']/g

function importsOf(content: string): string[] {
  const code = content.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '')
  return [...code.matchAll(IMPORT_RE)].map((m) => m[1]!)
}

function resolveImport(from: string, spec: string): string {
  if (spec.startsWith('./') || spec.startsWith('../')) return posix.normalize(posix.join(posix.dirname(from), spec))
  return spec
}

/** Reads the entry files and everything they import, keyed by source unit name. */
async function collectSources(entries: string[], dirs: readonly string[]): Promise<Map<string, string>> {
  const sources = new Map<string, string>()
  const queue = [...entries]
  while (queue.length > 0) {
    const unit = queue.shift()!
    if (sources.has(unit)) continue
    const content = await readFile(locate(unit, dirs), 'utf8')
    sources.set(unit, content)
    for (const spec of importsOf(content)) {
      const dep = resolveImport(unit, spec)
      if (!sources.has(dep)) queue.push(dep)
    }
  }
  return sources
}

function computeKey(solcVersion: string, settings: CompilerSettings, sources: Map<string, string>): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({ solcVersion, settings }))
  for (const name of [...sources.keys()].sort()) {
    h.update(`\0${name}\0`)
    h.update(createHash('sha256').update(sources.get(name)!).digest())
  }
  return h.digest('hex')
}

async function readCache(outDir: string, cacheKey: string): Promise<Record<string, Artifact> | undefined> {
  let manifest: Manifest
  try {
    manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Manifest
  } catch {
    return undefined
  }
  if (manifest.cacheKey !== cacheKey) return undefined
  const artifacts: Record<string, Artifact> = {}
  for (const name of manifest.contracts) {
    try {
      const a = JSON.parse(await readFile(join(outDir, `${name}.json`), 'utf8')) as Artifact
      if (a.cacheKey !== cacheKey) return undefined
      artifacts[name] = a
    } catch {
      return undefined
    }
  }
  return artifacts
}

interface SolcError { severity: 'error' | 'warning' | 'info'; formattedMessage?: string; message: string }
interface SolcOutput {
  errors?: SolcError[]
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>
}

export async function compileContracts(options: CompileOptions = {}): Promise<CompileResult> {
  const settings: CompilerSettings = {
    optimizer: { ...DEFAULT_COMPILER_SETTINGS.optimizer, ...options.settings?.optimizer },
    viaIR: options.settings?.viaIR ?? DEFAULT_COMPILER_SETTINGS.viaIR,
    evmVersion: options.settings?.evmVersion ?? DEFAULT_COMPILER_SETTINGS.evmVersion,
  }
  const listed = options.sourcesDir !== undefined ? [options.sourcesDir] : DEFAULT_SOURCES_DIRS
  const files = options.sources ?? (await Promise.all(listed.map((d) => listSolFiles(resolve(d))))).flat()
  if (files.length === 0) throw new CompileError('no Solidity sources to compile')
  const entries = files.map(unitName)
  // Directories of the sources: their imports and their pinned compiler are looked up from there.
  const dirs = [...new Set(files.map((f) => dirname(resolve(f))))]
  const outside = files.some((f) => unitName(f).startsWith('/'))
  const outDir = resolve(options.outDir ?? (outside ? externalCacheDir(dirs) : DEFAULT_OUT_DIR))
  const sources = await collectSources(entries, dirs)
  const compiler = chooseCompiler(sources, dirs)
  const solcVersion = compiler.version
  const cacheKey = computeKey(solcVersion, settings, sources)

  if (options.force !== true) {
    const cached = await readCache(outDir, cacheKey)
    if (cached !== undefined) return { artifacts: cached, cacheKey, cacheHit: true, outDir, warnings: [], compiler: compiler.name, solcVersion }
  }

  const solc = compiler.require(compiler.name) as { compile(input: string, callbacks?: object): string; version(): string }
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...sources].map(([name, content]) => [name, { content }])),
    settings: {
      optimizer: settings.optimizer,
      viaIR: settings.viaIR,
      evmVersion: settings.evmVersion,
      outputSelection: Object.fromEntries(entries.map((e) => [e, { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] }])),
    },
  }
  const findImports = (path: string): { contents: string } | { error: string } => {
    try {
      return { contents: readFileSync(locate(path, dirs), 'utf8') }
    } catch (err) {
      return { error: (err as Error).message }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as SolcOutput
  const problems = output.errors ?? []
  const errors = problems.filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new CompileError(`solc failed:\n${errors.map((e) => e.formattedMessage ?? e.message).join('\n')}`)
  const warnings = problems.filter((e) => e.severity === 'warning').map((e) => e.formattedMessage ?? e.message)

  const artifacts: Record<string, Artifact> = {}
  for (const sourceName of entries) {
    for (const [contractName, c] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      if (artifacts[contractName] !== undefined) {
        throw new CompileError(`contract name ${contractName} is defined in both ${artifacts[contractName].sourceName} and ${sourceName}`)
      }
      artifacts[contractName] = {
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        solcVersion: solc.version(),
        cacheKey,
      }
    }
  }
  const names = Object.keys(artifacts).sort()
  for (const name of names) await writeFileAtomic(join(outDir, `${name}.json`), [`${JSON.stringify(artifacts[name], null, 2)}\n`])
  const manifest: Manifest = { cacheKey, solcVersion, settings, sources: [...sources.keys()].sort(), contracts: names }
  // the manifest goes last: a crash before this leaves a cache miss, never a partial hit
  await writeFileAtomic(join(outDir, MANIFEST), [`${JSON.stringify(manifest, null, 2)}\n`])
  return { artifacts, cacheKey, cacheHit: false, outDir, warnings, compiler: compiler.name, solcVersion }
}

/** Artifacts of sources outside Ark's tree: a per-source-set directory in the user's cache, never inside Ark. */
function externalCacheDir(dirs: readonly string[]): string {
  const base = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== '' ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'ark', 'contracts', createHash('sha256').update(JSON.stringify([...dirs].sort())).digest('hex').slice(0, 16))
}

const loaded = new Map<string, Promise<CompileResult>>()

/**
 * Returns one contract's artifact, compiling first if the cache is missing or stale. The compile
 * result is memoised per process and option set.
 */
export async function loadArtifact(name: string, options: CompileOptions = {}): Promise<Artifact> {
  const memoKey = JSON.stringify(options)
  let pending = loaded.get(memoKey)
  if (pending === undefined) {
    pending = compileContracts(options)
    loaded.set(memoKey, pending)
    pending.catch(() => loaded.delete(memoKey))
  }
  const { artifacts } = await pending
  const artifact = artifacts[name]
  if (artifact === undefined) throw new CompileError(`no contract named ${name}; compiled: ${Object.keys(artifacts).join(', ')}`)
  return artifact
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      force: { type: 'boolean', default: false },
      sources: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write('usage: node node/contracts/compile.ts [--sources DIR] [--out DIR] [--force]\n')
    return 0
  }
  const started = performance.now()
  const result = await compileContracts({
    ...(values.sources !== undefined ? { sourcesDir: values.sources } : {}),
    ...(values.out !== undefined ? { outDir: values.out } : {}),
    force: values.force,
  })
  for (const w of result.warnings) process.stderr.write(`${w}\n`)
  const names = Object.keys(result.artifacts).sort()
  const ms = Math.round(performance.now() - started)
  process.stdout.write(`${result.cacheHit ? 'up to date' : 'compiled'}: ${names.join(', ')} -> ${relative(process.cwd(), result.outDir) || '.'} (${ms} ms, key ${result.cacheKey.slice(0, 12)})\n`)
  return 0
}

if (import.meta.main) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
