/**
 * Protocols pin their compiler and live outside Ark's tree (issue 12). Before the fix the pipeline
 * compiled everything with whatever `solc` Ark had, resolved imports only from Ark's tree and wrote
 * its cache into Ark's `.cache/`.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileContracts, REPO_ROOT, satisfiesPragma } from '../../node/contracts/compile.ts'

let dir: string
let cache: string
let savedXdg: string | undefined
const solcDir = dirname(createRequire(join(REPO_ROOT, 'package.json')).resolve('solc/package.json'))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ark-pinned-'))
  cache = join(dir, 'xdg-cache')
  savedXdg = process.env.XDG_CACHE_HOME
  process.env.XDG_CACHE_HOME = cache
})
afterAll(async () => {
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME
  else process.env.XDG_CACHE_HOME = savedXdg
  await rm(dir, { recursive: true, force: true })
})

describe('pinned compiler, sources outside Ark', () => {
  it('pragma matching: exact pins, caret, tilde, ranges, alternatives', () => {
    expect(satisfiesPragma('0.8.19', '0.8.19')).toBe(true)
    expect(satisfiesPragma('0.8.37', '0.8.19')).toBe(false)
    expect(satisfiesPragma('0.8.19', '=0.8.19')).toBe(true)
    expect(satisfiesPragma('0.8.37', '^0.8.10')).toBe(true)
    expect(satisfiesPragma('0.9.0', '^0.8.10')).toBe(false)
    expect(satisfiesPragma('0.8.9', '^0.8.10')).toBe(false)
    expect(satisfiesPragma('0.8.30', '>=0.8.0 <0.9.0')).toBe(true)
    expect(satisfiesPragma('0.7.6', '>=0.8.0 <0.9.0')).toBe(false)
    expect(satisfiesPragma('0.8.5', '~0.8.1')).toBe(true)
    expect(satisfiesPragma('0.7.6', '^0.6.0 || ^0.7.0')).toBe(true)
  })

  it('a source pinning a compiler that is not installed: the error names the pin and the npm alias to install; nothing is written', async () => {
    const src = join(dir, 'old')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'Old.sol'), '// SPDX-License-Identifier: MIT\npragma solidity 0.8.19;\ncontract Old { uint256 public x; }\n')
    await expect(compileContracts({ sourcesDir: src })).rejects.toThrow(/pragmas: 0\.8\.19 \(.*Old\.sol\).*npm install --save-dev solc-0\.8\.19@npm:solc@0\.8\.19/)
    expect(existsSync(cache)).toBe(false)
  })

  it('compiles with the pinned alias package next to the sources, imports from their own node_modules, caches outside Ark', async () => {
    const project = join(dir, 'protocol')
    const pinned = `solc-${(createRequire(join(REPO_ROOT, 'package.json'))('solc/package.json') as { version: string }).version}`
    await mkdir(join(project, 'contracts/lib'), { recursive: true })
    await mkdir(join(project, 'node_modules/mathlib'), { recursive: true })
    // the alias `npm install solc-X@npm:solc@X` would create: a package directory named solc-X
    await symlink(solcDir, join(project, 'node_modules', pinned), 'dir')
    await writeFile(join(project, 'node_modules/mathlib/Twice.sol'), '// SPDX-License-Identifier: MIT\npragma solidity >=0.8.0;\nlibrary Twice { function twice(uint256 a) internal pure returns (uint256) { return a * 2; } }\n')
    await writeFile(join(project, 'contracts/lib/Base.sol'), '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract Base { uint256 public total; }\n')
    await writeFile(
      join(project, 'contracts/PinnedVault.sol'),
      `// SPDX-License-Identifier: MIT\npragma solidity ${pinned.slice(5)};\nimport "./lib/Base.sol";\nimport "mathlib/Twice.sol";\ncontract PinnedVault is Base { function add(uint256 a) external { total += Twice.twice(a); } }\n`,
    )
    const r = await compileContracts({ sourcesDir: join(project, 'contracts') })
    expect(r.compiler).toBe(pinned)
    expect(r.solcVersion).toBe(pinned.slice(5))
    expect(r.artifacts.PinnedVault!.bytecode.length).toBeGreaterThan(100)
    expect(r.outDir.startsWith(join(cache, 'ark', 'contracts'))).toBe(true)
    expect(await readdir(r.outDir)).toContain('PinnedVault.json')
    expect(existsSync(join(REPO_ROOT, '.cache/contracts/PinnedVault.json'))).toBe(false)
    const again = await compileContracts({ sourcesDir: join(project, 'contracts') })
    expect(again.cacheHit).toBe(true)
  })
})
