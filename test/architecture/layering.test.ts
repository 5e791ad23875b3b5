import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * The layering rule (DESIGN.md, STANDARDS): dependencies point node/ -> protocol/, snapshot/.
 * protocol/ and snapshot/ are pure: no filesystem, sockets, HTTP servers, processes, libp2p,
 * Helia or logging, except the chain reader (snapshot/chain/), whose job is talking to an RPC.
 * Nothing outside node/ and test/ imports node/. This test reads every source file's import
 * specifiers (static and dynamic), so a new violation fails here before review.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const FORBIDDEN_IN_PURE: { pattern: RegExp; why: string }[] = [
  { pattern: /^(node:)?fs(\/promises)?$/, why: 'filesystem' },
  { pattern: /^(node:)?(net|http|https|http2|dgram|tls|child_process|cluster)$/, why: 'sockets / servers / processes' },
  { pattern: /^(libp2p|@libp2p\/|@chainsafe\/libp2p)/, why: 'libp2p' },
  { pattern: /^(helia|@helia\/|blockstore-|datastore-)/, why: 'Helia / stores' },
  { pattern: /^pino/, why: 'logging' },
]

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (/\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** Import specifiers of a module: `from '…'`, bare `import '…'`, `import('…')`, `export … from '…'`. */
export function importsOf(text: string): string[] {
  const out: string[] = []
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1]!)
  return out
}

function violations(files: string[], check: (file: string, spec: string) => string | undefined): string[] {
  const out: string[] = []
  for (const file of files) {
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const why = check(file, spec)
      if (why !== undefined) out.push(`${relative(ROOT, file)} imports ${spec}: ${why}`)
    }
  }
  return out
}

const inNode = (file: string, spec: string): boolean => spec.startsWith('.') && resolve(dirname(file), spec).startsWith(join(ROOT, 'node') + sep)

describe('layering', () => {
  it('parses the import forms the rule relies on', () => {
    expect(importsOf(`import { a } from 'x'\nimport 'y'\nexport * from "./z.ts"\nconst m = await import('node:fs')`)).toEqual(['x', 'y', './z.ts', 'node:fs'])
  })

  it('protocol/ and snapshot/ (outside the chain reader) do no I/O', () => {
    const pure = [...sources(join(ROOT, 'protocol')), ...sources(join(ROOT, 'snapshot'))].filter((f) => !f.startsWith(join(ROOT, 'snapshot', 'chain') + sep))
    expect(pure.length).toBeGreaterThan(50)
    const bad = violations(pure, (_, spec) => FORBIDDEN_IN_PURE.find((f) => f.pattern.test(spec))?.why)
    expect(bad).toEqual([])
  })

  it('the chain reader uses no filesystem, servers or libp2p either', () => {
    const chain = sources(join(ROOT, 'snapshot', 'chain'))
    const bad = violations(chain, (_, spec) => FORBIDDEN_IN_PURE.find((f) => f.why !== 'sockets / servers / processes' && f.pattern.test(spec))?.why)
    expect(bad).toEqual([])
  })

  it('nothing outside node/ and test/ imports node/', () => {
    const outside = ['protocol', 'snapshot', 'deploy'].flatMap((d) => sources(join(ROOT, d)))
    expect(violations(outside, (file, spec) => (inNode(file, spec) ? 'dependencies point node/ -> protocol/, snapshot/' : undefined))).toEqual([])
  })

  it('the check itself catches a violation', () => {
    const file = join(ROOT, 'protocol', 'x.ts')
    expect(inNode(file, '../node/archive/node.ts')).toBe(true)
    expect(FORBIDDEN_IN_PURE.some((f) => f.pattern.test('node:fs/promises'))).toBe(true)
    expect(FORBIDDEN_IN_PURE.some((f) => f.pattern.test('@libp2p/tcp'))).toBe(true)
    expect(FORBIDDEN_IN_PURE.some((f) => f.pattern.test('node:crypto'))).toBe(false)
  })
})
