import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
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
  /** Where artifacts go; default `<repo>/.cache/contracts`. */
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

function solcPackageVersion(): string {
  const pkgPath = requireFromRepo.resolve('solc/package.json')
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version
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

/** Maps a source unit name to a file: repo-relative first, then a package in node_modules. */
function locate(unit: string): string {
  const local = isAbsolute(unit) ? unit : join(REPO_ROOT, unit)
  if (existsSync(local)) return local
  try {
    return requireFromRepo.resolve(unit)
  } catch {
    throw new CompileError(`cannot resolve Solidity import ${JSON.stringify(unit)} (not in the repo, not in node_modules)`)
  }
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
async function collectSources(entries: string[]): Promise<Map<string, string>> {
  const sources = new Map<string, string>()
  const queue = [...entries]
  while (queue.length > 0) {
    const unit = queue.shift()!
    if (sources.has(unit)) continue
    const content = await readFile(locate(unit), 'utf8')
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
  const outDir = resolve(options.outDir ?? DEFAULT_OUT_DIR)
  const settings: CompilerSettings = {
    optimizer: { ...DEFAULT_COMPILER_SETTINGS.optimizer, ...options.settings?.optimizer },
    viaIR: options.settings?.viaIR ?? DEFAULT_COMPILER_SETTINGS.viaIR,
    evmVersion: options.settings?.evmVersion ?? DEFAULT_COMPILER_SETTINGS.evmVersion,
  }
  const dirs = options.sourcesDir !== undefined ? [options.sourcesDir] : DEFAULT_SOURCES_DIRS
  const files = options.sources ?? (await Promise.all(dirs.map((d) => listSolFiles(resolve(d))))).flat()
  if (files.length === 0) throw new CompileError('no Solidity sources to compile')
  const entries = files.map(unitName)
  const sources = await collectSources(entries)
  const solcVersion = solcPackageVersion()
  const cacheKey = computeKey(solcVersion, settings, sources)

  if (options.force !== true) {
    const cached = await readCache(outDir, cacheKey)
    if (cached !== undefined) return { artifacts: cached, cacheKey, cacheHit: true, outDir, warnings: [] }
  }

  const { default: solc } = (await import('solc')) as { default: { compile(input: string, callbacks?: object): string; version(): string } }
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
      return { contents: readFileSync(locate(path), 'utf8') }
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
  return { artifacts, cacheKey, cacheHit: false, outDir, warnings }
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
